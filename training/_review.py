"""The reviewer's pack: what a data scientist reads in a run before trusting the model.

Tables (logged with ``mlflow.log_table``, shown as tables in the run's artifacts):
the confusion matrix at the threshold, the threshold trade-off (alerts per day,
precision, recall and scenarios caught at p90 ... p99.9), false positives per identity,
the bootstrap intervals. Figures: the confusion matrix, the PR and the ROC curves (with
the champion's on the same windows when the run compared them).
"""

# scikit-learn and matplotlib are imported where used, so that importing training stays light.

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from training._evaluate import Evaluation, at_threshold

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "THRESHOLDS",
    "confusion_figure",
    "confusion_table",
    "curve_figure",
    "false_positives_by_identity",
    "interval_table",
    "threshold_table",
]

THRESHOLDS: Final = (90.0, 95.0, 97.5, 99.0, 99.5, 99.9)
"""Percentiles of the threshold table (the model's own is added)."""

_HEADLINE: Final = (
    "eval_pr_auc",
    "eval_roc_auc",
    "eval_precision_at_threshold",
    "eval_recall_at_threshold",
)


def confusion_table(evaluation: Evaluation) -> pd.DataFrame:
    """Return the confusion matrix at the threshold: one row per truth (attack, benign ...)."""
    windows = evaluation.windows
    rows = []
    for truth, mask in (
        ("attack", windows["positive"]),
        ("benign", ~windows["positive"] & ~windows["hard_negative"]),
        ("hard negative", windows["hard_negative"]),
    ):
        chosen = windows[mask]
        rows.append(
            {
                "truth": truth,
                "alerted": int(chosen["alerted"].sum()),
                "not alerted": int((~chosen["alerted"]).sum()),
                "not scored (cold start)": int(chosen["score"].isna().sum()),
            }
        )
    return pd.DataFrame(rows)


def threshold_table(evaluation: Evaluation) -> pd.DataFrame:
    """Alerts per day, precision, recall and scenarios caught at several percentiles."""
    rows = []
    for percentile in sorted({*THRESHOLDS, evaluation.threshold}):
        figures = at_threshold(evaluation, percentile)
        rows.append(
            {
                "percentile": percentile,
                "model threshold": percentile == evaluation.threshold,
                "alerts": int(figures["eval_alerts"]),
                "alerts per day": round(figures["eval_alerts_per_day"], 3),
                "benign alerts per day": round(figures["eval_benign_alerts_per_day"], 3),
                "precision": _round(figures["eval_precision_at_threshold"]),
                "recall": _round(figures["eval_recall_at_threshold"]),
                "scenarios caught": int(figures["eval_scenarios_detected"]),
                "scenarios": int(figures["eval_scenarios_total"]),
                "hard negatives flagged": int(figures["eval_hard_negatives_flagged"]),
            }
        )
    return pd.DataFrame(rows)


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def _top_reason(explanations: pd.Series) -> str:
    texts = Counter(str(e[0]["text"]) for e in explanations if e is not None and len(e))
    return texts.most_common(1)[0][0] if texts else ""


