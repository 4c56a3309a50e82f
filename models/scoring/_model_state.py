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

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from pandas.api.internals import (  # type: ignore[import-not-found]  # not in pandas-stubs
    create_dataframe_from_blocks,
)

from features import FEATURISER_INPUT_COLUMNS, EventColumns, FeatureState
from models import column_arrays
from models.scoring._contract import WindowScore
from models.scoring._detector_scorer import DetectorScorer, event_times
from models.scoring._rules import Hit

__all__ = ["FOLD_ROWS", "LEAN_COLUMNS", "MODEL_COLUMNS", "IdentityState", "lean"]

logger = logging.getLogger(__name__)

FOLD_ROWS: Final = 2048
"""Open events after which the oldest open day is folded even before a day has passed."""
MODEL_COLUMNS: Final = tuple(
    dict.fromkeys((*FEATURISER_INPUT_COLUMNS, "event_source", "principal_arn", "by_service"))
)
"""The columns a state keeps of each event: what the featuriser reads, and what a finding's
account, regions and change context are read from (``models.scoring.event_facts``)."""
_US: Final = 1000
_DAY: Final = 86_400 * 10**9
_UTC_NAMES: Final = frozenset({"UTC"})
"""Zones of a timestamp column :func:`lean` reads as UTC times directly (others: ``to_pandas``)."""


def lean(events: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """Return the :data:`MODEL_COLUMNS` of canonical events, text as Python strings.

    ``events`` is a frame or an Arrow table.
    A state copies and filters its events with every batch; plain object columns make
    that several times cheaper than Arrow-backed strings, for the same vectors.
    """
    if isinstance(events, pa.Table):
        return _lean_table(events)
    frame = events[list(MODEL_COLUMNS)]
    text = {
        name: object
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.StringDtype) or str(dtype) == "str"
    }
    lean_frame = frame.astype(text) if text else frame.copy()
    lean_frame.columns = LEAN_COLUMNS
    return lean_frame


def _lean_table(events: pa.Table) -> pd.DataFrame:
    """Return :func:`lean` of an Arrow table, without building a frame column by column.

    Each column is converted by Arrow to a numpy array and the frame is made of those
    arrays as its blocks (one block of every object column: the text as Python strings,
    ``None`` for a null), with no inference or copy by pandas: the same columns, dtypes
    and values as converting each column (ADR 0062). A column of a type this does not
    know goes the general way (:func:`_lean_table_converted`).
    """
    plan = _direct_plan(events.schema)
    if plan is None:
        return _lean_table_converted(events)
    by_dtype: dict[np.dtype[Any], list[tuple[int, npt.NDArray[Any]]]] = {}
    blocks: list[tuple[Any, npt.NDArray[np.intp]]] = []
    for at, (position, zoned) in enumerate(plan):
        column = events.column(position)
        if zoned is not None:  # UTC times (_converts_directly): the dtype's own conversion
            blocks.append((zoned.__from_arrow__(column), np.array([at])))
            continue
        values = column.to_numpy(zero_copy_only=False)
        by_dtype.setdefault(values.dtype, []).append((at, values))
    for dtype, columns in by_dtype.items():  # one block a dtype, as pandas consolidates
        block = np.empty((len(columns), events.num_rows), dtype=dtype)
        for row, (_, values) in enumerate(columns):
            block[row] = values
        blocks.append((block, np.array([at for at, _ in columns], dtype=np.intp)))
    frame: pd.DataFrame = create_dataframe_from_blocks(
        blocks, index=pd.RangeIndex(events.num_rows), columns=LEAN_COLUMNS
    )
    return frame


LEAN_COLUMNS: Final = pd.Index(list(MODEL_COLUMNS), dtype=object)
"""The column labels of every :func:`lean` frame: plain Python strings, made once.

An index is immutable, so the frames share it. Labels of pandas' ``str`` dtype (what
``pd.Index`` of strings infers) cost an Arrow lookup each time a label is read: a
``frame[name]``, or the live state's columns (``features.EventColumns``) reading the
labels of every frame they are made of; making the index per call cost more than the
rest of a one-row frame's conversion."""


_Plan = tuple[tuple[int, Any], ...]
"""Per :data:`MODEL_COLUMNS` column, its position in the table and, for times, their dtype."""
_LAST_PLAN: tuple[pa.Schema | None, _Plan | None] = (None, None)
"""The last schema :func:`_direct_plan` judged, and its answer."""


