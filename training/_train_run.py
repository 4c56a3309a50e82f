"""The MLflow side of :func:`training.train`: the run, its artifacts, the model, the version."""

# MLflow, scikit-learn and matplotlib are imported where used, so that importing
# training (and training.simulation) stays light.

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from features import FeatureConfig
from training._artifacts import (
    feature_importance,
    importance_figure,
    score_distribution_figure,
    top_windows_table,
)
from training._card import model_card, threshold_rationale
from training._compare import Comparison, PeriodEvaluation
from training._record import describe_registered_model, version_description
from training._registry import (
    CHALLENGER,
    CONTENT_TAG,
    bundle_content_key,
    find_version,
    log_scorer,
    register,
)
from training._run_log import finite, log_dataset, log_evaluation, log_glossary
from training._runs import TRAINING_VECTORS, Progress, _log_frame, _start_run_args, _step
from training._tracking import tracking
from training._train_data import TrainingData

__all__ = ["LoggedRun", "RunSettings", "example_events", "log_run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Where and how :func:`log_run` logs."""

    experiment: str
    tracking_uri: str | None
    register_as: str | None
    run_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    nested: bool | None = None
    log_evaluation_events: bool = True
    log_vector_scorer: bool = True


@dataclass(frozen=True, slots=True)
class LoggedRun:
    """What :func:`log_run` made."""

    run_id: str
    experiment_id: str
    model_uri: str
    logged_model_uri: str | None
    version: str | None
    reused: bool


def _clouds(events: pd.DataFrame) -> str:
    """Return the clouds a run's training events cover, comma-separated (``aws,gcp``)."""
    if "cloud" not in events.columns or events.empty:
        return ""
    return ",".join(sorted(str(c) for c in events["cloud"].dropna().unique()))


def example_events(
    detector: Any, training_windows: pd.DataFrame, training: pd.DataFrame, rows: int = 20
) -> pd.DataFrame:
    """Return an input example the model scores: a warm identity's last window, replayed.

    The events of the newest scored training window of an identity past its cold start,
    moved in time to the first window after the model's profiles end, so that
    ``model.predict(model.input_example)`` returns a scored window.
    """
    scored = training_windows[training_windows["score"].notna()]
    if not len(scored):
        first = training.iloc[0]["identity_key"]
        some: pd.DataFrame = training[training["identity_key"] == first].head(rows)
        return some.reset_index(drop=True)
    last = scored.sort_values(["window_start", "identity"], kind="stable").iloc[-1]
    ids = {str(i) for i in last["event_ids"]}
    chosen = training[training["event_id"].astype(str).isin(ids)].head(rows).copy()
    shift = pd.Timestamp(detector.profiles_.until) - pd.Timestamp(last["window_start"])
    chosen["event_time"] = chosen["event_time"] + shift
    example: pd.DataFrame = chosen.reset_index(drop=True)
    return example


def _vectors_only(windows: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    unique = windows.loc[:, ~windows.columns.duplicated()]
    return unique[["identity_key", "window_start", "window_end", *features]].reset_index(drop=True)


def _log_review(
    detector: Any,
    data: TrainingData,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    warnings: Sequence[str],
    result: PeriodEvaluation | None,
    training_windows: pd.DataFrame,
    name: str | None,
) -> None:
    """Log plots, importance, top windows, training vectors, the card and the glossary."""
    import mlflow

    evaluation = result.evaluation if result is not None else None
    shown = evaluation.windows if evaluation is not None else training_windows
    importance = feature_importance(detector, shown)
    mlflow.log_figure(
        score_distribution_figure(
            detector.train_scores_,
            metrics["threshold_score"],
            float(detector.threshold),
            shown if evaluation is not None else None,
        ),
        "plots/score_distribution.png",
    )
    mlflow.log_figure(importance_figure(importance), "plots/feature_importance.png")
    mlflow.log_table(importance, "feature_importance.json")
    mlflow.log_table(top_windows_table(shown), "top_windows.json")
    _log_frame(_vectors_only(training_windows, detector.feature_names_), TRAINING_VECTORS)
    facts = {
        "sources": data.sources if len(data.sources) < 300 else data.sources[:297] + "...",
        "period": f"{params['training_start']} to {params['training_end']}",
        "events": int(metrics["events"]),
        "identities": int(metrics["identities"]),
        "windows": int(metrics["windows"]),
        "fingerprint": params["data_fingerprint"],
        "labelled attack events in training": int(metrics["train_labelled_attack_events"]),
    }
    hidden = ("training_start", "training_end", "data_fingerprint")
    card = model_card(
        name=name,
        params={k: v for k, v in params.items() if k not in hidden},
        data=facts,
        evaluation=evaluation,
        evaluation_facts={"kind": data.evaluation_kind, **(result.facts() if result else {})},
        importance=importance,
        warnings=warnings,
        rationale=threshold_rationale(float(detector.threshold), metrics, evaluation),
    )
    mlflow.log_text(card, "model_card.md")
    log_glossary()


def _register(
    run_id: str,
    name: str,
    model_uri: str,
    key: str,
    description: str,
) -> str:
    import mlflow
    from mlflow import MlflowClient

    registered = register(
        model_uri, name, alias=CHALLENGER, tags={CONTENT_TAG: key, "changewatch.run": run_id}
    )
    version = str(registered.version)
    client = MlflowClient()
    client.update_model_version(name, version, description=description)
    describe_registered_model(client, name)
    mlflow.set_tag("changewatch.registered", f"{name}/{version}")
    return version


def _reuse(run_id: str, name: str, existing: Any) -> str:
    import mlflow
    from mlflow import MlflowClient

    version = str(existing.version)
    client = MlflowClient()
    client.set_registered_model_alias(name, CHALLENGER, version)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    line = f"- {now}: retrained identically by run {run_id}; this version reused"
    client.update_model_version(
        name, version, description=f"{existing.description or ''}\n{line}".strip()
    )
    mlflow.set_tags({"changewatch.registered": f"{name}/{version}", "changewatch.reused": "true"})
    logger.info("identical to %s version %s: reused, no new version", name, version)
    return version


def _log_model(
    run: RunSettings,
    run_id: str,
    detector: Any,
    data: TrainingData,
    example: pd.DataFrame,
    description: str,
) -> tuple[str, str | None, str | None, bool]:
    """Save the bundle, reuse an identical version or log and register the scorer."""
    from mlflow import MlflowClient

    from models import save_bundle

    name = run.register_as
    with tempfile.TemporaryDirectory(prefix="changewatch-bundle-") as scratch:
        bundle = Path(scratch) / "bundle"
        metadata = {"run_id": run_id, "experiment": run.experiment, "sources": data.sources[:1000]}
        key = bundle_content_key(save_bundle(detector, bundle, metadata=metadata))
        existing = find_version(MlflowClient(), name, key) if name else None
        if name and existing is not None:
            version = _reuse(run_id, name, existing)
            return f"models:/{name}/{version}", str(existing.source), version, True
        info = log_scorer(
            bundle,
            input_example=example,
            output_example=detector.score_windows(example),
            threshold=float(detector.threshold),
            vector_example=detector.vectors(example) if run.log_vector_scorer else None,
        )
    if not name:
        return info.model_uri, info.model_uri, None, False
    version = _register(run_id, name, info.model_uri, key, description)
    return f"models:/{name}/{version}", info.model_uri, version, False


def log_run(
    run: RunSettings,
    *,
    detector: Any,
    data: TrainingData,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    warnings: Sequence[str],
    result: PeriodEvaluation | None,
    comparison: Comparison | None,
    training_windows: pd.DataFrame,
    progress: Progress = None,
) -> LoggedRun:
    """Log one run (inside the active run as a child when nested) and its model."""
    import mlflow

    with tracking(run.tracking_uri) as uri:
        active = mlflow.active_run()
        nested = run.nested if run.nested is not None else active is not None
        experiment_id = (
            active.info.experiment_id
            if nested and active is not None
            else _start_run_args(run.experiment, uri)
        )
        tags = {
            "changewatch.sources": data.sources[:5000],
            "changewatch.clouds": _clouds(data.training),
            **run.tags,
        }
        if warnings:
            tags["baseline.warning"] = " | ".join(warnings)[:5000]
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=run.run_name, tags=tags, nested=nested
        ) as current:
            run_id = current.info.run_id
            mlflow.log_params(dict(params))
            config = detector.feature_config or FeatureConfig()
            mlflow.log_dict(config.to_json(), "feature_config.json")
            log_dataset(
                data.training,
                data.origin,
                name="training-events",
                context="training",
                digest=str(detector.data_fingerprint_)[:32],
            )
            mlflow.log_metrics(finite(metrics))
            if result is not None and data.labels is not None and data.evaluation is not None:
                log_evaluation(
                    result,
                    comparison,
                    kind=data.evaluation_kind,
                    labels=result.evaluation.labels,
                    evaluated=data.evaluation[data.evaluation["event_time"] >= result.scored.start],
                    origin=data.evaluation_origin,
                    log_events=run.log_evaluation_events,
                )
            _log_review(
                detector, data, params, metrics, warnings, result, training_windows,
                run.register_as,
            )  # fmt: skip
            _step(progress)
            evaluation_facts = {
                "kind": data.evaluation_kind,
                "period": result.facts() if result is not None else {},
            }
            all_metrics = {**metrics, **(result.evaluation.metrics if result else {})}
            description = version_description(params, all_metrics, evaluation_facts)
            mlflow.set_tag("mlflow.note.content", description.removesuffix("Promotion decisions:"))
            example = example_events(detector, training_windows, data.training)
            model_uri, logged_uri, version, reused = _log_model(
                run, run_id, detector, data, example, description
            )
            _step(progress)
            _step(progress)
    return LoggedRun(run_id, experiment_id, model_uri, logged_uri, version, reused)
