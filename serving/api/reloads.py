"""Model reloads reach every worker process serving the same state.

``POST /v1/model/reload`` reaches one process. When it installs the new model it
increments the ``model`` counter in the state database (:meth:`StateStore.bump`); every
process runs a :class:`ReloadFollower` thread that looks at that counter every
``CHANGEWATCH_RELOAD_POLL_SECONDS`` and reloads when it moved. A process that fails to
load keeps its model (and says so in ``GET /v1/model``), as a failed reload always does.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import threading

from serving._model_holder import ModelHolder
from serving._periodic import Periodic
from serving._state import StateStore
from serving.api.metrics import Metrics

__all__ = ["ReloadFollower", "announce_reload", "refreeze"]

logger = logging.getLogger(__name__)

# Taken around reading and setting a holder's generation, so that this process's own
# follower never sees a counter this process bumped before the holder records it.
_generation = threading.Lock()


def refreeze() -> None:
    """Let the collector free the model just replaced, then freeze what is live again.

    The service freezes its start-up heap (``gc.freeze``) so that full collections do
    not walk the model on every pass; a replaced model would otherwise stay frozen.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def announce_reload(store: StateStore, holder: ModelHolder) -> None:
    """Tell the other processes that this one installed a new model."""
    with _generation:
        holder.generation = store.bump("model")
    refreeze()


class ReloadFollower(Periodic):
    """A daemon thread reloading the model when another process announced a reload.

    Parameters
    ----------
    store : StateStore
        The shared state, whose ``model`` counter is watched.
    holder : ModelHolder
        This process's model.
    metrics : Metrics
        Told about the model installed.
    every : float
        Seconds between two looks at the counter.
    generation : int
        The ``model`` counter read *before* the model at start was loaded, so that a
        reload announced while it loaded is followed.
    """

    def __init__(
        self,
        store: StateStore,
        holder: ModelHolder,
        metrics: Metrics,
        every: float,
        *,
        generation: int,
    ) -> None:
        super().__init__("model-reloads", every)
        holder.generation = generation
        self._store = store
        self._holder = holder
        self._metrics = metrics

    def tick(self) -> None:
        """Reload when another process announced a newer model."""
        try:
            announced = self._store.version("model")
        except sqlite3.Error:  # closed or unreadable: /readyz says so
            return
        with _generation:
            if announced <= self._holder.generation:
                return
            self._holder.generation = announced  # a failed load is not retried every time
        logger.info("model reload %d announced by another process", announced)
        reloaded, _ = self._holder.reload()
        self._metrics.set_model(self._holder.current)
        if reloaded:
            refreeze()
