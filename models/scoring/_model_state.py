"""The model's view of one identity between requests: what the service keeps per identity.

The service scores each request's events together with the events of the last day
(the rules' horizon, ADR 0015). With a model it used to re-featurise the identity's whole
stored history for every request. :class:`IdentityState` instead keeps the identity's
:class:`features.FeatureState` (its profile rows, the organisation's first uses, its recent
events), advanced with every batch, and keeps *a day open*: the windows of the last
``keep_open`` stay unfolded, so the windows any request can ask for are recomputed from the
state alone, exactly as :meth:`DetectorScorer.score_identities` computes them from the stored
events (ADR 0032; ``tests/serving/api/test_model_replay.py`` holds the two equal).

A request costs one call of the featuriser over the identity's open events and a score of
the windows it needs, whatever the identity's history; folding the oldest open day into
the profiles happens once a day per identity (or every :data:`FOLD_ROWS` events).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import numpy as np
import pandas as pd

from features import FeatureState, to_ns
from models.scoring._contract import WindowScore
from models.scoring._detector_scorer import DetectorScorer
from models.scoring._rules import Hit

__all__ = ["FOLD_ROWS", "IdentityState"]

logger = logging.getLogger(__name__)

FOLD_ROWS: Final = 2048
"""Open events after which the oldest open day is folded even before a day has passed."""
_US: Final = 1000
_DAY: Final = 86_400 * 10**9


def _ns(moment: object) -> int:
    return int(pd.Timestamp(moment).value)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class IdentityState:
    """One identity's feature state, with a day (at least ``keep_open``) of windows open.

    Attributes
    ----------
    identity : str
        The identity key.
    features : FeatureState
        Profiles up to a window boundary at least ``keep_open`` before the latest event,
        and the events from there on (plus the look-back the sequence features read).
    keep_open : int
        Nanoseconds of windows left open behind the latest event.
    latest : int or None
        Time (ns) of the latest event taken in.
    """

    identity: str
    features: FeatureState
    keep_open: int
    latest: int | None = None

    @classmethod
    def start(cls, scorer: DetectorScorer, identity: str, horizon: timedelta) -> IdentityState:
        """Return the identity as training left it (no event since).

        ``horizon`` is how far back a request's frame reaches (the rules' horizon): the
        state keeps that and one window open.
        """
        state = scorer.identity_state(identity)
        keep_open = horizon // timedelta(microseconds=1) * _US + state.config.window_ns
        return cls(identity, state, keep_open)

    @classmethod
    def build(
        cls, scorer: DetectorScorer, identity: str, events: pd.DataFrame, horizon: timedelta
    ) -> IdentityState:
        """Return the identity after ``events`` (its stored events, in any order)."""
        return cls.start(scorer, identity, horizon).advance(scorer, events)

    @property
    def until(self) -> int:
        """Where the profiles end (ns): windows from here on are open."""
        until = self.features.until_ns
        return until if until is not None else np.iinfo(np.int64).min

    def covers(self, scorer: DetectorScorer, since: int) -> bool:
        """Whether every window with an event at or after ``since`` (ns) is still open.

        Windows of the training period do not count: the model never scores them.
        """
        since = max(since, int(scorer.training_end.value))
        window = self.features.config.window_ns
        return self.until <= since - since % window

    def advance(
        self, scorer: DetectorScorer, events: pd.DataFrame, *, fold: bool = True
    ) -> IdentityState:
        """Take in the identity's new ``events``; fold the oldest open day when it is due.

        Events of the training period (before ``scorer.training_end``) are left out: the
        profiles summarise training. The state folds up to ``keep_open`` before the latest
        event once it holds more than a day beyond that, or :data:`FOLD_ROWS` open events;
        ``fold=False`` takes the events in without folding (the windows stay open).
        """  # noqa: D401
        own = events[events["event_time"] >= scorer.training_end]
        if not len(own):
            return self
        own = own.sort_values("event_time", kind="stable")
        latest = max(_ns(own["event_time"].iloc[-1]), self.latest or np.iinfo(np.int64).min)
        until = self.until
        if fold:
            window = self.features.config.window_ns
            target = latest - self.keep_open
            target -= target % window
            recent = self.features.recent
            open_rows = len(own) + (
                int((to_ns(recent["event_time"]) >= until).sum()) if len(recent) else 0
            )
            if target - until > _DAY or open_rows > FOLD_ROWS:
                until = target
        features = self.features.advance(own, until=until)
        return IdentityState(self.identity, features, self.keep_open, latest)

    def accepts(self, scorer: DetectorScorer, events: pd.DataFrame) -> bool:
        """Tell whether ``events`` can be taken in: none of them falls in a folded window."""
        own = events[events["event_time"] >= scorer.training_end]
        return not len(own) or int(to_ns(own["event_time"]).min()) >= self.until

    def windows(
        self,
        scorer: DetectorScorer,
        batch: pd.DataFrame,
        *,
        since: int,
        hits: Iterable[Hit] = (),
        moments: Sequence[int] = (),
    ) -> list[WindowScore]:
        """The windows of this identity a request's findings can hold.

        Parameters
        ----------
        scorer : DetectorScorer
            The model the state was built for.
        batch : pandas.DataFrame
            The request's events of this identity (new and sent before).
        since : int
            Start (ns) of the request's frame: the service scores the events from here on
            with the request (its first event less the rules' horizon).
        hits : iterable of Hit
            The rule hits of the request (those of other identities are ignored).
        moments : sequence of int
            Times (ns) of the request's events of this identity.

        Returns
        -------
        list of WindowScore
            Of the windows :meth:`DetectorScorer.score_identities` gives for the frame,
            those that touch the request's events or its moments, or overlap a hit of the
            identity: the only ones a finding about the request can hold (ADR 0032).

        Raises
        ------
        ValueError
            When a window of the frame is folded already (:meth:`covers` is false): the
            caller rebuilds the state from the stored events instead.
        """
        if not self.covers(scorer, since):
            raise ValueError(f"{self.identity}: the state folded windows after {since}")
        own = batch[batch["event_time"] >= scorer.training_end]
        recent = self.features.recent
        times = to_ns(recent["event_time"]) if len(recent) else np.zeros(0, dtype=np.int64)
        open_rows = recent[np.asarray(times >= since)]
        wanted = self._wanted(own, hits, moments)
        if not wanted:
            return []
        window = self.features.config.window_ns
        starts = to_ns(open_rows["event_time"]) if len(open_rows) else np.zeros(0, np.int64)
        chosen = open_rows[np.isin(starts - starts % window, list(wanted))]
        chosen = chosen[~chosen["event_id"].isin(own["event_id"])]
        events = pd.concat([chosen, own], ignore_index=True) if len(own) else chosen
        if not len(events):
            return []
        return scorer.score_with_state(events, self.features)

    def _wanted(self, own: pd.DataFrame, hits: Iterable[Hit], moments: Sequence[int]) -> set[int]:
        """Window starts a finding about the request can hold (see :meth:`windows`)."""
        window = self.features.config.window_ns
        wanted: set[int] = set()
        if len(own):
            times = to_ns(own["event_time"])
            wanted.update((times - times % window).tolist())
        for moment in moments:
            start = moment - moment % window
            wanted.add(start)
            if moment == start:  # a window ending at the moment holds it too (closed spans)
                wanted.add(start - window)
        for hit in hits:
            if hit.identity != self.identity:
                continue
            first = _ns(hit.start)
            last = _ns(hit.end) + _US  # a hit's span is closed: [start, end + 1 us)
            wanted.update(range(first - first % window, last, window))
        return wanted
