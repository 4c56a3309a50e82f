"""What an analyst reviews in the MLflow UI: score and importance plots, the top windows.

The model card is :mod:`training._card`; the evaluation tables and curves are
:mod:`training._review`.
"""

# MLflow, scikit-learn and matplotlib are imported where used, so that importing
# training (and training.simulation) stays light.

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "TOP_WINDOWS",
    "feature_importance",
    "importance_figure",
    "score_distribution_figure",
    "top_windows_table",
]

logger = logging.getLogger(__name__)

TOP_WINDOWS: Final = 50
"""Rows of the top-anomalies table."""

_ATTRIBUTION_ROWS: Final = 200


def _figure(width: float = 8.0, height: float = 4.5) -> tuple[Figure, Any]:
    # The object API renders with Agg and never touches pyplot's global backend.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots()


def score_distribution_figure(
    train_scores: Sequence[float] | np.ndarray,
    threshold_score: float,
    threshold: float,
    windows: pd.DataFrame | None = None,
) -> Figure:
    """Histogram of training scores, with evaluation windows by label and the threshold.

    Parameters
    ----------
    train_scores : array-like
        Scores of the training windows.
    threshold_score : float
        Score at the alert percentile.
    threshold : float
        The alert percentile (for the legend).
    windows : pandas.DataFrame, optional
        Evaluated windows (``score``, ``positive``, ``hard_negative``); drawn on top.
    """
    figure, axes = _figure()
    train = np.asarray(train_scores, dtype=float)
    pool = [train]
    if windows is not None and len(windows):
        pool.append(windows["score"].to_numpy(dtype=float))
    values = np.concatenate(pool)
    values = values[np.isfinite(values)]
    bins = np.linspace(values.min(), values.max(), 60) if len(values) else 10
    axes.hist(train, bins=bins, color="#9aa5b1", label=f"training windows ({len(train):,})")
    if windows is not None and len(windows):
        groups = [
            (~windows["positive"] & ~windows["hard_negative"], "#1f77b4", "benign (eval)"),
            (windows["hard_negative"], "#ff7f0e", "hard negative"),
            (windows["positive"], "#d62728", "attack"),
        ]
        for mask, colour, name in groups:
            chosen = windows.loc[mask, "score"].to_numpy(dtype=float)
            chosen = chosen[np.isfinite(chosen)]  # cold-start windows have no score
            if len(chosen):
                axes.hist(
                    chosen,
                    bins=bins,
                    histtype="step",
                    linewidth=1.6,
                    color=colour,
                    label=f"{name} ({len(chosen):,})",
                )
    axes.axvline(threshold_score, color="black", linestyle="--", label=f"threshold p{threshold:g}")
    axes.set_yscale("log")
    axes.set_xlabel("anomaly score (higher = more anomalous)")
    axes.set_ylabel("windows")
    axes.set_title("Score distribution")
    axes.legend(loc="upper right", fontsize="small")
    return figure


def feature_importance(detector: Any, windows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the importance of each feature: share of the forest's splits and mean attribution.

    ``split_share`` is the fraction of the forest's splits on the feature; ``attribution``
    the mean path-length credit (ADR 0010) over the most anomalous scored ``windows``
    (up to 200), i.e. what drives the top of the ranking.

    Parameters
    ----------
    detector : models.ChangeDetector
        A fitted detector.
    windows : pandas.DataFrame, optional
        Output of ``score_windows`` (scores and vector columns).
    """
    names = list(detector.feature_names_)
    arrays = detector.detector_.compiled_.to_arrays()
    feature = np.asarray(arrays["feature"], dtype=np.int64)
    splits = np.bincount(feature[feature >= 0], minlength=len(names)).astype(float)
    share = splits / splits.sum() if splits.sum() else splits
    attribution = np.full(len(names), math.nan)
    scored = windows[windows["score"].notna()] if windows is not None else None
    if scored is not None and len(scored):
        top = scored.nlargest(_ATTRIBUTION_ROWS, "score")
        credit = detector.detector_.attributions(detector.usual_.excess(top))
        attribution = np.asarray(credit, dtype=float).mean(axis=0)
    frame = pd.DataFrame({"feature": names, "split_share": share, "attribution": attribution})
    order = frame["attribution"].fillna(0.0) + frame["split_share"] * 1e-9
    return frame.iloc[np.argsort(-order.to_numpy(), kind="stable")].reset_index(drop=True)


def importance_figure(importance: pd.DataFrame, *, top: int = 20) -> Figure:
    """Bar charts of the top features by attribution and by split share."""
    figure, _ = _figure(11.0, 0.3 * top + 1.5)
    figure.clear()
    left, right = figure.subplots(1, 2)
    by_attr = importance.dropna(subset=["attribution"]).nlargest(top, "attribution")
    left.barh(by_attr["feature"][::-1], by_attr["attribution"][::-1], color="#d62728")
    left.set_title("Mean attribution, top windows (levels)")
    by_split = importance.nlargest(top, "split_share")
    right.barh(by_split["feature"][::-1], by_split["split_share"][::-1], color="#1f77b4")
    right.set_title("Share of forest splits")
    for axes in (left, right):
        axes.tick_params(axis="y", labelsize="small")
    return figure


def _explanation_text(explanations: Any, limit: int = 3) -> str:
    texts: list[str] = []
    for item in list(explanations if explanations is not None else [])[:limit]:
        if isinstance(item, Mapping):
            texts.append(str(item.get("text") or item.get("feature") or ""))
        else:
            texts.append(str(getattr(item, "text", item)))
    return "; ".join(t for t in texts if t)


def top_windows_table(windows: pd.DataFrame, *, n: int = TOP_WINDOWS) -> pd.DataFrame:
    """Return the ``n`` most anomalous windows, flat and readable (for ``mlflow.log_table``)."""
    top = windows[windows["score"].notna()].nlargest(n, "score")
    identity = "identity" if "identity" in top.columns else "identity_key"
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(top) + 1),
            "identity": top[identity].astype(str).to_numpy(),
            "window_start": [t.isoformat() for t in top["window_start"]],
            "window_end": [t.isoformat() for t in top["window_end"]],
            "score": top["score"].round(4).to_numpy(),
            "percentile": top["percentile"].round(2).to_numpy(),
            "cold_start": top["cold_start"].astype(bool).to_numpy(),
            "events": [len(ids) for ids in top["event_ids"]],
            "why": [_explanation_text(e) for e in top["explanations"]],
        }
    )
    for column in ("scenario", "positive", "hard_negative", "alerted"):
        if column in top.columns:
            table[column] = top[column].to_numpy()
    return table
