"""train, evaluate, promote and retrain: the detector's life in MLflow.

Every function takes canonical events (paths or a frame), talks to the tracking store
named by ``tracking_uri`` (see :func:`training.resolve_tracking_uri`) and returns a
small result whose ``to_json()`` is the CLI's summary line.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from changewatch.errors import ConfigurationError
from features import (
    PROFILE_SCHEMA_VERSION,
    SCHEMA_VERSION,
    VECTOR_SCHEMA_VERSION,
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
from training._data import describe_sources, load_events, period, read_labels, to_timestamp
from training._drift import MAJOR_PSI, drift_report
from training._evaluate import Evaluation, evaluate_windows
from training._registry import (
    CHALLENGER,
    CHAMPION,
    alias_version,
    load_model_bundle,
    log_scorer,
    register,
)
from training._tracking import DEFAULT_EXPERIMENT, artifact_root_for, ensure_experiment, tracking

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "PROMOTION_METRICS",
    "TRAINING_VECTORS",
    "PromotionResult",
    "RetrainResult",
    "TrainResult",
    "evaluate",
    "promote",
    "retrain",
    "train",
]

logger = logging.getLogger(__name__)

EventsArg = Sequence[str | Path] | pd.DataFrame
LabelsArg = str | Path | pd.DataFrame | None
Progress = Callable[[int], None] | None

TRAINING_VECTORS: Final = "training_vectors.parquet"
"""Run artifact holding the training vectors (the next retrain's drift reference)."""
_EVAL_EVENTS: Final = "evaluation/events.parquet"
_EVAL_LABELS: Final = "evaluation/labels.parquet"
PROMOTION_METRICS: Final = ("pr_auc", "roc_auc", "recall_at_1pct_fpr", "scenarios_detected")
"""Metrics promotion may compare on (higher is better for each)."""
TRAIN_STEPS: Final = 6
"""Progress steps of :func:`train` (load, fit, evaluate, artifacts, model, register)."""


def _events(events: EventsArg) -> tuple[pd.DataFrame, str]:
    if isinstance(events, pd.DataFrame):
        return events.reset_index(drop=True), "<dataframe>"
    return load_events(events), describe_sources(events)


def _labels(labels: LabelsArg) -> pd.DataFrame | None:
    if labels is None or isinstance(labels, pd.DataFrame):
        return labels
    return read_labels(labels)


def _step(progress: Progress) -> None:
    if progress is not None:
        progress(1)


def _config_of(detector: Any) -> FeatureConfig:
    config = getattr(detector, "feature_config_", None) or getattr(detector, "feature_config", None)
    return config if isinstance(config, FeatureConfig) else FeatureConfig()


def _threshold_score(detector: Any) -> float:
    return float(detector.detector_.threshold_)


def _evaluate_detector(detector: Any, events: pd.DataFrame, labels: pd.DataFrame) -> Evaluation:
    windows = detector.score_windows(events)
    return evaluate_windows(
        windows,
        labels,
        threshold=float(detector.threshold),
        exclude_cold_start=bool(detector.exclude_cold_start),
    )


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


def _start_run_args(experiment: str, uri: str) -> str:
    from mlflow import MlflowClient

    return ensure_experiment(MlflowClient(), experiment, artifact_location=artifact_root_for(uri))


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


def _log_frame(frame: pd.DataFrame, artifact: str) -> None:
    import mlflow

    with tempfile.TemporaryDirectory(prefix="changewatch-artifact-") as scratch:
        path = Path(scratch) / Path(artifact).name
        frame.to_parquet(path, index=False)
        folder = str(Path(artifact).parent)
        mlflow.log_artifact(str(path), artifact_path=None if folder == "." else folder)


def _run_frame(client: MlflowClient, run_id: str, artifact: str) -> pd.DataFrame | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    names = (
        {f.path for f in client.list_artifacts(run_id, str(Path(artifact).parent))}
        if "/" in artifact
        else {f.path for f in client.list_artifacts(run_id)}
    )
    if artifact not in names:
        return None
    with tempfile.TemporaryDirectory(prefix="changewatch-fetch-") as scratch:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=artifact, dst_path=scratch
            )
        except MlflowException:  # pragma: no cover - listed a moment ago
            return None
        return pd.read_parquet(path)


