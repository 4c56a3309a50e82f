"""Window-level evaluation of scored windows against labelled events.

A window is *positive* when it holds at least one event labelled ``attack``; windows
holding only ``hard_negative`` events are negatives that a good detector leaves
unflagged. A window is *alerted* when its percentile reaches the threshold (cold-start
windows excepted when the detector excludes them).
"""

# MLflow, scikit-learn and matplotlib are imported where used, so that importing
# training (and training.simulation) stays light.

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from features import InputError

__all__ = ["FPR_BUDGET", "Evaluation", "evaluate_windows", "label_windows"]

logger = logging.getLogger(__name__)

FPR_BUDGET: Final = 0.01
"""False-positive rate at which recall is reported."""

_DAY_SECONDS: Final = 86_400.0


def label_windows(windows: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Add ``positive``, ``hard_negative`` and ``scenario`` columns to scored windows.

    ``scenario`` names the scenario with the most labelled events in the window
    (attacks before hard negatives); empty when the window holds no labelled event.

    Raises
    ------
    InputError
        When the windows have no ``event_ids`` column.
    """
    if "event_ids" not in windows.columns:
        raise InputError("scored windows need an 'event_ids' column to be matched to labels")
    # score_windows repeats "cold_start" (flag, then the vector's 0/1 column): keep the first
    out = windows.loc[:, ~windows.columns.duplicated()].reset_index(drop=True).copy()
    exploded = out["event_ids"].explode().dropna().astype(str)
    pairs = pd.DataFrame({"window": exploded.index.to_numpy(), "event_id": exploded.to_numpy()})
    hits = pairs.merge(labels, on="event_id", how="inner")
    out["positive"] = False
    out["hard_negative"] = False
    out["scenario"] = ""
    if len(hits):
        counts = hits.groupby(["window", "kind", "scenario"]).size().rename("n").reset_index()
        counts["attack_first"] = counts["kind"] != "attack"
        counts = counts.sort_values(["window", "attack_first", "n"], ascending=[True, True, False])
        top = counts.drop_duplicates("window").set_index("window")
        out.loc[top.index, "scenario"] = top["scenario"]
        kinds = hits.groupby("window")["kind"].agg(set)
        out.loc[kinds.index, "positive"] = kinds.map(lambda k: "attack" in k).astype(bool)
        out.loc[kinds.index, "hard_negative"] = kinds.map(lambda k: k == {"hard_negative"}).astype(
            bool
        )
    return out


def _alerted(windows: pd.DataFrame, threshold: float, exclude_cold_start: bool) -> pd.Series:
    alerted = windows["percentile"].astype(float) >= threshold
    if exclude_cold_start and "cold_start" in windows.columns:
        alerted &= ~windows["cold_start"].astype(bool)
    return alerted


def _recall_at_fpr(y: np.ndarray, score: np.ndarray, budget: float) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    allowed = fpr <= budget + 1e-12
    return float(tpr[allowed].max()) if allowed.any() else 0.0


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What a detector achieved on a labelled set of windows.

    Attributes
    ----------
    metrics : dict of str to float
        ``windows``, ``positive_windows``, ``roc_auc``, ``pr_auc``, ``recall_at_1pct_fpr``,
        ``alerts``, ``alerts_per_day``, ``precision_at_threshold``,
        ``recall_at_threshold``, ``scenarios_detected``, ``scenarios_total``,
        ``hard_negatives_flagged``, ``hard_negatives_total``. The ranking metrics are
        NaN when the set lacks positives or negatives.
    scenarios : pandas.DataFrame
        One row per labelled scenario: ``scenario``, ``kind``, ``windows``,
        ``best_rank`` (1 = the highest score of the set), ``best_score``,
        ``best_percentile``, ``detected`` (a window alerted) and ``first_alert``.
    windows : pandas.DataFrame
        The scored windows with ``positive``, ``hard_negative``, ``scenario``, ``rank``
        and ``alerted`` added.
    threshold : float
        The percentile at which a window is alerted.
    """

    metrics: dict[str, float]
    scenarios: pd.DataFrame
    windows: pd.DataFrame = field(repr=False)
    threshold: float = 99.0

    def to_json(self) -> dict[str, Any]:
        """Return metrics and scenarios as JSON-ready data (NaN becomes ``None``)."""
        metrics = {k: (None if math.isnan(v) else v) for k, v in self.metrics.items()}
        scenarios = [
            {k: _plain(v) for k, v in row.items()} for row in self.scenarios.to_dict("records")
        ]
        return {"threshold": self.threshold, "metrics": metrics, "scenarios": scenarios}


def _plain(value: Any) -> Any:
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def evaluate_windows(
    windows: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    threshold: float = 99.0,
    exclude_cold_start: bool = True,
) -> Evaluation:
    """Score a detector's windows against labelled events.

    Parameters
    ----------
    windows : pandas.DataFrame
        Output of ``ChangeDetector.score_windows`` (``score``, ``percentile``,
        ``cold_start``, ``window_start``, ``window_end``, ``event_ids``).
    labels : pandas.DataFrame
        ``event_id``, ``scenario``, ``kind`` (see :func:`training.read_labels`).
    threshold : float
        Percentile (0-100) from which a window is alerted.
    exclude_cold_start : bool
        Whether cold-start windows are never alerted.

    Returns
    -------
    Evaluation
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    scored = label_windows(windows, labels)
    scored["rank"] = scored["score"].fillna(-1.0).rank(ascending=False, method="min").astype(int)
    scored["alerted"] = _alerted(scored, threshold, exclude_cold_start)
    y = scored["positive"].to_numpy(dtype=bool)
    # unscored windows (cold start) rank below every scored one
    score = np.nan_to_num(scored["score"].to_numpy(dtype=float), nan=-1.0)
    both = 0 < y.sum() < len(y)
    alerts = int(scored["alerted"].sum())
    true_alerts = int((scored["alerted"] & scored["positive"]).sum())
    span = 0.0
    if len(scored):
        span = (scored["window_end"].max() - scored["window_start"].min()).total_seconds()
    metrics: dict[str, float] = {
        "windows": float(len(scored)),
        "positive_windows": float(y.sum()),
        "roc_auc": float(roc_auc_score(y, score)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, score)) if both else math.nan,
        "recall_at_1pct_fpr": _recall_at_fpr(y, score, FPR_BUDGET) if both else math.nan,
        "alerts": float(alerts),
        "alerts_per_day": alerts / (span / _DAY_SECONDS) if span > 0 else math.nan,
        "precision_at_threshold": true_alerts / alerts if alerts else math.nan,
        "recall_at_threshold": true_alerts / y.sum() if y.sum() else math.nan,
    }
    scenarios = _scenarios(scored, labels)
    attacks = scenarios[scenarios["kind"] == "attack"]
    negatives = scenarios[scenarios["kind"] == "hard_negative"]
    metrics["scenarios_total"] = float(len(attacks))
    metrics["scenarios_detected"] = float(attacks["detected"].sum())
    metrics["hard_negatives_total"] = float(len(negatives))
    metrics["hard_negatives_flagged"] = float(negatives["detected"].sum())
    return Evaluation(metrics, scenarios, scored, threshold)


def _scenarios(scored: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    exploded = scored["event_ids"].explode().dropna().astype(str)
    pairs = pd.DataFrame({"window": exploded.index.to_numpy(), "event_id": exploded.to_numpy()})
    hits = pairs.merge(labels, on="event_id", how="inner")
    rows: list[dict[str, Any]] = []
    kinds = labels.drop_duplicates("scenario").set_index("scenario")["kind"]
    for scenario, kind in kinds.items():
        mine = scored.loc[hits.loc[hits["scenario"] == scenario, "window"].unique()]
        alerted = mine[mine["alerted"]]
        rows.append(
            {
                "scenario": str(scenario),
                "kind": str(kind),
                "labelled_events": int((labels["scenario"] == scenario).sum()),
                "windows": len(mine),
                "best_rank": int(mine["rank"].min()) if len(mine) else None,
                "best_score": float(mine["score"].max())
                if mine["score"].notna().any()
                else math.nan,
                "best_percentile": (
                    float(mine["percentile"].max())
                    if mine["percentile"].notna().any()
                    else math.nan
                ),
                "detected": bool(len(alerted)),
                "first_alert": alerted["window_start"].min() if len(alerted) else None,
            }
        )
    columns = [
        "scenario",
        "kind",
        "labelled_events",
        "windows",
        "best_rank",
        "best_score",
        "best_percentile",
        "detected",
        "first_alert",
    ]
    return pd.DataFrame(rows, columns=columns)
