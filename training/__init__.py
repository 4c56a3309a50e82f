"""Training side of changewatch: MLflow runs, the registry, evaluation and the simulator.

Public surface::

    train(events, since=..., until=..., labels=..., register_as=...)  -> TrainResult
    evaluate(model_uri, events, labels, since=...)                     -> Evaluation
    promote(name, version=..., metric=..., tolerance=...)              -> PromotionResult
    retrain(events, name=..., days=30, holdout_days=7, labels=...)     -> RetrainResult
    sweep(events, [settings, ...], until=..., labels=...)              -> list[TrainResult]
    open_model(uri, tracking_uri=...)                                  -> bundle + registration
    load_model_bundle("models:/changewatch@champion")                  -> local bundle dir
    vector_scorer_uri("models:/changewatch@champion")                  -> its spark_udf model
    pyfunc_input(events)                                               -> the scorer's input
    evaluate_windows(windows, labels), METRICS, metrics_markdown()
    population_stability, drift_report, resolve_tracking_uri(uri)

MLflow is imported only when one of these runs (``training.simulation`` and the
``changewatch`` commands other than train/evaluate/promote/retrain never load it).
The pyfunc model files, ``training/_pyfunc.py`` (events) and
``training/_pyfunc_vectors.py`` (vectors, for ``spark_udf``), are logged as "models from
code" and are not imported here.
"""

from __future__ import annotations

from training._budget import (
    BudgetRun,
    cloud_budgets,
    findings_budget,
    labelled_events,
    simulated_budget,
    window_auc,
)
from training._data import LABEL_KINDS, load_events, read_labels
from training._drift import drift_report, population_stability
from training._evaluate import (
    DEFAULT_FAMILIES,
    FPR_BUDGET,
    Evaluation,
    EvaluationInput,
    MetricFamily,
    evaluate_windows,
    label_windows,
)
from training._metrics import METRICS, PROMOTION_METRICS, MetricSpec, metrics_markdown
from training._promote import PromotionResult, evaluate, promote
from training._pyfunc_io import PYFUNC_OUTPUT_COLUMNS, pyfunc_input
from training._registry import CHALLENGER, CHAMPION, scorer_requirements
from training._resolve import (
    ModelLocation,
    describe_model,
    load_model_bundle,
    open_model,
    vector_scorer_uri,
)
from training._retrain import RetrainResult, retrain
from training._runs import TRAINING_VECTORS
from training._sweep import sweep
from training._tracking import (
    DEFAULT_EXPERIMENT,
    artifact_root_for,
    require_store,
    resolve_tracking_uri,
    ui_url,
)
from training._train import TRAIN_STEPS, TrainResult, train

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_EXPERIMENT",
    "DEFAULT_FAMILIES",
    "FPR_BUDGET",
    "LABEL_KINDS",
    "METRICS",
    "PROMOTION_METRICS",
    "PYFUNC_OUTPUT_COLUMNS",
    "TRAINING_VECTORS",
    "TRAIN_STEPS",
    "BudgetRun",
    "Evaluation",
    "EvaluationInput",
    "MetricFamily",
    "MetricSpec",
    "ModelLocation",
    "PromotionResult",
    "RetrainResult",
    "TrainResult",
    "artifact_root_for",
    "cloud_budgets",
    "describe_model",
    "drift_report",
    "evaluate",
    "evaluate_windows",
    "findings_budget",
    "label_windows",
    "labelled_events",
    "load_events",
    "load_model_bundle",
    "metrics_markdown",
    "open_model",
    "population_stability",
    "promote",
    "pyfunc_input",
    "read_labels",
    "require_store",
    "resolve_tracking_uri",
    "retrain",
    "scorer_requirements",
    "simulated_budget",
    "sweep",
    "train",
    "ui_url",
    "vector_scorer_uri",
    "window_auc",
]
