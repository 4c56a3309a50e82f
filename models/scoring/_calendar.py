"""The change calendar: which window or ticket approves an event, or which freeze forbids it.

Precedence (``docs/adr/0011-rules-as-code-and-change-precedence.md``): a freeze in
scope forbids the event whatever else says; otherwise the first ticket in scope whose
period holds the event approves it; otherwise the first recurring window in scope
whose occurrence holds it; otherwise the event is unapproved. Periods are half-open,
``[start, end)``: a change at the very second a window closes is outside it.

:meth:`ChangeCalendar.verdicts` answers for a whole frame: every window's occurrences
over the frame's time span are expanded once, merged into sorted disjoint intervals
and looked up with :func:`numpy.searchsorted`; scopes are matched only on the rows
whose time already fits.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.scoring._schedule import (
    ANCHOR,
    Schedule,
    cron_to_rule,
    parse_duration,
    parse_rrule,
    zone,
)
from models.scoring._scope import scope_covers, scope_mask
from models.scoring._windows_model import FreezeSpec, PolicyFile, Scope, TicketSpec, WindowSpec

__all__ = [
    "APPROVED",
    "FORBIDDEN",
    "JUDGED_COLUMNS",
    "UNAPPROVED",
    "Approved",
    "ChangeCalendar",
    "Forbidden",
    "Unapproved",
    "Verdict",
    "event_micros",
    "micros",
]

APPROVED: Final = "approved"
FORBIDDEN: Final = "forbidden"
UNAPPROVED: Final = "unapproved"

IntArray = npt.NDArray[np.int64]
ObjectArray = npt.NDArray[np.object_]
_US: Final = timedelta(microseconds=1)
_CANONICAL_TIME: Final = pd.DatetimeTZDtype(unit="us", tz="UTC")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Approved:
    """The event is approved by a recurring window or a ticket."""

    by: WindowSpec | TicketSpec

    @property
    def kind(self) -> str:
        """``"window"`` or ``"ticket"``."""
        return "ticket" if isinstance(self.by, TicketSpec) else "window"


@dataclass(frozen=True, slots=True)
class Forbidden:
    """The event falls in a freeze."""

    by: FreezeSpec


@dataclass(frozen=True, slots=True)
class Unapproved:
    """No window or ticket approves the event, and no freeze covers it."""


Verdict = Approved | Forbidden | Unapproved


def micros(moment: datetime) -> int:
    """Return an aware time as microseconds since the epoch."""
    return (moment - _EPOCH) // _US


def event_micros(events: pd.DataFrame) -> IntArray:
    """Return ``event_time`` as microseconds since the epoch (UTC), one per row."""
    column = events["event_time"]
    if column.dtype == _CANONICAL_TIME:  # what the canonical table converts to: no copy to make
        return np.asarray(column.array.asi8, dtype=np.int64)
    times = pd.to_datetime(column, utc=True).dt.as_unit("us")
    return np.asarray(times.astype("int64"), dtype=np.int64)


def _merge(intervals: Iterable[tuple[int, int]]) -> tuple[IntArray, IntArray]:
    """Sort and merge half-open intervals into disjoint ``(starts, ends)`` arrays."""
    starts: list[int] = []
    ends: list[int] = []
    for start, end in sorted(intervals):
        if starts and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)


def _inside(times: IntArray, starts: IntArray, ends: IntArray) -> npt.NDArray[np.bool_]:
    if not len(starts):
        return np.zeros(len(times), dtype=bool)
    index = np.searchsorted(starts, times, side="right") - 1
    return (index >= 0) & (times < ends[np.clip(index, 0, None)])


_DAY: Final = timedelta(days=1)
_DAY_US: Final = _DAY // _US


@lru_cache(maxsize=4096)
def _day_intervals(schedule: Schedule, day: int) -> tuple[tuple[int, int], ...]:
    """Return the occurrences (us) of ``schedule`` overlapping one UTC day (days since 1970).

    Cached: dateutil walks a rule from its first occurrence (2000 by default) on every
    query, thousands of steps, while the service asks about the same few days again
    and again.
    """
    start = _EPOCH + day * _DAY
    return tuple((micros(s), micros(e)) for s, e in schedule.intervals(start, start + _DAY))


def _covering(schedule: Schedule, first: int, last: int) -> tuple[IntArray, IntArray]:
    """Return the merged occurrences overlapping the UTC days of ``[first, last]`` (us).

    Has every occurrence overlapping ``[first, last]``, and others that cannot hold a
    time in between, so a time in that span is inside one exactly when it is inside
    one of ``schedule.intervals(first, last)``.
    """
    days = range(first // _DAY_US, last // _DAY_US + 1)
    return _merge(interval for day in days for interval in _day_intervals(schedule, day))


_MEMO_ROWS: Final = 4096
"""Frames up to this many events are judged through the calendar's memo."""
_MEMO_SIZE: Final = 1 << 16
"""Verdicts remembered at most (the memo starts over beyond)."""
_SCOPED: Final = ("account_id", "region", "identity_key", "principal_arn", "action", "event_name")
"""Columns a scope matches on, besides ``resource_ids``."""
JUDGED_COLUMNS: Final = ("event_time", *_SCOPED, "resource_ids")
"""The columns a verdict depends on: what :meth:`ChangeCalendar.verdicts` reads of a frame."""


