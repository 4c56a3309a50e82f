"""train: fit the detector and log one MLflow run (params, metrics, datasets, artifacts).

The run holds the evaluation set (see :mod:`training._runs`) that :func:`promote`
compares on, and the training vectors that the next retrain's drift report reads.
"""

# MLflow, scikit-learn and matplotlib are imported where used, so that importing
# training (and training.simulation) stays light.

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from features import (
    PROFILE_SCHEMA_VERSION,
    SCHEMA_VERSION,
    VECTOR_SCHEMA_VERSION,
    ConfigurationError,
    FeatureConfig,
    FeatureState,
)
from training._artifacts import (
    feature_importance,
    importance_figure,
    model_card,
    score_distribution_figure,
    top_windows_table,
)
from training._data import period, to_timestamp
from training._evaluate import Evaluation
from training._registry import CHALLENGER, log_scorer, register
from training._runs import (
    _EVAL_EVENTS,
    _EVAL_LABELS,
    TRAINING_VECTORS,
    EventsArg,
    LabelsArg,
    Progress,
    _evaluate_detector,
    _events,
    _labels,
    _log_frame,
    _start_run_args,
    _step,
)
from training._tracking import DEFAULT_EXPERIMENT, tracking

__all__ = ["TRAIN_STEPS", "TrainResult", "train"]

logger = logging.getLogger(__name__)

TRAIN_STEPS: Final = 6
"""Progress steps of :func:`train` (load, fit, evaluate, artifacts, model, register)."""


def _config_of(detector: Any) -> FeatureConfig:
    config = getattr(detector, "feature_config_", None) or getattr(detector, "feature_config", None)
    return config if isinstance(config, FeatureConfig) else FeatureConfig()


def _threshold_score(detector: Any) -> float:
    return float(detector.detector_.threshold_)


def _finite(metrics: dict[str, float], prefix: str = "") -> dict[str, float]:
    return {f"{prefix}{k}": v for k, v in metrics.items() if not math.isnan(v)}


def _scenario_metrics(evaluation: Evaluation) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in evaluation.scenarios.to_dict("records"):
        name = f"scenario.{row['scenario']}"
        out[f"{name}.detected"] = 1.0 if row["detected"] else 0.0
        if not math.isnan(row["best_percentile"]):
            out[f"{name}.best_percentile"] = float(row["best_percentile"])
    return out


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What :func:`train` logged."""

    run_id: str
    model_uri: str
    logged_model_uri: str
    experiment_id: str
    registered: str | None = None
    version: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation: Evaluation | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Return the CLI's summary line (``run_id`` and ``model_uri`` first)."""
        data: dict[str, Any] = {"run_id": self.run_id, "model_uri": self.model_uri}
        data["logged_model_uri"] = self.logged_model_uri
        data["experiment_id"] = self.experiment_id
        if self.registered:
            data["registered"] = self.registered
            data["version"] = self.version
        data["metrics"] = {k: round(v, 6) for k, v in self.metrics.items() if "." not in k}
        return data


def _fit(
    training: pd.DataFrame,
    *,
    feature_config: FeatureConfig | None,
    n_estimators: int,
    max_samples: int | float | str,
    random_state: int,
    threshold: float,
    exclude_cold_start: bool,
) -> tuple[Any, float]:
    from models import ChangeDetector

    detector = ChangeDetector(
        feature_config=feature_config,
        n_estimators=n_estimators,
        max_samples=max_samples,
        random_state=random_state,
        threshold=threshold,
        exclude_cold_start=exclude_cold_start,
    )
    started = time.perf_counter()
    detector.fit(training)
    return detector, time.perf_counter() - started