def evaluate(
    model_uri: str,
    events: EventsArg,
    labels: LabelsArg,
    *,
    tracking_uri: str | None = None,
) -> Evaluation:
    """Report the evaluation metrics of any model on any labelled events.

    ``model_uri`` is anything :func:`training.load_model_bundle` resolves
    (``models:/NAME@champion``, ``models:/NAME/3``, ``runs:/...``, a local directory).
    """
    from models import load_bundle

    table, _ = _events(events)
    label_table = _labels(labels)
    if label_table is None:
        raise ConfigurationError("evaluate needs labels")
    detector = load_bundle(load_model_bundle(model_uri, tracking_uri=tracking_uri))
    return _evaluate_detector(detector, table, label_table)


@dataclass(frozen=True, slots=True)
class PromotionResult:
    """The decision of :func:`promote` and the figures it rests on."""

    name: str
    decision: str
    champion_version: str
    challenger_version: str
    previous_champion: str | None
    metric: str
    challenger_value: float | None
    champion_value: float | None
    evaluated_on: str

    def to_json(self) -> dict[str, Any]:
        """Return the CLI's summary line."""
        return {
            "name": self.name,
            "decision": self.decision,
            "champion": self.champion_version,
            "challenger": self.challenger_version,
            "previous_champion": self.previous_champion,
            "metric": self.metric,
            "challenger_value": self.challenger_value,
            "champion_value": self.champion_value,
            "evaluated_on": self.evaluated_on,
        }


def _value(evaluation: Evaluation, metric: str) -> float | None:
    value = evaluation.metrics.get(metric, math.nan)
    return None if math.isnan(value) else float(value)


def promote(
    name: str,
    *,
    events: EventsArg | None = None,
    labels: LabelsArg = None,
    metric: str = "pr_auc",
    tracking_uri: str | None = None,
) -> PromotionResult:
    """Compare ``name@challenger`` with ``name@champion`` and move ``champion`` if not worse.

    Both are scored on the same labelled events: ``events`` and ``labels`` when given,
    else the evaluation set recorded with the challenger's run. The first model becomes
    champion without a comparison. The decision, the metric and both figures are set as
    tags on the challenger's model version (``promotion.*``).

    Raises
    ------
    ConfigurationError
        When there is no challenger, the metric is unknown, or a comparison is needed
        and no labelled set is available.
    """
    from mlflow import MlflowClient

    if metric not in PROMOTION_METRICS:
        raise ConfigurationError(
            f"metric must be one of {', '.join(PROMOTION_METRICS)}, got {metric!r}"
        )
    if (events is None) != (labels is None):
        raise ConfigurationError("give both --events and --labels, or neither")
    with tracking(tracking_uri) as uri:
        client = MlflowClient()
        challenger = alias_version(client, name, CHALLENGER)
        if challenger is None:
            raise ConfigurationError(
                f"model {name!r} has no @{CHALLENGER} version; train one first"
            )
        champion = alias_version(client, name, CHAMPION)
        version = str(challenger.version)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        if champion is None or str(champion.version) == version:
            decision = "first" if champion is None else "unchanged"
            client.set_registered_model_alias(name, CHAMPION, version)
            _tag(client, name, version, {"decision": decision, "metric": metric, "time": now})
            return PromotionResult(name, decision, version, version, None, metric, None, None, "-")
        table: pd.DataFrame | None
        if events is not None:
            table, evaluated_on = _events(events)
            label_table = _labels(labels)
        else:
            run = str(challenger.run_id)
            table = _run_frame(client, run, _EVAL_EVENTS)
            label_table = _run_frame(client, run, _EVAL_LABELS)
            evaluated_on = f"runs:/{run}/evaluation"
        if table is None or label_table is None:
            raise ConfigurationError(
                f"the run of {name} version {version} recorded no labelled evaluation set; "
                "pass --events and --labels"
            )
        from models import load_bundle

        figures = {}
        for role, mv in ((CHALLENGER, challenger), (CHAMPION, champion)):
            bundle = load_model_bundle(f"models:/{name}/{mv.version}", tracking_uri=uri)
            figures[role] = _evaluate_detector(load_bundle(bundle), table, label_table)
        ours, theirs = _value(figures[CHALLENGER], metric), _value(figures[CHAMPION], metric)
        if ours is None:
            decision = "rejected"
        elif theirs is None:
            decision = "promoted"
        else:
            decision = "promoted" if ours >= theirs - 1e-12 else "rejected"
        if decision == "promoted":
            client.set_registered_model_alias(name, CHAMPION, version)
        tags: dict[str, Any] = {
            "decision": decision,
            "metric": metric,
            "time": now,
            "evaluated_on": evaluated_on[:4000],
            "champion_version": str(champion.version),
        }
        for role, evaluation in figures.items():
            for key in PROMOTION_METRICS:
                tags[f"{role}.{key}"] = _value(evaluation, key)
        _tag(client, name, version, tags)
        logger.info("%s version %s %s (%s %s vs %s)", name, version, decision, metric, ours, theirs)
        return PromotionResult(
            name,
            decision,
            version if decision == "promoted" else str(champion.version),
            version,
            str(champion.version),
            metric,
            ours,
            theirs,
            evaluated_on,
        )


