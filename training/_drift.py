"""Drift between two training sets: population stability index (PSI) per feature.

Bins are fitted on the reference (the previous model's training vectors) so that a
shift nobody would call drift does not move mass across an edge:

* a **discrete** feature (at most ``bins`` distinct values: counts, flags) gets one bin
  per value, edges halfway between neighbouring values;
* any other feature gets the deciles of the reference as candidate edges, each moved
  off the values themselves to the midpoint of the gap after the largest reference
  value below it, and dropped when closer than ``(q95 - q5) / (2 * bins)`` to the
  previous edge. Features whose values are many close atoms (a rarity that is
  ``-log2`` of a count ratio: 3.503 becomes 3.459 when one more identity was seen) and
  heavy-tailed counts with a mass at zero thus get bins as wide as their spread
  warrants, not ten slivers of one dense cluster.

Values outside the reference range fall in the outer bins. Empty bins are floored at
1e-4 so the index stays finite. Usual reading: below 0.1 stable, 0.1-0.25 moderate,
above 0.25 a major shift.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

__all__ = ["MAJOR_PSI", "MODERATE_PSI", "drift_report", "population_stability", "psi_edges"]

logger = logging.getLogger(__name__)

MODERATE_PSI: Final = 0.1
MAJOR_PSI: Final = 0.25
_FLOOR: Final = 1e-4


def psi_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Return the inner bin edges fitted on ``reference`` (no NaN), ascending.

    See the module docstring: one bin per value for discrete features, else deciles
    moved into the gaps between values and kept at least a minimum width apart.
    """
    distinct = np.unique(reference)
    if len(distinct) <= bins:
        midpoints: np.ndarray = (distinct[:-1] + distinct[1:]) / 2.0
        return midpoints
    low, high = np.quantile(reference, [0.05, 0.95])
    width = (high - low) / (2.0 * bins)
    kept: list[float] = []
    for candidate in np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]):
        after = int(np.searchsorted(distinct, candidate, side="right"))
        if after >= len(distinct):
            continue
        edge = float((distinct[after - 1] + distinct[after]) / 2.0)
        if kept and edge - kept[-1] < width:
            continue
        kept.append(edge)
    return np.asarray(kept, dtype=float)


def population_stability(reference: np.ndarray, current: np.ndarray, *, bins: int = 10) -> float:
    """Return the PSI of ``current`` against ``reference`` (NaNs ignored).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=5000)
    >>> population_stability(a, rng.normal(size=5000)) < 0.02
    True
    >>> population_stability(a, rng.normal(1.0, size=5000)) > 0.25
    True
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref = ref[~np.isnan(ref)]
    cur = cur[~np.isnan(cur)]
    if not len(ref) or not len(cur):
        return float("nan")
    inner = psi_edges(ref, bins)
    ref_counts = np.bincount(np.searchsorted(inner, ref), minlength=len(inner) + 1)
    cur_counts = np.bincount(np.searchsorted(inner, cur), minlength=len(inner) + 1)
    expected = np.maximum(ref_counts / len(ref), _FLOOR)
    actual = np.maximum(cur_counts / len(cur), _FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift_report(
    reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str]
) -> pd.DataFrame:
    """PSI, means and verdict per feature, most drifted first.

    Features missing from either table are reported with ``status`` ``"missing"``.
    """
    rows = []
    for name in features:
        if name not in reference.columns or name not in current.columns:
            rows.append(
                {"feature": name, "psi": np.nan, "reference_mean": np.nan,
                 "current_mean": np.nan, "status": "missing"}
            )  # fmt: skip
            continue
        ref = reference[name].to_numpy(dtype=float)
        cur = current[name].to_numpy(dtype=float)
        psi = population_stability(ref, cur)
        status = "major" if psi > MAJOR_PSI else "moderate" if psi > MODERATE_PSI else "stable"
        rows.append(
            {
                "feature": name,
                "psi": psi,
                "reference_mean": float(np.nanmean(ref)) if len(ref) else np.nan,
                "current_mean": float(np.nanmean(cur)) if len(cur) else np.nan,
                "status": status if not np.isnan(psi) else "empty",
            }
        )
    frame = pd.DataFrame(
        rows, columns=["feature", "psi", "reference_mean", "current_mean", "status"]
    )
    return frame.sort_values("psi", ascending=False, na_position="last").reset_index(drop=True)
