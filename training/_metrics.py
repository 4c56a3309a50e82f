"""Every metric a training run logs, with its meaning: the one list (``docs/metrics.md``).

A metric has one name everywhere: in the run, in ``promote --metric``, in the
``promotion.*`` tags, in ``changewatch evaluate``'s JSON and in
:attr:`training.Evaluation.metrics`. ``docs/metrics.md`` is generated from
:data:`METRICS` by :func:`metrics_markdown`; a test checks that every metric a run
logs is listed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from features import ConfigurationError

__all__ = [
    "METRICS",
    "PROMOTION_METRICS",
    "MetricSpec",
    "canonical_metric",
    "metric_spec",
    "metrics_markdown",
]

Direction = Literal["higher", "lower", ""]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric (or a family of per-scenario metrics when ``name`` holds ``<scenario>``).

    Attributes
    ----------
    name : str
        The logged name.
    family : str
        Section of ``docs/metrics.md``: ``training``, ``baseline``, ``ranking``,
        ``threshold``, ``budget``, ``scenarios``, ``intervals``, ``comparison``, ``drift``.
    meaning : str
        What it measures, in one or two sentences.
    direction : {"higher", "lower", ""}
        Which way is better; empty for descriptive counts.
    window_invariant : bool
        Comparable between models with different window lengths (counts per day,
        scenarios, hours). Window-level ranking metrics are not: a 2h window holds what
        two 1h windows hold, so the positives' share, and PR-AUC with it, changes.
    floor : float or None
        Least value a model must reach to become the first champion (and to be
        promoted at all) when promotion compares on this metric.
    promotable : bool
        Whether ``promote --metric`` may compare on it.
    """

    name: str
    family: str
    meaning: str
    direction: Direction = ""
    window_invariant: bool = False
    floor: float | None = None
    promotable: bool = False

    def pattern(self) -> re.Pattern[str]:
        """Return a regular expression matching the logged names this entry covers."""
        escaped = re.escape(self.name).replace(re.escape("<scenario>"), r"[^.]+")
        return re.compile(f"^{escaped}$")


_S = MetricSpec

