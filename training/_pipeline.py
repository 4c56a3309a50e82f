"""train, evaluate, promote and retrain: the detector's life in MLflow.

Every function takes canonical events (paths or a frame), talks to the tracking store
named by ``tracking_uri`` (see :func:`training.resolve_tracking_uri`) and returns a
small result whose ``to_json()`` is the CLI's summary line.

This module gathers them; each lives in the module named for what it owns:
``training._train`` (train and its MLflow logging), ``training._promote`` (evaluate,
promote and the promotion decision and tags), ``training._retrain`` (the scheduled job)
and ``training._runs`` (what they share: argument types, experiment setup, a run's
stored frames).
"""

from __future__ import annotations

from training._promote import PROMOTION_METRICS, PromotionResult, evaluate, promote
from training._retrain import RetrainResult, retrain
from training._runs import TRAINING_VECTORS, EventsArg, LabelsArg, Progress
from training._train import TRAIN_STEPS, TrainResult, train

__all__ = [
    "PROMOTION_METRICS",
    "TRAINING_VECTORS",
    "TRAIN_STEPS",
    "EventsArg",
    "LabelsArg",
    "Progress",
    "PromotionResult",
    "RetrainResult",
    "TrainResult",
    "evaluate",
    "promote",
    "retrain",
    "train",
]
