"""The scoring service: what it keeps between requests, the model it holds, its HTTP API.

Scoring itself is :mod:`models.scoring` (the core the command line and Spark share); this
package adds the state of a long-running service and, in :mod:`serving.api`, FastAPI.

Public surface::

    StateStore(path)                  recent events and policy objects in SQLite (WAL)
    FindingsBook(path)                findings returned, their status and verdicts (same file)
    Recorder(book, store)             keeps a scoring run's findings and suppression audit
    verdict_labels(verdicts)          verdicts as event labels (train, evaluate, retrain)
    ModelHolder(uri, loader)          the model in use, swapped atomically on reload
    ModelResolver / local_bundles     how a model URI becomes a bundle directory
    serving.api.create_app(settings)  the FastAPI application (imports FastAPI)
"""

from __future__ import annotations

from serving._findings_book import FindingsBook, StoredFinding, verdict_labels
from serving._model_holder import (
    LoadedModel,
    ModelHolder,
    ModelInfo,
    ModelResolver,
    load_model,
    local_bundles,
)
from serving._state import StateStore
from serving._verdicts import Recorder

__all__ = [
    "FindingsBook",
    "LoadedModel",
    "ModelHolder",
    "ModelInfo",
    "ModelResolver",
    "Recorder",
    "StateStore",
    "StoredFinding",
    "load_model",
    "local_bundles",
    "verdict_labels",
]