def false_positives_by_identity(evaluation: Evaluation) -> pd.DataFrame:
    """Alerted windows without an attack, per identity, most first (who would be paged)."""
    windows = evaluation.windows
    false = windows[windows["alerted"] & ~windows["positive"]]
    columns = ["who", "false alerts", "hard negatives", "first", "last", "top reason", "identity"]
    if not len(false):
        return pd.DataFrame(columns=columns)
    rows = [
        {
            "who": str(identity).split(":", 5)[-1],
            "identity": str(identity),
            "false alerts": len(group),
            "hard negatives": int(group["hard_negative"].sum()),
            "first": group["window_start"].min().isoformat(),
            "last": group["window_start"].max().isoformat(),
            "top reason": _top_reason(group["explanations"])
            if "explanations" in group.columns
            else "",
        }
        for identity, group in false.groupby("identity", sort=False)
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("false alerts", ascending=False, kind="stable").reset_index(drop=True)


def interval_table(evaluation: Evaluation) -> pd.DataFrame:
    """Each headline figure with its 90% bootstrap interval and the counts it rests on."""
    metrics = evaluation.metrics
    rows = [
        {
            "metric": name,
            "value": _round(metrics.get(name, math.nan)),
            "low (5%)": _round(metrics.get(f"{name}_low", math.nan)),
            "high (95%)": _round(metrics.get(f"{name}_high", math.nan)),
            "positive windows": int(metrics.get("eval_positive_windows", 0)),
            "attack scenarios": int(metrics.get("eval_scenarios_total", 0)),
        }
        for name in _HEADLINE
    ]
    return pd.DataFrame(rows)


def _figure(width: float = 6.0, height: float = 4.5) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots()


def confusion_figure(evaluation: Evaluation) -> Figure:
    """Draw the confusion matrix at the threshold as a labelled heat map."""
    table = confusion_table(evaluation).set_index("truth")[["alerted", "not alerted"]]
    figure, axes = _figure(5.5, 3.8)
    values = table.to_numpy(dtype=float)
    shade = np.log1p(values)
    axes.imshow(shade, cmap="Blues")
    for (i, j), value in np.ndenumerate(values):
        dark = shade[i, j] > shade.max() / 2
        axes.text(j, i, f"{int(value):,}", ha="center", va="center", fontsize="large",
                  color="white" if dark else "black")  # fmt: skip
    axes.set_xticks(range(2), list(table.columns))
    axes.set_yticks(range(len(table)), list(table.index))
    axes.set_title(f"Windows at the threshold p{evaluation.threshold:g}")
    return figure


def curve_figure(evaluation: Evaluation, kind: str, champion: Evaluation | None = None) -> Figure:
    """Draw the PR (``kind="pr"``) or ROC (``kind="roc"``) curve, and the champion's."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    figure, axes = _figure()
    for label, shown, colour in (
        ("this model", evaluation, "#d62728"),
        ("champion", champion, "#1f77b4"),
    ):
        if shown is None or not 0 < shown.windows["positive"].sum() < len(shown.windows):
            continue
        y = shown.windows["positive"].to_numpy(dtype=bool)
        score = np.nan_to_num(shown.windows["score"].to_numpy(dtype=float), nan=-1.0)
        metric = shown.metrics.get("eval_pr_auc" if kind == "pr" else "eval_roc_auc", math.nan)
        if kind == "pr":
            precision, recall, _ = precision_recall_curve(y, score)
            axes.step(recall, precision, where="post", color=colour,
                      label=f"{label} (AP {metric:.3f})")  # fmt: skip
        else:
            fpr, tpr, _ = roc_curve(y, score)
            axes.plot(fpr, tpr, color=colour, label=f"{label} (AUC {metric:.3f})")
        at = shown.metrics
        point = (
            (at.get("eval_recall_at_threshold"), at.get("eval_precision_at_threshold"))
            if kind == "pr"
            else (_fpr_at_threshold(shown), at.get("eval_recall_at_threshold"))
        )
        axes.plot(*point, "o", color=colour, label=f"{label} at p{shown.threshold:g}")
    if kind == "pr":
        axes.set_xlabel("recall (positive windows)")
        axes.set_ylabel("precision")
        axes.set_title("Precision-recall, evaluation windows")
    else:
        axes.plot([0, 1], [0, 1], color="#9aa5b1", linestyle=":", label="chance")
        axes.set_xscale("symlog", linthresh=0.01)
        axes.set_xlabel("false-positive rate (log above 1%)")
        axes.set_ylabel("true-positive rate")
        axes.set_title("ROC, evaluation windows")
    axes.legend(loc="lower left" if kind == "pr" else "lower right", fontsize="small")
    return figure


def _fpr_at_threshold(evaluation: Evaluation) -> float:
    metrics = evaluation.metrics
    negatives = metrics.get("eval_false_positives", 0.0) + metrics.get("eval_true_negatives", 0.0)
    return metrics.get("eval_false_positives", 0.0) / negatives if negatives else math.nan
