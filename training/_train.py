"""train: fit the detector, evaluate it soundly, log one MLflow run, register the model.

The evaluation scores the model on its evaluation period with the state carried up to
the period's start (:mod:`training._periods`); when a champion is registered under the
same name it is scored on the very same period (:mod:`training._compare`) and the
comparison is stored with the run, where :func:`training.promote` reads it.
"""

# MLflow, scikit-learn and matplotlib are imported where used, so that importing
# training (and training.simulation) stays light.

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from features import (
    PROFILE_SCHEMA_VERSION,
    SCHEMA_VERSION,
    VECTOR_SCHEMA_VERSION,
    FeatureConfig,
    FeatureState,
)
from training._baseline import baseline_warnings
from training._compare import Comparison, PeriodEvaluation, compare_on_period, evaluate_on_period
from training._evaluate import Evaluation
from training._periods import model_state, period_grid
from training._registry import CHAMPION, alias_version, load_model_bundle
from training._runs import EventsArg, LabelsArg, Progress, _step
from training._tracking import DEFAULT_EXPERIMENT, tracking
from training._train_data import TrainingData, evaluation_period, read_training_data
from training._train_run import RunSettings, log_run

__all__ = ["TRAIN_STEPS", "TrainResult", "train"]

logger = logging.getLogger(__name__)

TRAIN_STEPS: Final = 6
"""Progress steps of :func:`train` (load, fit, evaluate, artifacts, model, register)."""


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What :func:`train` logged.

    ``reused`` is true when an identical model (same bundle content) was already
    registered under the name: no new version was made and ``version`` is that one.
    """

    run_id: str
    model_uri: str
    logged_model_uri: str | None
    experiment_id: str
    registered: str | None = None
    version: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation: Evaluation | None = field(default=None, repr=False)
    comparison: Comparison | None = field(default=None, repr=False)
    reused: bool = False
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the CLI's summary line (``run_id`` and ``model_uri`` first)."""
        data: dict[str, Any] = {"run_id": self.run_id, "model_uri": self.model_uri}
        data["logged_model_uri"] = self.logged_model_uri
        data["experiment_id"] = self.experiment_id
        if self.registered:
            data["registered"] = self.registered
            data["version"] = self.version
            data["reused_version"] = self.reused
        data["metrics"] = {
            k: round(v, 6) for k, v in self.metrics.items() if "." not in k and not math.isnan(v)
        }
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data


def _fit(training: pd.DataFrame, settings: dict[str, Any]) -> tuple[Any, float]:
    from models import ChangeDetector

    detector = ChangeDetector(**settings)
    started = time.perf_counter()
    detector.fit(training)
    return detector, time.perf_counter() - started


def _continue_history(detector: Any, history: Any, events: pd.DataFrame) -> str:
    """Carry ``history``'s state (profiles, recent events) to the end of training.

    Returns ``"merged"`` or the reason it was not: other feature settings, or profiles
    that end after this model's training (they would know its evaluation period).
    """
    if history is None:
        return "none"
    end = detector.profiles_.until
    if history.profiles_.config != detector.profiles_.config:
        reason = "not merged: the previous model has other feature settings"
    elif history.profiles_.until is None or history.profiles_.until > end:
        reason = f"not merged: the previous model's profiles end after {end}"
    else:
        state, _ = model_state(history, events, end)
        detector.profiles_ = state.profiles
        detector.recent_ = state.recent
        return "merged"
    logger.warning("previous profiles %s", reason)
    return reason


def _champion(name: str | None, tracking_uri: str | None) -> tuple[str, Any] | None:
    """Return (version, detector) of ``name@champion`` when registered, else ``None``."""
    if not name:
        return None
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from models import load_bundle

    with tracking(tracking_uri) as uri:
        try:
            version = alias_version(MlflowClient(), name, CHAMPION)
        except MlflowException:
            return None
        if version is None:
            return None
        bundle = load_model_bundle(f"models:/{name}/{version.version}", tracking_uri=uri)
    return str(version.version), load_bundle(bundle)


