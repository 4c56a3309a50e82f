"""Training side of changewatch: MLflow runs, the registry, evaluation and the simulator.

Public surface::

    train(events, since=..., until=..., labels=..., register_as=...)  -> TrainResult
    evaluate(model_uri, events, labels)                                -> Evaluation
    promote(name, events=None, labels=None)                            -> PromotionResult
    retrain(events, name=..., days=30, labels=...)                     -> RetrainResult
    load_model_bundle("models:/changewatch@champion")                  -> local bundle dir
    vector_scorer_uri("models:/changewatch@champion")                  -> its spark_udf model
    evaluate_windows(windows, labels), population_stability, drift_report
    resolve_tracking_uri(uri)                                          -> the store in use

MLflow is imported only when one of these runs (``training.simulation`` and the
``changewatch`` commands other than train/evaluate/promote/retrain never load it).
The pyfunc model files, ``training/_pyfunc.py`` (events) and
``training/_pyfunc_vectors.py`` (vectors, for ``spark_udf``), are logged as "models from
code" and are not imported here.
"""

from __future__ import annotations

from training._budget import (
    BudgetRun,
    findings_budget,
    labelled_events,
    simulated_budget,
    window_auc,
)
from training._data import LABEL_KINDS, load_events, read_labels
from training._drift import drift_report, population_stability
from training._evaluate import FPR_BUDGET, Evaluation, evaluate_windows, label_windows
from training._promote import PROMOTION_METRICS, PromotionResult, evaluate, promote
from training._registry import (
    CHALLENGER,
    CHAMPION,
    describe_model,
    load_model_bundle,
    scorer_requirements,
    vector_scorer_uri,
)
from training._retrain import RetrainResult, retrain
from training._runs import TRAINING_VECTORS
from training._tracking import DEFAULT_EXPERIMENT, artifact_root_for, resolve_tracking_uri
from training._train import TRAIN_STEPS, TrainResult, train

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_EXPERIMENT",
    "FPR_BUDGET",
    "LABEL_KINDS",
    "PROMOTION_METRICS",
    "TRAINING_VECTORS",
    "TRAIN_STEPS",
    "BudgetRun",
    "Evaluation",
    "PromotionResult",
    "RetrainResult",
    "TrainResult",
    "artifact_root_for",
    "describe_model",
    "drift_report",
    "evaluate",
    "evaluate_windows",
    "findings_budget",
    "label_windows",
    "labelled_events",
    "load_events",
    "load_model_bundle",
    "population_stability",
    "promote",
    "read_labels",
    "resolve_tracking_uri",
    "retrain",
    "scorer_requirements",
    "simulated_budget",
    "train",
    "vector_scorer_uri",
    "window_auc",
]
