"""What a training run logs besides the model: datasets, evaluation, reviewer's pack, card.

Called inside an active MLflow run by :func:`training.train`. Artifact layout::

    model_card.md                  the card (data, settings, threshold, evaluation, limits)
    metrics.md                     every metric's meaning (docs/metrics.md)
    feature_config.json            the feature settings
    feature_importance.json        split share and attribution per feature (table)
    top_windows.json               the most anomalous windows with explanations (table)
    training_vectors.parquet       the next retrain's drift reference
    plots/                         score distribution, importance, confusion matrix, PR, ROC
    evaluation/metrics.json        every evaluation metric and the per-scenario table
    evaluation/scenarios.json      per scenario (table)
    evaluation/confusion_matrix.json, thresholds.json, false_positives_by_identity.json,
    evaluation/intervals.json      the reviewer's pack tables
    evaluation/comparison.json     the champion on the same windows (when there is one)
    evaluation/events.parquet, labels.parquet   the labelled set (unless left out)
"""

# MLflow is imported where used, so that importing training stays light.

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import pandas as pd

from training._compare import Comparison, PeriodEvaluation
from training._metrics import metrics_markdown
from training._review import (
    confusion_figure,
    confusion_table,
    curve_figure,
    false_positives_by_identity,
    interval_table,
    threshold_table,
)
from training._runs import _EVAL_EVENTS, _EVAL_LABELS, _log_frame

__all__ = [
    "dataset_source",
    "finite",
    "log_dataset",
    "log_evaluation",
    "log_glossary",
]

_COMPARISON: Final = "evaluation/comparison.json"


def finite(metrics: Mapping[str, float], prefix: str = "") -> dict[str, float]:
    """Return the metrics that are numbers (MLflow stores NaN poorly), optionally prefixed."""
    return {f"{prefix}{k}": float(v) for k, v in metrics.items() if not math.isnan(v)}


def dataset_source(events: Any) -> str:
    """Return where events came from: a path, the common folder of several, or in-memory."""
    if isinstance(events, pd.DataFrame):
        return "in-memory"
    paths = [str(Path(p).resolve()) for p in events]
    return paths[0] if len(paths) == 1 else os.path.commonpath(paths)


def _events_digest(events: pd.DataFrame) -> str:
    ids = "\n".join(sorted(events["event_id"].astype(str)))
    return hashlib.sha256(ids.encode("utf-8")).hexdigest()[:32]


def log_dataset(
    events: pd.DataFrame, origin: Any, *, name: str, context: str, digest: str | None = None
) -> None:
    """Log canonical events as an MLflow dataset input of the active run.

    The schema is the canonical table's (declared, not inferred: MLflow's inference
    reads every cell of the list columns, 19 s for 30,000 events); the digest is the
    given one (the model's data fingerprint) or a hash of the sorted event ids.
    """
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.pandas_dataset import PandasDataset

    from training._registry import canonical_input_schema

    class CanonicalEvents(PandasDataset):
        """A pandas dataset whose schema is the canonical event table's."""

        @property
        def schema(self) -> Any:
            return canonical_input_schema()

    dataset = CanonicalEvents(
        df=events,
        source=resolve_dataset_source(dataset_source(origin)),
        name=name,
        digest=digest or _events_digest(events),
    )
    mlflow.log_input(dataset, context=context)


def _log_pack(result: PeriodEvaluation, comparison: Comparison | None) -> None:
    import mlflow

    evaluation = result.evaluation
    champion = comparison.champion.evaluation if comparison and comparison.champion else None
    mlflow.log_table(confusion_table(evaluation), "evaluation/confusion_matrix.json")
    mlflow.log_table(threshold_table(evaluation), "evaluation/thresholds.json")
    mlflow.log_table(
        false_positives_by_identity(evaluation), "evaluation/false_positives_by_identity.json"
    )
    mlflow.log_table(interval_table(evaluation), "evaluation/intervals.json")
    mlflow.log_figure(confusion_figure(evaluation), "plots/confusion_matrix.png")
    mlflow.log_figure(curve_figure(evaluation, "pr", champion), "plots/pr_curve.png")
    mlflow.log_figure(curve_figure(evaluation, "roc", champion), "plots/roc_curve.png")


def _scenario_view(scenarios: pd.DataFrame) -> pd.DataFrame:
    view = scenarios.copy()
    for column in ("first_event", "first_alert"):
        view[column] = [None if v is None or pd.isna(v) else str(v) for v in view[column]]
    return view


def log_evaluation(
    result: PeriodEvaluation,
    comparison: Comparison | None,
    *,
    kind: str,
    labels: pd.DataFrame,
    evaluated: pd.DataFrame,
    origin: Any,
    log_events: bool,
) -> None:
    """Log the evaluation: metrics, tags, the reviewer's pack, the comparison, the set."""
    import mlflow

    evaluation = result.evaluation
    mlflow.log_metrics(finite(evaluation.metrics))
    mlflow.log_table(_scenario_view(evaluation.scenarios), "evaluation/scenarios.json")
    mlflow.log_dict(
        {"kind": kind, **evaluation.to_json(), "period": result.facts()},
        "evaluation/metrics.json",
    )
    facts = result.facts()
    mlflow.set_tags({f"evaluation.{k}": str(v) for k, v in facts.items()})
    mlflow.set_tag("evaluation.kind", kind)
    mlflow.set_tag("evaluation.in_sample", str(kind == "in-sample").lower())
    _log_pack(result, comparison)
    if comparison is not None:
        mlflow.log_dict(comparison.to_json(), _COMPARISON)
        mlflow.set_tag("evaluation.champion_version", comparison.champion_version)
        if comparison.champion is not None:
            mlflow.log_metrics(finite(comparison.champion.evaluation.metrics, "champion_"))
    if log_events:
        _log_frame(evaluated, _EVAL_EVENTS)
        _log_frame(labels, _EVAL_LABELS)
    log_dataset(evaluated, origin, name="evaluation-events", context="evaluation")


def log_glossary() -> None:
    """Log ``metrics.md``: what every metric of the run means."""
    import mlflow

    mlflow.log_text(metrics_markdown(), "metrics.md")