METRICS: Final = (
    # training: what the model was fitted on
    _S("events", "training", "Canonical events in the training period."),
    _S("identities", "training", "Distinct identities in the training period."),
    _S("windows", "training", "Windows the forest was fitted on (cold-start windows excluded)."),
    _S("baseline_days", "training", "Days from the first to the last training window."),
    _S("fit_seconds", "training", "Wall time of `ChangeDetector.fit` (featurise and fit)."),
    _S("threshold_score", "training", "Anomaly score at the alert percentile of training."),
    _S("score_p50", "training", "Median anomaly score of the training windows."),
    _S("score_p90", "training", "90th percentile of the training scores."),
    _S("score_p99", "training", "99th percentile of the training scores."),
    _S("score_p99.9", "training", "99.9th percentile of the training scores."),
    _S("score_max", "training", "Highest training score."),
    _S(
        "train_labelled_attack_events",
        "baseline",
        "Events labelled `attack` inside the training period: trained on as normal unless "
        "`--exclude-labelled` dropped them (then they are counted and excluded).",
        "lower",
    ),
    _S(
        "baseline_short",
        "baseline",
        "1 when the baseline is short (too few windows, identities or days; see the "
        "`baseline.warning` tag), else 0.",
        "lower",
    ),
    # ranking: window level, threshold-free
    _S("eval_windows", "ranking", "Windows of the evaluation period (scored or not)."),
    _S(
        "eval_scored_windows",
        "ranking",
        "Evaluation windows the model scored (cold-start windows are not scored).",
    ),
    _S(
        "eval_positive_windows",
        "ranking",
        "Evaluation windows holding at least one event labelled `attack`.",
    ),
    _S(
        "eval_roc_auc",
        "ranking",
        "Area under the ROC curve over the evaluation windows; unscored windows rank last. "
        "NaN without both positives and negatives.",
        "higher",
        floor=0.75,
        promotable=True,
    ),
    _S(
        "eval_pr_auc",
        "ranking",
        "Average precision over the evaluation windows (the default promotion metric: "
        "attacks are rare, so precision matters). Depends on the window length.",
        "higher",
        floor=0.2,
        promotable=True,
    ),
    _S(
        "eval_recall_at_1pct_fpr",
        "ranking",
        "Share of positive windows ranked above all but 1% of the negative windows.",
        "higher",
        floor=0.3,
        promotable=True,
    ),
    # threshold: what the analyst sees at the model's alert percentile
    _S("eval_alerts", "threshold", "Windows at or above the alert percentile."),
    _S(
        "eval_alerts_per_day",
        "threshold",
        "Alerted windows per day of the evaluation period (the analyst's load).",
        "lower",
        window_invariant=True,
    ),
    _S(
        "eval_benign_alerts_per_day",
        "threshold",
        "Alerted windows holding no labelled attack, per day (false alarms).",
        "lower",
        window_invariant=True,
        promotable=True,
    ),
    _S(
        "eval_precision_at_threshold",
        "threshold",
        "Share of alerted windows that hold an attack.",
        "higher",
    ),
    _S(
        "eval_recall_at_threshold",
        "threshold",
        "Share of positive windows that are alerted.",
        "higher",
    ),
    _S("eval_true_positives", "threshold", "Alerted positive windows (confusion matrix)."),
    _S("eval_false_positives", "threshold", "Alerted negative windows (confusion matrix)."),
    _S("eval_false_negatives", "threshold", "Positive windows not alerted (confusion matrix)."),
    _S("eval_true_negatives", "threshold", "Negative windows not alerted (confusion matrix)."),
    # alert budget: the evaluated events scored into findings (rules, model, policy) and judged
    _S(
        "eval_benign_medium_plus_per_day",
        "budget",
        "Findings at medium or higher holding no labelled attack event, per day of the "
        "evaluation period: what the analyst is asked to read for nothing (the headline of "
        "the alert budget; goal at most 2). Scored as `changewatch score` does: rules, the "
        "model, the earlier events as history, the `--windows` policy.",
        "lower",
        window_invariant=True,
        promotable=True,
    ),
    _S(
        "eval_findings_scenarios_caught",
        "budget",
        "Attack scenarios with an event in a finding at medium or higher.",
        "higher",
        window_invariant=True,
        floor=1.0,
        promotable=True,
    ),
    _S("eval_findings_scenarios_total", "budget", "Attack scenarios among the evaluated events."),
    _S(
        "eval_findings_hard_negatives_flagged",
        "budget",
        "Hard-negative cases (benign but unusual, `kind != attack`) that a benign medium+ "
        "finding flags (at least half its events are the case's).",
        "lower",
        window_invariant=True,
    ),
    _S(
        "eval_findings_hard_negatives_total",
        "budget",
        "Hard-negative cases among the evaluated events.",
    ),
    _S(
        "eval_benign_info_per_day",
        "budget",
        "Benign findings of severity info per day.",
        "lower",
        window_invariant=True,
    ),
    _S(
        "eval_benign_low_per_day",
        "budget",
        "Benign findings of severity low per day.",
        "lower",
        window_invariant=True,
    ),
    _S(
        "eval_benign_medium_per_day",
        "budget",
        "Benign findings of severity medium per day.",
        "lower",
        window_invariant=True,
    ),
    _S(
        "eval_benign_high_per_day",
        "budget",
        "Benign findings of severity high per day.",
        "lower",
        window_invariant=True,
    ),
    _S(
        "eval_benign_critical_per_day",
        "budget",
        "Benign findings of severity critical per day.",
        "lower",
        window_invariant=True,
    ),
    _S(
        "eval_benign_medium_plus_person_per_day",
        "budget",
        "Benign medium+ findings per day whose identity is a person "
        "(`models.scoring.identity_kind`).",
        "lower",
        window_invariant=True,
    ),
    _S(
        "eval_benign_medium_plus_automation_per_day",
        "budget",
        "Benign medium+ findings per day whose identity is a automation "
        "(`models.scoring.identity_kind`).",
        "lower",
        window_invariant=True,
    ),
    _S(
        "eval_benign_medium_plus_service_per_day",
        "budget",
        "Benign medium+ findings per day whose identity is a service "
        "(`models.scoring.identity_kind`).",
        "lower",
        window_invariant=True,
    ),
    # scenarios: labelled scenarios present in the evaluated events only
    _S(
        "eval_scenarios_total",
        "scenarios",
        "Attack scenarios with at least one labelled event among the evaluated events.",
    ),
    _S(
        "eval_scenarios_detected",
        "scenarios",
        "Attack scenarios with at least one alerted window.",
        "higher",
        window_invariant=True,
        floor=1.0,
        promotable=True,
    ),
    _S(
        "eval_scenario_recall",
        "scenarios",
        "`eval_scenarios_detected / eval_scenarios_total`.",
        "higher",
        window_invariant=True,
        floor=0.5,
        promotable=True,
    ),
    _S(
        "eval_median_hours_to_detect",
        "scenarios",
        "Median over detected scenarios of the hours from the first labelled attack event "
        "to the end of the first alerted window holding one of its events.",
        "lower",
        window_invariant=True,
        promotable=True,
    ),
    _S(
        "eval_hard_negatives_total",
        "scenarios",
        "Hard-negative scenarios (labelled benign look-alikes) among the evaluated events.",
    ),
    _S(
        "eval_hard_negatives_flagged",
        "scenarios",
        "Hard-negative scenarios with at least one alerted window (false alarms).",
        "lower",
        window_invariant=True,
    ),
    _S(
        "scenario.<scenario>.detected",
        "scenarios",
        "Per attack scenario: 1 when one of its windows is alerted.",
        "higher",
    ),
    _S(
        "scenario.<scenario>.flagged",
        "scenarios",
        "Per hard-negative scenario: 1 when one of its windows is alerted (a false alarm).",
        "lower",
    ),
    _S(
        "scenario.<scenario>.best_percentile",
        "scenarios",
        "Per scenario: highest percentile among its windows.",
    ),
    _S(
        "scenario.<scenario>.hours_to_detect",
        "scenarios",
        "Per detected attack scenario: hours from its first event to its first alert.",
        "lower",
    ),
    # intervals: bootstrap over scenarios (positives) and identities (negatives)
    *(
        _S(
            f"{name}_{bound}",
            "intervals",
            f"{'Lower' if bound == 'low' else 'Upper'} end of the 90% bootstrap interval of "
            f"`{name}` (resampling attack scenarios and identities, not single windows).",
        )
        for name in (
            "eval_pr_auc",
            "eval_roc_auc",
            "eval_precision_at_threshold",
            "eval_recall_at_threshold",
        )
        for bound in ("low", "high")
    ),
    # comparison: the champion on the same windows (logged on the challenger's run)
    _S(
        "champion_<metric>",
        "comparison",
        "The champion's value of `<metric>` on the challenger's evaluation period, scored "
        "with the same events (see `evaluation/comparison.json`).",
    ),
    # drift
    _S(
        "drift_max_psi",
        "drift",
        "Largest population stability index of a feature between the champion's and this "
        "run's training vectors (< 0.1 stable, 0.1-0.25 moderate, > 0.25 major).",
        "lower",
    ),
    _S("drift_major_features", "drift", "Features with a PSI above 0.25.", "lower"),
)
"""Every metric of a run, in the order of ``docs/metrics.md``."""

