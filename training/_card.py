"""The model card (``model_card.md`` of every run): data, settings, evaluation, limits.

It says what the code does: cold-start windows are not scored by the model (score and
percentile NaN, never alerted by it); the rules and change windows still judge them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from training._evaluate import Evaluation

__all__ = ["model_card", "threshold_rationale"]

_HEADLINE = (
    "eval_pr_auc",
    "eval_roc_auc",
    "eval_precision_at_threshold",
    "eval_recall_at_threshold",
)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def threshold_rationale(
    threshold: float, training_metrics: Mapping[str, float], evaluation: Evaluation | None
) -> str:
    """Return why the alert percentile is where it is, in numbers."""
    days = training_metrics.get("baseline_days", math.nan)
    windows = training_metrics.get("windows", math.nan)
    per_day = windows / days if days and days > 0 else math.nan
    expected = per_day * (100.0 - threshold) / 100.0
    text = (
        f"The model alerts on windows at or above the p{threshold:g} of its training "
        f"windows: by construction about {100.0 - threshold:g}% of ordinary windows. With "
        f"{_fmt(per_day)} training windows a day that is about {_fmt(expected)} model alerts "
        "a day before the rules and change windows combine them into findings."
    )
    if evaluation is not None:
        measured = evaluation.metrics
        text += (
            f" On the evaluation period it raised {_fmt(measured.get('eval_alerts_per_day'))}"
            f" alerts a day ({_fmt(measured.get('eval_benign_alerts_per_day'))} "
            "without an attack). `evaluation/thresholds.json` shows the trade-off at other "
            "percentiles; choose with `--threshold`."
        )
    return text


def _evaluation_lines(evaluation: Evaluation, facts: Mapping[str, Any]) -> list[str]:
    metrics = evaluation.metrics
    lines = [
        f"{facts.get('kind', '')} evaluation, {facts.get('start', '?')} to "
        f"{facts.get('end', '?')}: {facts.get('windows', '?')} windows "
        f"({facts.get('scored_windows', '?')} scored), "
        f"{int(metrics.get('eval_positive_windows', 0))} positive windows from "
        f"{int(metrics.get('eval_scenarios_total', 0))} attack scenarios. The model's state "
        f"at the start was {facts.get('state', '?')} from the events read before it.",
        "",
        "| metric | value | 90% interval |",
        "|---|---|---|",
    ]
    for name in _HEADLINE:
        low, high = metrics.get(f"{name}_low"), metrics.get(f"{name}_high")
        interval = f"{_fmt(low)} to {_fmt(high)}" if low is not None else "-"
        lines.append(f"| `{name}` | {_fmt(metrics.get(name))} | {interval} |")
    for name in (
        "eval_alerts_per_day",
        "eval_benign_alerts_per_day",
        "eval_scenarios_detected",
        "eval_median_hours_to_detect",
        "eval_hard_negatives_flagged",
    ):
        lines.append(f"| `{name}` | {_fmt(metrics.get(name))} | |")
    lines += [
        "",
        "With so few attack scenarios the intervals are wide: one scenario more or less "
        "moves recall by a large step. Every metric: `docs/metrics.md`.",
        "",
        "### Per scenario",
        "",
        "| scenario | kind | windows | best rank | best percentile | alerted | hours to detect |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in evaluation.scenarios.to_dict("records"):
        lines.append(
            f"| {row['scenario']} | {row['kind']} | {row['windows']} | "
            f"{_fmt(row['best_rank'])} | {_fmt(row['best_percentile'])} | "
            f"{'yes' if row['detected'] else 'no'} | {_fmt(row['hours_to_detect'])} |"
        )
    return lines


def model_card(
    *,
    name: str | None,
    params: Mapping[str, Any],
    data: Mapping[str, Any],
    evaluation: Evaluation | None,
    evaluation_facts: Mapping[str, Any],
    importance: pd.DataFrame,
    warnings: Sequence[str] = (),
    rationale: str = "",
) -> str:
    """Return the model card (Markdown): data, period, settings, metrics, scenarios, limits."""
    lines = [
        f"# Model card: {name or 'changewatch detector'}",
        "",
        "Isolation forest over per-identity behavioural vectors of canonical CloudTrail",
        "change events (`features.behaviour_vectors`), scored as percentiles of the",
        "training windows, with per-feature explanations (path-length attribution).",
        "",
        "## Training data",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in data.items()]
    if warnings:
        lines += ["", "**Warnings about the training data:**", ""]
        lines += [f"- {text}" for text in warnings]
    lines += ["", "## Settings", "", "| parameter | value |", "|---|---|"]
    lines += [f"| `{k}` | {_fmt(v)} |" for k, v in params.items()]
    if rationale:
        lines += ["", "### Why this threshold", "", rationale]
    lines += ["", "## Evaluation", ""]
    if evaluation is None:
        lines.append("No labels were given: the model is not evaluated.")
    else:
        lines += _evaluation_lines(evaluation, evaluation_facts)
    lines += ["", "## What drives the top windows", ""]
    lines += ["| feature | mean attribution | split share |", "|---|---|---|"]
    lines += [
        f"| `{r['feature']}` | {_fmt(r['attribution'])} | {_fmt(r['split_share'])} |"
        for r in importance.head(10).to_dict("records")
    ]
    lines += [
        "",
        "## Limits",
        "",
        "- Unsupervised: the forest learns what is rare, not what is malicious. Rare but",
        "  legitimate work (incidents, new staff, large deploys) scores high; combine with",
        "  the change-window rules before alerting.",
        "- Identities in cold start (less than a week or three active days of history) are",
        "  not scored by the model: their windows have no score or percentile and never",
        "  raise a model alert. The rules and change windows still judge their events.",
        "- Scores are relative to the training period: retrain as the organisation",
        "  changes, and watch the drift report (population stability per feature).",
        "- Window-level figures (PR-AUC, ROC-AUC) depend on the window length: compare",
        "  models with other windows on alerts per day and scenarios caught.",
        "- Evaluation figures hold for the labelled set named above only; simulated",
        "  attacks are easier than real ones.",
        "",
    ]
    return "\n".join(lines)