def train(
    events: EventsArg,
    *,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    labels: LabelsArg = None,
    evaluation_events: EventsArg | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    tracking_uri: str | None = None,
    register_as: str | None = None,
    feature_config: FeatureConfig | None = None,
    n_estimators: int = 100,
    max_samples: int | float | str = "auto",
    random_state: int = 0,
    threshold: float = 99.0,
    exclude_cold_start: bool = True,
    history: Any = None,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    progress: Progress = None,
) -> TrainResult:
    """Ingest, featurise, fit and log one MLflow run; optionally register the model.

    Parameters
    ----------
    events : sequence of paths or pandas.DataFrame
        CloudTrail inputs or canonical Parquet tables (or the canonical frame).
    since, until : str or Timestamp, optional
        Training period ``[since, until)`` (ISO, UTC when naive); default all events.
    labels : path or pandas.DataFrame, optional
        Labelled events (``event_id``, ``scenario``, ``kind``). With labels the model is
        evaluated on ``evaluation_events``, else on the events after ``until``, else
        (in-sample, tagged so) on the training events. The evaluation set is stored
        with the run; :func:`promote` compares on it by default.
    evaluation_events : sequence of paths or pandas.DataFrame, optional
        A separate labelled set (e.g. the simulator's test period or Stratus recordings).
    experiment : str
        MLflow experiment, created (with a local artifact root) when missing.
    tracking_uri : str, optional
        See :func:`training.resolve_tracking_uri`.
    register_as : str, optional
        Registered model name; the new version gets the ``challenger`` alias.
    feature_config, n_estimators, max_samples, random_state, threshold, exclude_cold_start
        Settings of ``models.ChangeDetector``.
    history : features.Profiles, optional
        Profiles of the period before ``since`` (the previous model's): the scoring
        state continues them (``Profiles.update``) instead of starting afresh.
    run_name, tags : optional
        Name and extra tags of the run.
    progress : callable, optional
        Called with 1 after each of :data:`TRAIN_STEPS` steps.

    Returns
    -------
    TrainResult
    """
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas

    all_events, sources = _events(events)
    label_table = _labels(labels)
    start, end = to_timestamp(since, name="since"), to_timestamp(until, name="until")
    training = period(all_events, start, end)
    if not len(training):
        raise ConfigurationError(f"no events in the training period [{since}, {until})")
    evaluation_set: pd.DataFrame | None = None
    in_sample = False
    if label_table is not None:
        if evaluation_events is not None:
            evaluation_set, _ = _events(evaluation_events)
        elif end is not None and len(after := period(all_events, end, None)):
            evaluation_set = after
        else:
            evaluation_set, in_sample = training, True
            logger.warning("no events after the training period: evaluating in-sample")
    _step(progress)

    detector, fit_seconds = _fit(
        training,
        feature_config=feature_config,
        n_estimators=n_estimators,
        max_samples=max_samples,
        random_state=random_state,
        threshold=threshold,
        exclude_cold_start=exclude_cold_start,
    )
    merged = False
    if history is not None:
        try:
            detector.profiles_ = history.update(training)
            merged = True
        except ConfigurationError as error:
            logger.warning("previous profiles not merged: %s", error)
    _step(progress)

    config = _config_of(detector)
    training_windows = detector.score_windows(training, state=FeatureState.start(config=config))
    evaluation = None
    if evaluation_set is not None and label_table is not None:
        evaluation = _evaluate_detector(detector, evaluation_set, label_table)
    _step(progress)

    train_scores = np.asarray(detector.train_scores_, dtype=float)
    period_start, period_end = detector.training_period_
    metrics: dict[str, float] = {
        "events": float(len(training)),
        "identities": float(training["identity_key"].nunique()),
        "windows": float(detector.n_training_windows_),
        "fit_seconds": fit_seconds,
        "threshold_score": _threshold_score(detector),
    }
    for q in (0.5, 0.9, 0.99, 0.999):
        metrics[f"score_p{q * 100:g}"] = float(np.quantile(train_scores, q))
    metrics["score_max"] = float(train_scores.max())
    params: dict[str, Any] = {
        "window": config.window,
        "feature_schema_version": VECTOR_SCHEMA_VERSION,
        "profile_schema_version": PROFILE_SCHEMA_VERSION,
        "event_schema_version": SCHEMA_VERSION,
        "features": len(detector.feature_names_),
        "n_estimators": n_estimators,
        "max_samples": max_samples,
        "random_state": random_state,
        "threshold": threshold,
        "exclude_cold_start": exclude_cold_start,
        "training_start": pd.Timestamp(period_start).isoformat(),
        "training_end": pd.Timestamp(period_end).isoformat(),
        "data_fingerprint": str(detector.data_fingerprint_),
        "profile_merge": merged,
        "evaluation": "none" if evaluation is None else "in-sample" if in_sample else "held-out",
    }

    uri_context = tracking(tracking_uri)
    with uri_context as uri:
        experiment_id = _start_run_args(experiment, uri)
        run_tags = {"changewatch.sources": sources[:5000], **(tags or {})}
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=run_tags) as run:
            run_id = run.info.run_id
            mlflow.log_params(params)
            mlflow.log_dict(config.to_json(), "feature_config.json")
            dataset = from_pandas(
                _dataset_view(training),
                source=_dataset_source(events),
                name="training-events",
                digest=str(detector.data_fingerprint_)[:32],
            )
            mlflow.log_input(dataset, context="training")
            mlflow.log_metrics(metrics)
            if evaluation is not None and evaluation_set is not None and label_table is not None:
                mlflow.log_metrics(_finite(evaluation.metrics, "eval_"))
                mlflow.log_metrics(_scenario_metrics(evaluation))
                mlflow.log_table(
                    evaluation.scenarios.astype({"first_alert": str}), "evaluation/scenarios.json"
                )
                mlflow.log_dict(evaluation.to_json(), "evaluation/metrics.json")
                mlflow.set_tag("evaluation.in_sample", str(in_sample).lower())
                _log_frame(evaluation_set, _EVAL_EVENTS)
                _log_frame(label_table, _EVAL_LABELS)
                eval_dataset = from_pandas(
                    _dataset_view(evaluation_set),
                    source=_dataset_source(
                        evaluation_events if evaluation_events is not None else events
                    ),
                    name="evaluation-events",
                )
                mlflow.log_input(eval_dataset, context="evaluation")
            _step(progress)

            shown = evaluation.windows if evaluation is not None else training_windows
            importance = feature_importance(detector, shown)
            mlflow.log_figure(
                score_distribution_figure(
                    train_scores,
                    metrics["threshold_score"],
                    threshold,
                    evaluation.windows if evaluation is not None else None,
                ),
                "plots/score_distribution.png",
            )
            mlflow.log_figure(importance_figure(importance), "plots/feature_importance.png")
            mlflow.log_table(importance, "feature_importance.json")
            mlflow.log_table(top_windows_table(shown), "top_windows.json")
            _log_frame(_vectors_only(training_windows, detector.feature_names_), TRAINING_VECTORS)
            data_facts = {
                "sources": sources if len(sources) < 300 else sources[:297] + "...",
                "period": f"{params['training_start']} to {params['training_end']}",
                "events": int(metrics["events"]),
                "identities": int(metrics["identities"]),
                "windows": int(metrics["windows"]),
                "fingerprint": params["data_fingerprint"],
                "evaluation": params["evaluation"],
            }
            card = model_card(
                name=register_as,
                params={
                    k: v
                    for k, v in params.items()
                    if k not in ("training_start", "training_end", "data_fingerprint")
                },
                data=data_facts,
                evaluation=evaluation,
                importance=importance,
            )
            mlflow.log_text(card, "model_card.md")
            _step(progress)

            from models import save_bundle

            with tempfile.TemporaryDirectory(prefix="changewatch-bundle-") as scratch:
                bundle = Path(scratch) / "bundle"
                save_bundle(
                    detector,
                    bundle,
                    metadata={
                        "run_id": run_id,
                        "experiment": experiment,
                        "sources": sources[:1000],
                    },
                )
                example = _example_events(
                    evaluation_set if evaluation_set is not None else training
                )
                info = log_scorer(
                    bundle,
                    input_example=example,
                    output_example=detector.score_windows(example),
                    vector_example=detector.vectors(example),
                )
            _step(progress)
            version = None
            model_uri = info.model_uri
            if register_as:
                registered = register(info.model_uri, register_as, alias=CHALLENGER)
                version = str(registered.version)
                model_uri = f"models:/{register_as}/{version}"
                mlflow.set_tag("changewatch.registered", f"{register_as}/{version}")
            _step(progress)
    all_metrics = dict(metrics)
    if evaluation is not None:
        all_metrics.update(_finite(evaluation.metrics, "eval_"))
    return TrainResult(
        run_id=run_id,
        model_uri=model_uri,
        logged_model_uri=info.model_uri,
        experiment_id=experiment_id,
        registered=register_as,
        version=version,
        metrics=all_metrics,
        evaluation=evaluation,
    )


def _dataset_view(events: pd.DataFrame) -> pd.DataFrame:
    """Events with list columns as JSON text: MLflow's dataset schema takes scalars."""
    view = events.copy()
    for column in view.columns:
        sample = view[column].dropna()
        if len(sample) and isinstance(sample.iloc[0], list | tuple | np.ndarray):
            view[column] = [
                json.dumps([str(x) for x in v]) if v is not None else None for v in view[column]
            ]
    return view


def _dataset_source(events: Any) -> str:
    if isinstance(events, pd.DataFrame):
        return "in-memory"
    paths = [str(Path(p).resolve()) for p in events]
    return paths[0] if len(paths) == 1 else os.path.commonpath(paths)


def _example_events(events: pd.DataFrame, rows: int = 20) -> pd.DataFrame:
    """Return a few events of one identity: the model's input example."""
    first = events.iloc[0]["identity_key"]
    example: pd.DataFrame = events[events["identity_key"] == first].head(rows)
    return example.reset_index(drop=True)


def _vectors_only(windows: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    unique = windows.loc[:, ~windows.columns.duplicated()]
    return unique[["identity_key", "window_start", "window_end", *features]].reset_index(drop=True)