PROMOTION_METRICS: Final = tuple(s.name for s in METRICS if s.promotable)
"""Metrics ``promote`` may compare on (their direction says which way is better)."""

_BY_NAME: Final = {s.name: s for s in METRICS}

_FAMILIES: Final = {
    "training": "What the model was fitted on.",
    "baseline": "Warnings about the training data (also in the run's tags and model card).",
    "ranking": "Window level, independent of the threshold. A window is *positive* when it "
    "holds an event labelled `attack`; windows holding only `hard_negative` events are "
    "negatives. Not comparable across window lengths.",
    "threshold": "At the model's alert percentile (`threshold` parameter, p99 by default).",
    "budget": "The alert budget: the evaluated events scored into findings as `changewatch "
    "score` does (rules, the model, the earlier events as history, the `--windows` change "
    "policy) and judged against the labels (`models.scoring.alert_budget`, ADR 0021).",
    "scenarios": "Per labelled scenario; only scenarios with labelled events among the "
    "evaluated events count.",
    "intervals": "Uncertainty of the headline figures: with ten attack scenarios a single "
    "missed one moves recall by 0.1.",
    "comparison": "The champion scored on the challenger's evaluation period.",
    "drift": "Logged by `retrain` against the champion's training vectors.",
}


def metric_spec(name: str) -> MetricSpec | None:
    """Return the catalogue entry covering the logged name ``name`` (patterns included)."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith("champion_"):
        return _BY_NAME["champion_<metric>"] if metric_spec(name[9:]) else None
    for spec in METRICS:
        if "<" in spec.name and spec.pattern().match(name):
            return spec
    return None


def canonical_metric(name: str) -> str:
    """Return the logged name of a promotion metric; ``pr_auc`` is read as ``eval_pr_auc``.

    Raises
    ------
    ConfigurationError
        When the name is not a promotion metric.
    """
    chosen = name if name.startswith("eval_") else f"eval_{name}"
    if chosen not in PROMOTION_METRICS:
        raise ConfigurationError(
            f"metric must be one of {', '.join(PROMOTION_METRICS)}, got {name!r}"
        )
    return chosen


def metrics_markdown() -> str:
    """Return ``docs/metrics.md``: every metric of a run, by family."""
    lines = [
        "# Metrics of a training run",
        "",
        "<!-- Generated from training/_metrics.py by training.metrics_markdown(); "
        "do not edit by hand. -->",
        "",
        "Every metric has one name: in the MLflow run, in `promote --metric`, in the "
        "`promotion.*` tags and in `changewatch evaluate`'s JSON. *Better* says which way "
        "a promotion compares; *any window* marks the metrics comparable between models with "
        "different window lengths (`promote` compares on those when the windows differ); "
        "*floor* is the least value the first champion needs when promotion uses that metric.",
    ]
    family = ""
    for spec in METRICS:
        if spec.family != family:
            family = spec.family
            lines += [
                "",
                f"## {family.capitalize()}",
                "",
                _FAMILIES[family],
                "",
                "| metric | meaning | better | any window | floor |",
                "| --- | --- | --- | --- | --- |",
            ]
        floor = "" if spec.floor is None else f"{spec.floor:g}"
        lines.append(
            f"| `{spec.name}` | {spec.meaning} | {spec.direction} | "
            f"{'yes' if spec.window_invariant else ''} | {floor} |"
        )
    return "\n".join(lines) + "\n"