def _evaluate(
    data: TrainingData, detector: Any, champion: tuple[str, Any] | None
) -> tuple[PeriodEvaluation | None, Comparison | None]:
    if data.evaluation is None or data.labels is None:
        return None, None
    models = [detector] + ([champion[1]] if champion else [])
    start, context = evaluation_period(data, period_grid(models))
    ours = evaluate_on_period(
        detector,
        data.evaluation,
        data.labels,
        start,
        context=context,
        allow_in_sample=data.evaluation_kind == "in-sample",
        policy=data.policy,
    )
    if champion is None or data.evaluation_kind == "in-sample":
        return ours, None
    version, theirs = champion
    return ours, compare_on_period(
        ours, theirs, version, data.evaluation, data.labels, context=context, policy=data.policy
    )


def _training_metrics(
    detector: Any, data: TrainingData, fit_seconds: float, warnings: list[str]
) -> dict[str, float]:
    scores = np.asarray(detector.train_scores_, dtype=float)
    start, end = detector.training_period_
    metrics: dict[str, float] = {
        "events": float(len(data.training)),
        "identities": float(data.training["identity_key"].nunique()),
        "windows": float(detector.n_training_windows_),
        "baseline_days": (pd.Timestamp(end) - pd.Timestamp(start)) / pd.Timedelta(days=1),
        "fit_seconds": fit_seconds,
        "threshold_score": float(detector.detector_.threshold_),
        "train_labelled_attack_events": float(data.leakage.events),
        "baseline_short": float(bool(warnings)),
    }
    for q in (0.5, 0.9, 0.99, 0.999):
        metrics[f"score_p{q * 100:g}"] = float(np.quantile(scores, q))
    metrics["score_max"] = float(scores.max())
    return metrics


