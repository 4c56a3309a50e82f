"""Evaluation of scored windows against labelled events, by pluggable metric families.

A window is *positive* when it holds at least one event labelled ``attack``; windows
holding only ``hard_negative`` events are negatives that a good detector leaves
unflagged. A window is *alerted* when its percentile reaches the threshold (unscored
windows, cold start, never are).

:func:`evaluate_windows` labels and ranks the windows, builds the per-scenario table
and hands an :class:`EvaluationInput` to each *metric family*: a function returning a
dict of metrics named as in :data:`training.METRICS`. The families here are window
ranking, the threshold (confusion matrix, alerts per day), scenarios (caught, hours to
detect) and bootstrap intervals; another family (say findings-level alert budgets from
the scoring core) is one more function in ``families``.
"""

# scikit-learn is imported where used, so that importing training stays light.

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from features import InputError
from training._bootstrap import bootstrap_intervals
from training._budget import alert_budget_metrics
from training._scenarios import scenario_table

__all__ = [
    "DEFAULT_FAMILIES",
    "FPR_BUDGET",
    "Evaluation",
    "EvaluationInput",
    "MetricFamily",
    "alerted",
    "at_threshold",
    "evaluate_windows",
    "label_windows",
    "ranking_metrics",
    "scenario_metrics",
    "threshold_metrics",
]

logger = logging.getLogger(__name__)

FPR_BUDGET: Final = 0.01
"""False-positive rate at which recall is reported."""

_DAY: Final = pd.Timedelta(days=1)


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
    hits = _window_hits(out, labels)
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