def _tag(client: MlflowClient, name: str, version: str, tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(
            name, version, f"promotion.{key}", "none" if value is None else str(value)
        )
    client.set_registered_model_tag(
        name, "promotion.last", json.dumps({"version": version, **tags}, default=str)
    )


@dataclass(frozen=True, slots=True)
class RetrainResult:
    """What the scheduled job did."""

    train: TrainResult
    promotion: PromotionResult | None
    max_psi: float | None
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the CLI's summary line."""
        data = self.train.to_json()
        data["promotion"] = self.promotion.to_json() if self.promotion else None
        data["max_psi"] = self.max_psi
        if self.skipped:
            data["promotion_skipped"] = self.skipped
        return data


def retrain(
    events: EventsArg,
    *,
    name: str,
    days: float = 30.0,
    labels: LabelsArg = None,
    evaluation_events: EventsArg | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    tracking_uri: str | None = None,
    metric: str = "pr_auc",
    progress: Progress = None,
    **settings: Any,
) -> RetrainResult:
    """Run the scheduled job: train on the newest ``days``, report drift, register, promote.

    Steps: newest ``days`` of events, profile merge, train, evaluate, register, drift
    report against the champion's training data, promote.

    The previous champion's profiles carry history older than ``days`` (identities
    quiet lately keep their baseline). ``settings`` go to ``models.ChangeDetector``
    (``n_estimators``, ``threshold``, ...). Without labels the new version becomes
    champion only when there is none yet.
    """
    import mlflow
    from mlflow import MlflowClient

    from models import load_bundle

    all_events, _ = _events(events)
    end = pd.Timestamp(all_events["event_time"].max())
    since = end - pd.Timedelta(days=days)
    previous = None
    reference = None
    with tracking(tracking_uri) as uri:
        client = MlflowClient()
        champion = alias_version(client, name, CHAMPION) if _registered(client, name) else None
        if champion is not None:
            previous = load_bundle(
                load_model_bundle(f"models:/{name}/{champion.version}", tracking_uri=uri)
            )
            reference = _run_frame(client, str(champion.run_id), TRAINING_VECTORS)
    result = train(
        all_events,
        since=since,
        labels=labels,
        evaluation_events=evaluation_events,
        experiment=experiment,
        tracking_uri=tracking_uri,
        register_as=name,
        history=getattr(previous, "profiles_", None),
        run_name=f"retrain {end:%Y-%m-%d}",
        tags={"changewatch.job": "retrain"},
        progress=progress,
        **settings,
    )
    max_psi = None
    with tracking(tracking_uri) as uri:
        client = MlflowClient()
        if reference is not None:
            current = _run_frame(client, result.run_id, TRAINING_VECTORS)
            assert current is not None
            features = [
                c
                for c in current.columns
                if c not in ("identity_key", "window_start", "window_end")
            ]
            report = drift_report(reference, current, features)
            finite = report["psi"].dropna()
            max_psi = float(finite.max()) if len(finite) else None
            with mlflow.start_run(run_id=result.run_id):
                mlflow.log_table(report, "drift/psi.json")
                if max_psi is not None:
                    mlflow.log_metric("drift_max_psi", max_psi)
                mlflow.log_metric("drift_major_features", float((report["psi"] > MAJOR_PSI).sum()))
                mlflow.set_tag(
                    "drift.reference", f"models:/{name}/{champion.version if champion else '-'}"
                )
        has_eval = labels is not None
        if champion is not None and not has_eval:
            return RetrainResult(result, None, max_psi, skipped="no labelled evaluation set")
    promotion = promote(name, metric=metric, tracking_uri=tracking_uri)
    return RetrainResult(result, promotion, max_psi)


def _registered(client: MlflowClient, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        return False
    return True