def _direct_plan(schema: pa.Schema) -> _Plan | None:
    """How :func:`_lean_table` reads tables of ``schema``; ``None`` for the general way.

    Per :data:`MODEL_COLUMNS` column, its position and, for a timestamp column, the
    dtype ``to_pandas`` gives it (:func:`_pandas_dtype`); ``None`` when a column does not
    convert directly (:func:`_converts_directly`) or is not there once. Kept for the
    last schema seen: every request's table has the canonical schema, and comparing two
    schemas costs far less than hashing one (what a cache keyed by schemas does per call).
    """
    global _LAST_PLAN  # noqa: PLW0603 (one entry, replaced whole: safe across threads)
    last, plan = _LAST_PLAN
    if last is None or not schema.equals(last):
        found = [schema.get_field_index(name) for name in MODEL_COLUMNS]  # -1: not once
        kinds = [schema.field(at).type if at >= 0 else None for at in found]
        direct = all(kind is not None and _converts_directly(kind) for kind in kinds)
        plan = (
            tuple(
                (at, _pandas_dtype(kind) if pa.types.is_timestamp(kind) else None)
                for at, kind in zip(found, kinds, strict=True)
            )
            if direct
            else None
        )
        _LAST_PLAN = (schema, plan)
    return plan


@functools.lru_cache(maxsize=16)
def _pandas_dtype(kind: pa.DataType) -> Any:
    """Return the dtype Arrow's ``to_pandas`` gives a column of ``kind`` (its zone too)."""
    return pa.array([], kind).to_pandas().dtype


def _converts_directly(kind: pa.DataType) -> bool:
    """Whether Arrow's ``to_numpy`` of a column of ``kind`` is what ``to_pandas`` gives.

    Text (kept as Python strings by :func:`lean`), booleans, numbers, UTC timestamps and
    lists of text: nulls become ``None`` (object arrays) or NaN (numbers) both ways.
    """
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        kind = kind.value_type
        return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))
    if pa.types.is_timestamp(kind):
        return kind.tz in _UTC_NAMES
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
    )


