"""Anomaly scores as a 0-100 percentile of the training distribution.

A raw isolation-forest score drifts with every retrain (other data, other trees), so a
threshold on it means something different each time. A percentile does not: 99 always
means "more anomalous than 99 % of the windows the model was trained on". The training
distribution is kept as a compact grid of its quantiles (1001 points by default), stored
as one plain float64 array.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from features import ModelBundleError
from models._arrays import ArraySpec, load_arrays, save_arrays

__all__ = ["PercentileScale"]

F64 = npt.NDArray[np.float64]

_SPECS = {"quantiles": ArraySpec(np.float64, 1)}


class PercentileScale:
    """Map anomaly scores (higher is more anomalous) to 0-100 against training scores.

    Build one with :meth:`from_scores`. The percentile of a score ``s`` is the share of
    the training distribution at or below ``s``, read from the quantile grid with linear
    interpolation between grid points: 0 below the smallest training score, 100 at or
    above the largest. It is monotone (non-decreasing) in ``s`` and deterministic.

    Parameters
    ----------
    quantiles : ndarray of shape (n_points,)
        Training-score quantiles at ``0, 1/(n_points-1), ..., 1``; finite, non-decreasing,
        at least 2 points.
    source : str, default="<memory>"
        Where the grid came from, for error messages.
    """

    def __init__(self, quantiles: npt.ArrayLike, *, source: str = "<memory>") -> None:
        grid = np.array(quantiles, dtype=np.float64, copy=True)
        if grid.ndim != 1 or grid.size < 2:
            raise ModelBundleError(
                source, f"quantiles: expected a 1-D grid of >= 2 points, got shape {grid.shape}"
            )
        if not np.isfinite(grid).all():
            raise ModelBundleError(source, "quantiles: expected finite values, got NaN or inf")
        if (np.diff(grid) < 0).any():
            raise ModelBundleError(source, "quantiles: expected a non-decreasing grid")
        grid.setflags(write=False)
        self.quantiles = grid

    @classmethod
    def from_scores(cls, scores: npt.ArrayLike, *, n_points: int = 1001) -> PercentileScale:
        """Summarise training anomaly scores by ``n_points`` evenly spaced quantiles."""
        values = np.asarray(scores, dtype=np.float64).ravel()
        if values.size == 0:
            raise ValueError("scores must not be empty")
        if not np.isfinite(values).all():
            raise ValueError("scores must be finite")
        if n_points < 2:
            raise ValueError(f"n_points must be >= 2, got {n_points}")
        grid = np.quantile(values, np.linspace(0.0, 1.0, n_points))
        return cls(np.maximum.accumulate(grid))  # guard the grid against rounding dips

    def percentile(self, scores: npt.ArrayLike) -> F64:
        """Percentile (0-100) of each anomaly score; NaN stays NaN."""
        s = np.asarray(scores, dtype=np.float64)
        q = self.quantiles
        last = q.size - 1
        # index i with q[i] <= s < q[i + 1]; -1 below the grid, last at or above its top
        i = np.searchsorted(q, s, side="right") - 1
        inside = (i >= 0) & (i < last)
        j = np.clip(i, 0, last - 1)
        lo, hi = q[j], q[j + 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(hi > lo, (s - lo) / (hi - lo), 0.0)
        pos = np.where(inside, j + np.clip(frac, 0.0, 1.0), np.where(i < 0, 0.0, last))
        out: F64 = np.where(np.isnan(s), np.nan, 100.0 * pos / last)
        return out

    __call__ = percentile

    def score_at(self, percentile: float) -> float:
        """Return the anomaly score at a percentile (the inverse map), e.g. for a threshold."""
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(f"percentile must be in [0, 100], got {percentile}")
        pos = percentile / 100.0 * (self.quantiles.size - 1)
        return float(np.interp(pos, np.arange(self.quantiles.size), self.quantiles))

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Return the stored layout (one array, ``quantiles``)."""
        return {"quantiles": self.quantiles.copy()}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, npt.NDArray[Any]], *, source: str = "<memory>"
    ) -> PercentileScale:
        """Build from :meth:`to_arrays` output, validating it."""
        grid = arrays.get("quantiles")
        if grid is None:
            raise ModelBundleError(source, "missing array 'quantiles'")
        if np.asarray(grid).dtype != np.float64:
            raise ModelBundleError(
                source, f"quantiles: expected dtype float64, got {np.asarray(grid).dtype}"
            )
        return cls(grid, source=source)

    def to_npz(self, path: str | os.PathLike[str]) -> str:
        """Write the grid with ``np.savez``; return the file's SHA-256."""
        return save_arrays(path, self.to_arrays())

    @classmethod
    def from_npz(
        cls, path: str | os.PathLike[str], *, sha256: str | None = None
    ) -> PercentileScale:
        """Load and validate a grid written by :meth:`to_npz`."""
        return cls.from_arrays(load_arrays(path, _SPECS, sha256=sha256), source=str(path))