def _params(detector: Any, merge: str, kind: str) -> dict[str, Any]:
    config = detector.feature_config or FeatureConfig()
    start, end = detector.training_period_
    return {
        "window": config.window,
        "feature_schema_version": VECTOR_SCHEMA_VERSION,
        "profile_schema_version": PROFILE_SCHEMA_VERSION,
        "event_schema_version": SCHEMA_VERSION,
        "features": len(detector.feature_names_),
        "n_estimators": detector.n_estimators,
        "max_samples": detector.max_samples,
        "random_state": detector.random_state,
        "threshold": detector.threshold,
        "exclude_cold_start": detector.exclude_cold_start,
        "training_start": pd.Timestamp(start).isoformat(),
        "training_end": pd.Timestamp(end).isoformat(),
        "data_fingerprint": str(detector.data_fingerprint_),
        "profile_merge": merge,
        "evaluation": kind,
    }


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
    exclude_labelled: bool = False,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    nested: bool | None = None,
    log_evaluation_events: bool = True,
    log_vector_scorer: bool = True,
    policy: Any = None,
    progress: Progress = None,
) -> TrainResult:
    """Ingest, featurise, fit, evaluate and log one MLflow run; optionally register the model.

    Parameters
    ----------
    events : sequence of paths or pandas.DataFrame
        CloudTrail inputs or canonical Parquet tables (or the canonical frame). Events
        outside the training period still carry the models' state up to an evaluation.
    since, until : str or Timestamp, optional
        Training period ``[since, until)`` (ISO, UTC when naive); default all events.
    labels : path or pandas.DataFrame, optional
        Labelled events (``event_id``, ``scenario``, ``kind``). With labels the model is
        evaluated on ``evaluation_events``, else on the events after ``until``, else
        (in-sample, tagged so) on the training events.
    evaluation_events : sequence of paths or pandas.DataFrame, optional
        A separate labelled set (e.g. the simulator's test period or Stratus recordings).
    experiment : str
        MLflow experiment, created (with a local artifact root) when missing.
    tracking_uri : str, optional
        See :func:`training.resolve_tracking_uri`.
    register_as : str, optional
        Registered model name; the new version gets the ``challenger`` alias. When the
        name has a ``champion`` and there are labels, the champion is scored on the same
        evaluation period (``evaluation/comparison.json``). A model identical to a
        registered version (same bundle content) reuses that version.
    feature_config, n_estimators, max_samples, random_state, threshold, exclude_cold_start
        Settings of ``models.ChangeDetector``.
    history : models.ChangeDetector, optional
        The previous model: its profiles and recent events are continued with the
        events read up to the end of training (when its feature settings are the same).
    exclude_labelled : bool
        Leave events labelled ``attack`` out of the training period (they are always
        counted, warned about and logged as ``train_labelled_attack_events``).
    run_name, tags : optional
        Name and extra tags of the run.
    nested : bool, optional
        Log as a child of the active run; default: when a run is active (sweeps).
    log_evaluation_events : bool
        Store the labelled evaluation set with the run (``promote`` can then re-score it
        later); off for sweeps.
    log_vector_scorer : bool
        Also log the vector scorer (for ``score --engine spark``); off for sweeps.
    policy : Policy or path(s), optional
        The organisation's change policy (``--windows``): the evaluation's findings, and so
        its alert budget (``eval_benign_medium_plus_per_day`` ...), are judged with it.
    progress : callable, optional
        Called with 1 after each of :data:`TRAIN_STEPS` steps.

    Returns
    -------
    TrainResult

    Raises
    ------
    ConfigurationError
        When the training period is empty, or the evaluation period overlaps training.
    InputError
        When the evaluation period holds no event or no scored window.
    """
    data = read_training_data(
        events,
        since=since,
        until=until,
        labels=labels,
        evaluation_events=evaluation_events,
        exclude_labelled=exclude_labelled,
        policy=policy,
    )
    champion = _champion(register_as, tracking_uri) if data.labels is not None else None
    _step(progress)
    settings = {
        "feature_config": feature_config,
        "n_estimators": n_estimators,
        "max_samples": max_samples,
        "random_state": random_state,
        "threshold": threshold,
        "exclude_cold_start": exclude_cold_start,
    }
    detector, fit_seconds = _fit(data.training, settings)
    merge = _continue_history(detector, history, data.events)
    _step(progress)
    warnings = baseline_warnings(detector, data.training)
    if data.leakage.events:
        warnings.append(data.leakage.message())
    result, comparison = _evaluate(data, detector, champion)
    training_windows = detector.score_windows(
        data.training, state=FeatureState.start(config=detector.feature_config or FeatureConfig())
    )
    _step(progress)
    run = RunSettings(
        experiment=experiment,
        tracking_uri=tracking_uri,
        register_as=register_as,
        run_name=run_name,
        tags=tags or {},
        nested=nested,
        log_evaluation_events=log_evaluation_events,
        log_vector_scorer=log_vector_scorer,
    )
    metrics = _training_metrics(detector, data, fit_seconds, warnings)
    logged = log_run(
        run,
        detector=detector,
        data=data,
        params=_params(detector, merge, data.evaluation_kind),
        metrics=metrics,
        warnings=warnings,
        result=result,
        comparison=comparison,
        training_windows=training_windows,
        progress=progress,
    )
    all_metrics = dict(metrics)
    if result is not None:
        all_metrics.update(result.evaluation.metrics)
    return TrainResult(
        run_id=logged.run_id,
        model_uri=logged.model_uri,
        logged_model_uri=logged.logged_model_uri,
        experiment_id=logged.experiment_id,
        registered=register_as,
        version=logged.version,
        metrics=all_metrics,
        evaluation=result.evaluation if result is not None else None,
        comparison=comparison,
        reused=logged.reused,
        warnings=tuple(warnings),
    )