def _lean_table_converted(events: pa.Table) -> pd.DataFrame:
    """Return :func:`lean` of a table through one ``to_pandas`` of its non-text columns."""
    names = list(MODEL_COLUMNS)
    schema = events.schema
    text = [
        name
        for name in names
        if pa.types.is_string(schema.field(name).type)
        or pa.types.is_large_string(schema.field(name).type)
    ]
    rest = events.select([name for name in names if name not in text]).to_pandas()
    block = np.empty((events.num_rows, len(text)), dtype=object)
    for at, name in enumerate(text):
        block[:, at] = events.column(name).to_numpy(zero_copy_only=False)
    strings = pd.DataFrame(block, columns=text, dtype=object, index=rest.index)
    lean_frame: pd.DataFrame = pd.concat([strings, rest], axis=1)[names]
    lean_frame.columns = LEAN_COLUMNS
    return lean_frame


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
        return cls(identity, FeatureState(state.profiles, lean(state.recent)), keep_open)

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
        self,
        scorer: DetectorScorer,
        events: pd.DataFrame,
        *,
        fold: bool = True,
        times: npt.NDArray[np.int64] | None = None,
    ) -> IdentityState:
        """Take in the identity's new ``events``; fold the oldest open day when it is due.

        Events of the training period (before ``scorer.training_end``) are left out: the
        profiles summarise training. The state folds up to ``keep_open`` before the latest
        event once it holds more than a day beyond that, or :data:`FOLD_ROWS` open events;
        ``fold=False`` takes the events in without folding (the windows stay open).
        ``times``: the events' times (ns), when the caller has read them already.
        """
        own, times = self._own_times(scorer, events, times)
        if not len(own):
            return self
        if len(own) > 1 and (np.diff(times) < 0).any():
            order = np.argsort(times, kind="stable")
            own, times = own.take(order), times[order]
        latest = max(int(times[-1]), self.latest or np.iinfo(np.int64).min)
        until = self.until
        if fold:
            window = self.features.config.window_ns
            target = latest - self.keep_open
            target -= target % window
            if target - until > _DAY or (len(own) + self._open_rows(until) > FOLD_ROWS):
                until = target
        features = self.features.advance(own, until=until)
        return IdentityState(self.identity, features, self.keep_open, latest)

    def _open_rows(self, until: int) -> int:
        """How many of the state's events are at or after ``until`` (ns)."""
        return int((self.features.recent_times() >= until).sum())

    def accepts(self, scorer: DetectorScorer, events: pd.DataFrame) -> bool:
        """Tell whether ``events`` can be taken in: none of them falls in a folded window."""
        times = self._own_times(scorer, events)[1]
        return not len(times) or int(times.min()) >= self.until

    def windows(
        self,
        scorer: DetectorScorer,
        batch: pd.DataFrame,
        *,
        since: int,
        hits: Iterable[Hit] = (),
        moments: Sequence[int] = (),
        times: npt.NDArray[np.int64] | None = None,
    ) -> list[WindowScore]:
        """Return the windows of this identity a request's findings can hold.

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
        times : numpy.ndarray, optional
            Times (ns) of ``batch``'s events, in its order, when the caller has read
            them already (the service reads a request's times once); read from
            ``batch`` otherwise.

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
        own, own_times = self._own_times(scorer, batch, times)
        wanted = self._wanted(own_times, hits, moments)
        held = self.features.n_recent
        if not wanted or not (len(own) or held):
            return []
        # The featuriser gives the windows that its events touch, measured against all the
        # state's events: one stored event (at or after ``since``) stands for each wanted
        # window the batch does not touch. One before the profiles' end (the look-back the
        # sequence features read) stands for none: the featuriser never measures it, so it
        # stays look-back (passed as new it only made the featuriser warn, ADR 0059).
        window = self.features.config.window_ns
        times = self.features.recent_times()
        starts = times - times % window
        taken = set(column_arrays(own, ("event_id",))[0].tolist())
        pick: dict[int, int] = {}
        candidates = (times >= since) & np.isin(starts, list(wanted))
        if candidates.any():
            ids = self.features.recent_values("event_id")
            for row in np.flatnonzero(candidates).tolist():
                if ids[row] not in taken:
                    pick.setdefault(int(starts[row]), row)
        touched = set((own_times // window * window).tolist())
        until = self.until
        rows = [row for start, row in pick.items() if start not in touched and times[row] >= until]
        events = self._with_stand_ins(rows, own)
        if not len(events):
            return []
        return scorer.score_with_state(events, self.features)

    def _with_stand_ins(self, rows: list[int], own: pd.DataFrame) -> pd.DataFrame:
        """Return the state's events at ``rows`` then ``own``, as one frame.

        ``pd.concat([recent.iloc[rows], own], ignore_index=True)``: pooled as columns when
        the state holds its events so and ``own`` has the same columns (ADR 0065).
        """
        if not rows:
            return own
        held = self.features.open_events
        if held is not None:
            new = EventColumns.of(own, copy=False)
            pooled = EventColumns.concat([held.take(rows), new]) if new is not None else None
            if pooled is not None:
                return pooled.to_frame()
        return pd.concat([self.features.recent.iloc[rows], own], ignore_index=True)

    @staticmethod
    def _own(scorer: DetectorScorer, events: pd.DataFrame) -> pd.DataFrame:
        """Return ``events`` without those of the training period (no copy when none is)."""
        return IdentityState._own_times(scorer, events)[0]

    @staticmethod
    def _own_times(
        scorer: DetectorScorer,
        events: pd.DataFrame,
        times: npt.NDArray[np.int64] | None = None,
    ) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
        """Return :meth:`_own` of ``events`` and their times (ns).

        ``times``: the events' times (ns, in their order) when the caller has them.
        """
        if not len(events):
            return events, np.zeros(0, dtype=np.int64)
        times = event_times(events, times)
        later = times >= int(scorer.training_end.value)
        return (events, times) if later.all() else (events[later], times[later])

    def events_of(self, windows: Iterable[WindowScore]) -> pd.DataFrame:
        """Return the state's events that ``windows`` name (for the findings' facts)."""
        ids = {event_id for window in windows for event_id in window.event_ids}
        state = self.features
        if not ids or not state.n_recent:
            return state.recent_rows(np.zeros(0, dtype=np.intp))
        named = np.fromiter(
            (event_id in ids for event_id in state.recent_values("event_id").tolist()), dtype=bool
        )
        return state.recent_rows(np.flatnonzero(named), keep_index=True)

    def _wanted(
        self, times: npt.NDArray[np.int64], hits: Iterable[Hit], moments: Sequence[int]
    ) -> set[int]:
        """Window starts a finding about the request can hold (see :meth:`windows`).

        ``times`` are those of the request's own events (ns).
        """
        window = self.features.config.window_ns
        wanted: set[int] = set((times - times % window).tolist())
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
