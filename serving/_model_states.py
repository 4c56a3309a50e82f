"""The model's state of each identity, kept in this process and checked against the shared store.

With a model loaded, a request's windows come from the identity's
:class:`models.scoring.IdentityState` (ADR 0032) instead of re-featurising every stored
event of the identity. The states live in memory, one per identity (at most
``capacity``, least recently used dropped), and each remembers which of the identity's
stored events it has taken in: the store's key of the newest, and how many.

The store is the truth; a state is only a faster way to the same answer:

* another worker process (``serve --workers N``) stored events of the identity since:
  the admission reads them from the append log (keys are never reused) and the state
  takes them in before scoring;
* the store dropped some of the identity's events (retention), or this process has no
  state yet (a start, a restart, a new model, an identity not seen for long): the request
  is scored the reference way, from the identity's stored events
  (:meth:`DetectorScorer.score_identities`), and the state is rebuilt from them;
* an event older than the state's open day, or a window sent again long after it closed:
  the same.

Requests of one identity in this process take its lock from admission to the end of the
model's part, so the state advances in the order the store admitted the batches.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from features import to_ns
from models import column_arrays
from models.scoring import (
    CombineSettings,
    DetectorScorer,
    Hit,
    IdentityState,
    ModelWindows,
    RuleSettings,
    WindowScore,
    lean,
)
from serving._stored_events import Arrivals, StoredEvents

__all__ = ["FRAME_HORIZON", "Held", "ModelRead", "ModelStates", "read_model_inputs"]

_RULES: Final = RuleSettings()
FRAME_HORIZON: Final = max(_RULES.sequence_horizon, _RULES.burst_window)
"""Stored events this close before a batch are scored with it (ADR 0015)."""

DEFAULT_CAPACITY: Final = 4096
"""Identities whose state a process keeps (each holds about a day of the identity's events)."""


@dataclass(frozen=True, slots=True)
class Held:
    """An identity's state and which of its stored events it accounts for.

    Attributes
    ----------
    state : IdentityState
        The model's state of the identity.
    key : int
        Store key of the newest event it accounts for (``-1``: none).
    count : int
        How many of the identity's stored events it accounts for.
    """

    state: IdentityState
    key: int
    count: int


@dataclass(frozen=True, slots=True)
class ModelRead:
    """What the admission of a batch read for the model, per identity of the batch.

    Attributes
    ----------
    arrivals : dict of str to Arrivals
        Per identity, its events the held state has not taken in (all of them when it
        must be rebuilt), read before the batch was stored.
    rebuild : frozenset of str
        Identities without a usable state (none held, or the store dropped events of it).
    last_key : int
        The newest store key before the batch.
    """

    arrivals: dict[str, Arrivals]
    rebuild: frozenset[str]
    last_key: int


def read_model_inputs(
    stored: StoredEvents,
    scorer: DetectorScorer,
    held: Mapping[str, Held | None],
    *,
    since: int,
) -> ModelRead:
    """Read, in the batch's admission, what each identity's held state lacks.

    Meant to run inside :meth:`StateStore.admit_reading` (with the rule inputs). An
    identity is rebuilt, from every stored event of it, when no state is held, when its
    count does not add up (the store dropped some of its events), when the request's frame
    (from ``since``, ns) reaches into windows the state folded, or when another process
    stored an event of it that falls in such a window.
    """
    arrivals: dict[str, Arrivals] = {}
    rebuild: set[str] = set()
    for identity, state in held.items():
        if state is not None and state.state.covers(scorer, since):
            newer = stored.arrivals(identity, state.key)
            caught = _frame(newer.rows)
            if newer.total == state.count + len(newer.keys) and (
                caught is None or state.state.accepts(scorer, caught)
            ):
                arrivals[identity] = newer
                continue
        rebuild.add(identity)
        arrivals[identity] = stored.arrivals(identity)
    return ModelRead(arrivals, frozenset(rebuild), stored.last_key())


def _frame(table: pa.Table | None) -> pd.DataFrame | None:
    """Return stored events as a state takes them (:func:`models.scoring.lean`), or ``None``."""
    if table is None or not table.num_rows:
        return None
    return lean(table)


class ModelStates:
    """The identities' model states of this process, for one model (see the module docstring).

    Parameters
    ----------
    horizon : timedelta
        How far back a request's frame reaches; each state keeps that and a window open.
    capacity : int
        Identities kept; the least recently used is dropped first.
    """

    def __init__(self, horizon: timedelta, capacity: int = DEFAULT_CAPACITY) -> None:
        self.horizon = horizon
        self.capacity = capacity
        self._scorer: DetectorScorer | None = None
        self._held: OrderedDict[str, Held] = OrderedDict()
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self.rebuilt = 0
        """Identities rebuilt from the store (for metrics and tests)."""

    @contextmanager
    def locked(self, identities: Sequence[str]) -> Iterator[None]:
        """Hold the identities' locks (in sorted order, so batches never deadlock)."""
        with self._guard:
            locks = [self._locks.setdefault(i, threading.Lock()) for i in sorted(identities)]
        for lock in locks:
            lock.acquire()
        try:
            yield
        finally:
            for lock in reversed(locks):
                lock.release()

    def held(self, scorer: DetectorScorer, identities: Sequence[str]) -> dict[str, Held | None]:
        """Return the states held for ``identities`` (``None`` where none is) under ``scorer``."""
        with self._guard:
            if self._scorer is not scorer:  # a new model: its states start afresh
                self._scorer = scorer
                self._held.clear()
            return {i: self._held.get(i) for i in identities}

    def forget(self, identities: Sequence[str]) -> None:
        """Drop the identities' states (after a failure: they are rebuilt when next needed)."""
        with self._guard:
            for identity in identities:
                self._held.pop(identity, None)

    def put(self, scorer: DetectorScorer, identity: str, held: Held) -> None:
        """Keep ``held`` as the identity's state (unless the model changed meanwhile)."""
        with self._guard:
            if self._scorer is not scorer:
                return
            self._held[identity] = held
            self._held.move_to_end(identity)
            while len(self._held) > self.capacity:
                self._held.popitem(last=False)

    def windows(
        self,
        scorer: DetectorScorer,
        batch: pd.DataFrame,
        read: ModelRead,
        keys: Mapping[str, int],
        hits: Sequence[Hit],
        *,
        since: int,
    ) -> ModelWindows:
        """Return the model's windows for a batch admitted with ``read``; advance the states.

        ``batch`` is the request's events as :func:`models.scoring.lean` gives them;
        ``keys`` the store keys of its newly stored events (by event id). The caller holds
        the identities' locks (:meth:`locked`) since before admission.
        """
        held = self.held(scorer, sorted(read.arrivals))
        windows: list[WindowScore] = []
        frames: list[pd.DataFrame] = []
        # the request's columns, read once as the arrays the frame holds
        keyed, named, timed = column_arrays(batch, ("identity_key", "event_id", "event_time"))
        owners = np.asarray(keyed, dtype=object)
        ids = np.asarray(named, dtype=object)
        times = to_ns(timed)
        for identity in sorted(read.arrivals):
            ours = owners == identity
            every = bool(ours.all())
            mine = batch if every else batch[ours]  # one identity a batch, mostly: no copy
            mine_times = times if every else times[ours]
            mine_ids = ids if every else ids[ours]
            stored = np.fromiter((i in keys for i in mine_ids.tolist()), bool, len(mine_ids))
            every_new = bool(stored.all())
            new = mine if every_new else mine[stored]
            arrivals = read.arrivals[identity]
            state = held.get(identity)
            key = max([-1, *(keys[i] for i in mine_ids[stored].tolist()), *arrivals.keys])
            key = max(key, state.key) if state is not None else key
            # a state rebuilt leaves out all the batch's events, resent ones too
            taken, taken_times = new, mine_times if every_new else mine_times[stored]
            if state is not None and identity not in read.rebuild:
                current = self._caught_up(scorer, state.state, arrivals)
            else:
                current = self._rebuilt(scorer, identity, mine, arrivals, since)
                taken, taken_times = mine, mine_times
            chosen = current.windows(
                scorer, mine, since=since, hits=hits, moments=mine_times.tolist(), times=mine_times
            )
            events = _evidence(current, chosen, mine)
            after = current.advance(scorer, taken, times=taken_times)
            windows += chosen
            frames.append(events)
            self.put(scorer, identity, Held(after, key, arrivals.total + len(new)))
        evidence = _pooled([f for f in frames if len(f)])
        return ModelWindows(windows, evidence, ignored=scorer.ignored(batch, times=times))

    def _caught_up(
        self, scorer: DetectorScorer, state: IdentityState, arrivals: Arrivals
    ) -> IdentityState:
        """Return the held state with what other processes stored taken in (windows open)."""
        caught = _frame(arrivals.rows)
        return state if caught is None else state.advance(scorer, caught, fold=False)

    def _rebuilt(
        self,
        scorer: DetectorScorer,
        identity: str,
        mine: pd.DataFrame,
        arrivals: Arrivals,
        since: int,
    ) -> IdentityState:
        """Rebuild the state from the identity's stored events (the batch's own left out).

        The events before the request's frame (``since``, ns) are folded in, at least the
        frame stays open; the cost is one fold over the identity's stored events, which
        retention bounds.
        """
        self.rebuilt += 1
        stored = _frame(arrivals.rows)
        history = mine.iloc[:0] if stored is None else stored
        history = history[~history["event_id"].isin(mine["event_id"]).to_numpy()]
        moment = to_ns(history["event_time"]) if len(history) else np.zeros(0, np.int64)
        state = IdentityState.build(scorer, identity, history[moment < since], self.horizon)
        return state.advance(scorer, history[moment >= since], fold=False)


def _pooled(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    """``pd.concat(frames, ignore_index=True)``; one frame with a plain index as it is.

    Its readers read rows by position (``models.scoring``'s facts), so a lone frame
    needs no copy (one identity a request, mostly).
    """
    if not frames:
        return None
    if len(frames) == 1:
        index = frames[0].index
        if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
            return frames[0]
    return pd.concat(frames, ignore_index=True)


_SETTINGS: Final = CombineSettings()
"""The combiner's settings: which percentiles alert (a finding may cite those windows)."""


def _evidence(state: IdentityState, found: list[WindowScore], mine: pd.DataFrame) -> pd.DataFrame:
    """Return the events of the alerting windows a finding may cite, and the batch's own."""
    alerting = [w for w in found if not w.cold_start and _SETTINGS.band(w.percentile) is not None]
    if not alerting:
        return mine
    return pd.concat([state.events_of(alerting), mine], ignore_index=True)