def _window_hits(windows: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Return ``window`` (row position), ``event_id``, ``scenario``, ``kind`` per labelled hit."""
    exploded = windows["event_ids"].explode().dropna().astype(str)
    pairs = pd.DataFrame({"window": exploded.index.to_numpy(), "event_id": exploded.to_numpy()})
    return pairs.merge(labels[["event_id", "scenario", "kind"]], on="event_id", how="inner")


def alerted(windows: pd.DataFrame, threshold: float) -> pd.Series:
    """Return which windows alert: percentile at or above ``threshold`` (NaN never does).

    The pyfunc's ``alert`` column applies the same rule (a test holds them equal).
    """
    return windows["percentile"].astype(float) >= threshold


@dataclass(frozen=True, slots=True)
class EvaluationInput:
    """What a metric family reads.

    Attributes
    ----------
    windows : pandas.DataFrame
        Scored windows with ``positive``, ``hard_negative``, ``scenario``, ``rank`` and
        ``alerted``.
    labels : pandas.DataFrame
        The labels of the evaluated events only.
    scenarios : pandas.DataFrame
        One row per labelled scenario among the evaluated events (see :class:`Evaluation`).
    threshold : float
        The alert percentile.
    days : float
        Length of the evaluation period in days (the denominator of "per day").
    events : pandas.DataFrame or None
        The evaluated canonical events, when the caller has them.
    detector : object or None
        The scored model, when the caller has it.
    context : pandas.DataFrame or None
        Events before the evaluated ones (the rules' history), when the caller has them.
    policy : models.scoring.Policy or None
        The change policy the findings are judged with (``--windows``).
    event_labels : pandas.DataFrame or None
        The labels of every evaluated event (``labels`` keeps those of scored windows).
    """

    windows: pd.DataFrame
    labels: pd.DataFrame
    scenarios: pd.DataFrame
    threshold: float
    days: float
    events: pd.DataFrame | None = None
    detector: Any = None
    context: pd.DataFrame | None = None
    policy: Any = None
    event_labels: pd.DataFrame | None = None


MetricFamily = Callable[[EvaluationInput], dict[str, float]]
"""A function from an :class:`EvaluationInput` to metrics named as in the catalogue."""


def ranking_metrics(data: EvaluationInput) -> dict[str, float]:
    """Window counts, ROC-AUC, PR-AUC and recall at 1% FPR (NaN without both classes)."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    windows = data.windows
    y = windows["positive"].to_numpy(dtype=bool)
    # unscored windows (cold start) rank below every scored one
    score = np.nan_to_num(windows["score"].to_numpy(dtype=float), nan=-1.0)
    both = 0 < y.sum() < len(y)
    recall = math.nan
    if both:
        fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
        allowed = fpr <= FPR_BUDGET + 1e-12
        recall = float(tpr[allowed].max()) if allowed.any() else 0.0
    return {
        "eval_windows": float(len(windows)),
        "eval_scored_windows": float(windows["score"].notna().sum()),
        "eval_positive_windows": float(y.sum()),
        "eval_roc_auc": float(roc_auc_score(y, score)) if both else math.nan,
        "eval_pr_auc": float(average_precision_score(y, score)) if both else math.nan,
        "eval_recall_at_1pct_fpr": recall,
    }


def threshold_metrics(data: EvaluationInput) -> dict[str, float]:
    """Return the confusion matrix at the threshold, alerts per day, precision, recall."""
    windows = data.windows
    alert = windows["alerted"].to_numpy(dtype=bool)
    positive = windows["positive"].to_numpy(dtype=bool)
    tp = int((alert & positive).sum())
    fp = int((alert & ~positive).sum())
    fn = int((~alert & positive).sum())
    days = data.days if data.days > 0 else math.nan
    return {
        "eval_alerts": float(tp + fp),
        "eval_alerts_per_day": (tp + fp) / days,
        "eval_benign_alerts_per_day": fp / days,
        "eval_precision_at_threshold": tp / (tp + fp) if tp + fp else math.nan,
        "eval_recall_at_threshold": tp / (tp + fn) if tp + fn else math.nan,
        "eval_true_positives": float(tp),
        "eval_false_positives": float(fp),
        "eval_false_negatives": float(fn),
        "eval_true_negatives": float(len(windows) - tp - fp - fn),
    }


def scenario_metrics(data: EvaluationInput) -> dict[str, float]:
    """Scenarios caught and hours to detect; hard negatives flagged; per-scenario figures."""
    table = data.scenarios
    attacks = table[table["kind"] == "attack"]
    negatives = table[table["kind"] == "hard_negative"]
    hours = attacks["hours_to_detect"].dropna()
    out: dict[str, float] = {
        "eval_scenarios_total": float(len(attacks)),
        "eval_scenarios_detected": float(attacks["detected"].sum()),
        "eval_scenario_recall": (float(attacks["detected"].mean()) if len(attacks) else math.nan),
        "eval_median_hours_to_detect": float(hours.median()) if len(hours) else math.nan,
        "eval_hard_negatives_total": float(len(negatives)),
        "eval_hard_negatives_flagged": float(negatives["detected"].sum()),
    }
    for row in table.to_dict("records"):
        name = f"scenario.{row['scenario']}"
        verdict = "detected" if row["kind"] == "attack" else "flagged"
        out[f"{name}.{verdict}"] = 1.0 if row["detected"] else 0.0
        if not math.isnan(row["best_percentile"]):
            out[f"{name}.best_percentile"] = float(row["best_percentile"])
        if not math.isnan(row["hours_to_detect"]):
            out[f"{name}.hours_to_detect"] = float(row["hours_to_detect"])
    return out


def interval_metrics(data: EvaluationInput) -> dict[str, float]:
    """90% bootstrap intervals of the headline figures (see :mod:`training._bootstrap`)."""
    return bootstrap_intervals(data.windows)


DEFAULT_FAMILIES: Final[tuple[MetricFamily, ...]] = (
    ranking_metrics,
    threshold_metrics,
    scenario_metrics,
    interval_metrics,
    alert_budget_metrics,
)
"""The families every evaluation computes, in order."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What a detector achieved on a labelled set of windows.

    Attributes
    ----------
    metrics : dict of str to float
        Named as in :data:`training.METRICS` (``eval_pr_auc``, ``eval_alerts_per_day``,
        ``scenario.<name>.detected``, ...). NaN when undefined (no positives).
    scenarios : pandas.DataFrame
        One row per labelled scenario among the evaluated events: ``scenario``,
        ``kind``, ``labelled_events``, ``windows``, ``best_rank`` (1 = the highest score
        of the set), ``best_score``, ``best_percentile``, ``detected`` (a window
        alerted), ``first_event``, ``first_alert`` and ``hours_to_detect``.
    windows : pandas.DataFrame
        The scored windows with ``positive``, ``hard_negative``, ``scenario``, ``rank``
        and ``alerted`` added.
    threshold : float
        The percentile at which a window is alerted.
    period : tuple of pandas.Timestamp or None
        ``[start, end)`` of the evaluation period when known.
    labels : pandas.DataFrame
        The labels of the evaluated events.
    """

    metrics: dict[str, float]
    scenarios: pd.DataFrame
    windows: pd.DataFrame = field(repr=False)
    threshold: float = 99.0
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None
    labels: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def value(self, metric: str) -> float | None:
        """Return one metric, ``None`` when missing or NaN."""
        value = self.metrics.get(metric, math.nan)
        return None if math.isnan(value) else float(value)

    def to_json(self) -> dict[str, Any]:
        """Return metrics and scenarios as JSON-ready data (NaN becomes ``None``)."""
        metrics = {k: (None if math.isnan(v) else v) for k, v in self.metrics.items()}
        scenarios = [
            {k: _plain(v) for k, v in row.items()} for row in self.scenarios.to_dict("records")
        ]
        data: dict[str, Any] = {"threshold": self.threshold}
        if self.period is not None:
            data["period"] = {"start": _plain(self.period[0]), "end": _plain(self.period[1])}
        return {**data, "metrics": metrics, "scenarios": scenarios}


def _plain(value: Any) -> Any:
    if value is pd.NaT or value is None:
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
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    events: pd.DataFrame | None = None,
    detector: Any = None,
    context: pd.DataFrame | None = None,
    policy: Any = None,
    families: Sequence[MetricFamily] = DEFAULT_FAMILIES,
) -> Evaluation:
    """Score a detector's windows against labelled events.

    Parameters
    ----------
    windows : pandas.DataFrame
        Output of ``ChangeDetector.score_windows`` (``score``, ``percentile``,
        ``cold_start``, ``window_start``, ``window_end``, ``event_ids``).
    labels : pandas.DataFrame
        ``event_id``, ``scenario``, ``kind`` (see :func:`training.read_labels`); only the
        labels of events in ``windows`` count.
    threshold : float
        Percentile (0-100) from which a window is alerted.
    period : tuple of Timestamp, optional
        ``[start, end)`` of the evaluation; default the span of the windows.
    events : pandas.DataFrame, optional
        The evaluated events: times of first attack events (else window starts).
    detector : object, optional
        Passed on to the families.
    context : pandas.DataFrame, optional
        Events before ``events``: the rules' history when findings are judged.
    policy : models.scoring.Policy, optional
        The change policy findings are judged with.
    families : sequence of MetricFamily
        Metric families to compute (default :data:`DEFAULT_FAMILIES`).

    Returns
    -------
    Evaluation
    """
    scored = label_windows(windows, labels)
    scored["rank"] = scored["score"].fillna(-1.0).rank(ascending=False, method="min").astype(int)
    scored["alerted"] = alerted(scored, threshold)
    hits = _window_hits(scored, labels)
    evaluated = labels[labels["event_id"].isin(hits["event_id"])]
    if period is None and len(scored):
        period = (scored["window_start"].min(), scored["window_end"].max())
    days = (period[1] - period[0]) / _DAY if period is not None else 0.0
    data = EvaluationInput(
        windows=scored,
        labels=evaluated.reset_index(drop=True),
        scenarios=scenario_table(scored, hits, evaluated, events),
        threshold=threshold,
        days=float(days),
        events=events,
        detector=detector,
        context=context,
        policy=policy,
        event_labels=(
            labels[labels["event_id"].isin(events["event_id"])].reset_index(drop=True)
            if events is not None
            else None
        ),
    )
    metrics: dict[str, float] = {}
    for family in families:
        metrics.update(family(data))
    _bracket_estimates(metrics)
    return Evaluation(metrics, data.scenarios, scored, threshold, period, data.labels)


def _bracket_estimates(metrics: dict[str, float]) -> None:
    """Make every ``<m>_low``/``<m>_high`` interval contain its estimate ``<m>``.

    Rounding can leave a bootstrap end a hair past a point estimate computed another way.
    """
    for name, value in list(metrics.items()):
        low, high = metrics.get(f"{name}_low"), metrics.get(f"{name}_high")
        if low is not None and value == value and low > value:  # noqa: PLR0124 - NaN
            metrics[f"{name}_low"] = value
        if high is not None and value == value and high < value:  # noqa: PLR0124 - NaN
            metrics[f"{name}_high"] = value


def at_threshold(evaluation: Evaluation, threshold: float) -> dict[str, float]:
    """Return the threshold and scenario metrics the same windows give at another percentile.

    What the reviewer's threshold table lists (alerts per day, precision, recall,
    scenarios caught at p95, p99, p99.9 ...): the same families, re-run.
    """
    windows = evaluation.windows.copy()
    windows["alerted"] = alerted(windows, threshold)
    labels = evaluation.labels
    hits = _window_hits(windows, labels)
    evaluated = labels[labels["event_id"].isin(hits["event_id"])]
    period = evaluation.period
    days = (period[1] - period[0]) / _DAY if period is not None else 0.0
    data = EvaluationInput(
        windows=windows,
        labels=evaluated,
        scenarios=scenario_table(windows, hits, evaluated),
        threshold=threshold,
        days=float(days),
    )
    return {**threshold_metrics(data), **scenario_metrics(data)}