def _plain(value: Any) -> Any:
    """Return a hashable stand-in for one cell (missing values as ``None``)."""
    if type(value) is str:  # most cells: no missing-value test to make
        return value
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(str(item) for item in value)
    return None if pd.isna(value) else value


def _keys(events: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Return what a verdict depends on, per event: time, scoped columns, resources."""
    columns = [events[name].tolist() for name in _SCOPED]
    columns.append(events["resource_ids"].tolist())
    times = event_micros(events).tolist()
    return [
        (moment, *(_plain(value) for value in values))
        for moment, *values in zip(times, *columns, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class _Window:
    spec: WindowSpec
    schedule: Schedule


def _window(spec: WindowSpec, default_zone: str) -> _Window:
    tz = zone(spec.timezone or default_zone)
    start = spec.start or ANCHOR
    rule = (
        parse_rrule(spec.rrule, start)
        if spec.rrule is not None
        else cron_to_rule(spec.cron or "", start)
    )
    return _Window(spec, Schedule(rule, tz, parse_duration(spec.duration)))


class ChangeCalendar:
    """Approved windows, tickets and freezes, and the verdict they give an event.

    Parameters
    ----------
    windows : sequence of WindowSpec
        Recurring windows; those without a ``timezone`` use ``timezone``.
    tickets, freezes : sequence of TicketSpec, FreezeSpec
        One-off periods with timezone-aware ``start`` and ``end`` (see
        :meth:`PolicyFile.resolved`).
    timezone : str
        Zone of windows that name none.
    """

    def __init__(
        self,
        windows: Sequence[WindowSpec] = (),
        tickets: Sequence[TicketSpec] = (),
        freezes: Sequence[FreezeSpec] = (),
        *,
        timezone: str = "UTC",
    ) -> None:
        for period in (*tickets, *freezes):
            if period.start.tzinfo is None or period.end.tzinfo is None:
                raise ValueError(
                    "ticket and freeze times must be timezone-aware; resolve the file first"
                )
        self.windows = tuple(windows)
        self.tickets = tuple(tickets)
        self.freezes = tuple(freezes)
        self._windows = tuple(_window(spec, timezone) for spec in self.windows)
        self._memo: dict[tuple[Any, ...], tuple[str, str | None, str | None]] = {}
        self._remembered: dict[Hashable, str] = {}

    @classmethod
    def from_policy(cls, policy: PolicyFile) -> ChangeCalendar:
        """Build the calendar of a (resolved) policy file."""
        return cls(policy.windows, policy.tickets, policy.freezes, timezone=policy.timezone)

    def __repr__(self) -> str:
        return (
            f"ChangeCalendar({len(self.windows)} windows, {len(self.tickets)} tickets, "
            f"{len(self.freezes)} freezes)"
        )

    def judge(self, event: Mapping[str, Any], time: int) -> tuple[str, str | None, str | None]:
        """Return the verdict, ``by_kind`` and ``by`` of one event at ``time`` (microseconds).

        What :meth:`verdicts` gives that event, without building a frame: freezes first,
        then tickets, then windows, the first covering one in each deciding.
        """
        for freeze in self.freezes:
            inside = micros(freeze.start) <= time < micros(freeze.end)
            if inside and scope_covers(freeze.scope, event):
                return FORBIDDEN, "freeze", freeze.name
        for ticket in self.tickets:
            inside = micros(ticket.start) <= time < micros(ticket.end)
            if inside and scope_covers(ticket.scope, event):
                return APPROVED, "ticket", ticket.id
        moment = np.array([time], dtype=np.int64)
        for window in self._windows:
            inside = bool(_inside(moment, *_covering(window.schedule, time, time))[0])
            if inside and scope_covers(window.spec.scope, event):
                return APPROVED, "window", window.spec.name
        return UNAPPROVED, None, None

    def governs(self, identity: str, principal_arn: str | None = None) -> bool:
        """Whether some window or ticket could ever approve a change of this identity.

        A window or ticket without identity patterns governs everyone; freezes do not
        count (they forbid, they do not approve).
        """
        for scope in [w.spec.scope for w in self._windows] + [t.scope for t in self.tickets]:
            if not scope.identities:
                return True
            names = [identity] + ([principal_arn] if principal_arn else [])
            if any(fnmatchcase(n, p) for n in names for p in scope.identities):
                return True
        return False

    def remember(self, keys: Iterable[Hashable], verdicts: Iterable[str]) -> None:
        """Keep the verdicts of events stored under ``keys`` (never reused for other events)."""
        if len(self._remembered) > _MEMO_SIZE:
            self._remembered.clear()
        self._remembered.update(zip(keys, verdicts, strict=True))

    def recall(self, key: Hashable) -> str | None:
        """Return the verdict remembered for the stored event ``key``, or ``None``."""
        return self._remembered.get(key)

    def warm(self, until: datetime) -> None:
        """Expand every window's occurrences up to ``until`` now, rather than on first use."""
        for window in self._windows:
            window.schedule.intervals(until, until + _US)

    def occurrences(
        self, start: datetime, end: datetime
    ) -> dict[str, list[tuple[datetime, datetime]]]:
        """Return every window's occurrences overlapping ``[start, end)`` (aware times), by name."""
        return {w.spec.name: w.schedule.intervals(start, end) for w in self._windows}

    def verdicts(self, events: pd.DataFrame) -> pd.DataFrame:
        """Return the verdict of every event of a canonical frame.

        An event's verdict depends on its time and the columns scopes match on alone, so
        for frames of up to a few thousand events (the service's) each distinct event
        is judged once per calendar and remembered: the service meets an identity's
        recent changes again with every request.

        Returns
        -------
        pandas.DataFrame
            Indexed like ``events``, with ``verdict`` (``"approved"``, ``"forbidden"``
            or ``"unapproved"``), ``by_kind`` (``"window"``, ``"ticket"``, ``"freeze"``
            or ``None``) and ``by`` (the window or freeze name, the ticket id, or ``None``).
        """
        columns = self.verdict_columns(events)
        return pd.DataFrame(
            {
                name: pd.Series(values, index=events.index, dtype=object)
                for name, values in zip(("verdict", "by_kind", "by"), columns, strict=True)
            }
        )

    def verdict_columns(self, events: pd.DataFrame) -> tuple[ObjectArray, ObjectArray, ObjectArray]:
        """Return :meth:`verdicts` as three object arrays: ``verdict``, ``by_kind``, ``by``.

        What the rules read, without a frame to build (they judge a few events per batch).
        ``events`` needs only :data:`JUDGED_COLUMNS`.
        """
        judging = self.windows or self.tickets or self.freezes
        if not judging or not len(events) or len(events) > _MEMO_ROWS:
            return self._judge(events)  # (nothing to judge by: every change is unapproved)
        keys = _keys(events)
        memo = self._memo
        # Read what is known once, into this call's own list: another thread (the service
        # scores in two) may clear the memo at any moment, and so may this call below.
        found: list[tuple[str, str | None, str | None] | None] = [memo.get(key) for key in keys]
        missing = [at for at, known in enumerate(found) if known is None]
        if missing:
            judged = self._judge(events.iloc[missing])
            fresh: dict[Any, tuple[str, str | None, str | None]] = {}
            for at, verdict, kind, by in zip(missing, *judged, strict=True):
                found[at] = fresh[keys[at]] = (verdict, kind, by)
            if len(memo) + len(fresh) > _MEMO_SIZE:
                memo.clear()
            memo.update(fresh)
        verdicts = cast(list[tuple[str, str | None, str | None]], found)  # all filled now
        out = tuple(np.empty(len(verdicts), dtype=object) for _ in range(3))
        for column, values in enumerate(out):
            values[:] = [v[column] for v in verdicts]
        return out[0], out[1], out[2]

    def _judge(self, events: pd.DataFrame) -> tuple[ObjectArray, ObjectArray, ObjectArray]:
        """Judge every event of a frame (see :meth:`verdicts`)."""
        n = len(events)
        verdict = np.full(n, UNAPPROVED, dtype=object)
        by_kind = np.full(n, None, dtype=object)
        by = np.full(n, None, dtype=object)
        if n:
            times = event_micros(events)
            open_rows = np.ones(n, dtype=bool)

            def settle(
                inside: npt.NDArray[np.bool_], scope: Scope, label: str, kind: str, name: str
            ) -> None:
                candidates = np.flatnonzero(inside & open_rows)
                if not len(candidates):
                    return
                covered = candidates[scope_mask(scope, events.iloc[candidates])]
                verdict[covered] = label
                by_kind[covered] = kind
                by[covered] = name
                open_rows[covered] = False

            for freeze in self.freezes:
                inside = (times >= micros(freeze.start)) & (times < micros(freeze.end))
                settle(inside, freeze.scope, FORBIDDEN, "freeze", freeze.name)
            for ticket in self.tickets:
                inside = (times >= micros(ticket.start)) & (times < micros(ticket.end))
                settle(inside, ticket.scope, APPROVED, "ticket", ticket.id)
            if self._windows and open_rows.any():
                first, last = int(times.min()), int(times.max())
                for window in self._windows:
                    inside = _inside(times, *_covering(window.schedule, first, last))
                    settle(inside, window.spec.scope, APPROVED, "window", window.spec.name)
        return verdict, by_kind, by

    def verdict(self, event: Mapping[str, Any]) -> Verdict:
        """Return the verdict of one event given as a mapping of canonical columns.

        ``event_time`` may be a ``datetime``, a pandas ``Timestamp`` or an ISO 8601 string.
        """
        frame = pd.DataFrame([dict(event)])
        if "resource_ids" not in frame:
            frame["resource_ids"] = [[]]
        for column in (
            "account_id",
            "region",
            "identity_key",
            "principal_arn",
            "action",
            "event_name",
        ):
            if column not in frame:
                frame[column] = None
        row = self.verdicts(frame).iloc[0]
        if row["verdict"] == FORBIDDEN:
            return Forbidden(next(f for f in self.freezes if f.name == row["by"]))
        if row["by_kind"] == "ticket":
            return Approved(next(t for t in self.tickets if t.id == row["by"]))
        if row["by_kind"] == "window":
            return Approved(next(w for w in self.windows if w.name == row["by"]))
        return Unapproved()
