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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from serving._schedule import ANCHOR, Schedule, cron_to_rule, parse_duration, parse_rrule, zone
from serving._scope import scope_mask
from serving._windows_model import FreezeSpec, PolicyFile, Scope, TicketSpec, WindowSpec

__all__ = [
    "APPROVED",
    "FORBIDDEN",
    "UNAPPROVED",
    "Approved",
    "ChangeCalendar",
    "Forbidden",
    "Unapproved",
    "Verdict",
    "event_micros",
]

APPROVED: Final = "approved"
FORBIDDEN: Final = "forbidden"
UNAPPROVED: Final = "unapproved"

IntArray = npt.NDArray[np.int64]
_US: Final = timedelta(microseconds=1)
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


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


def event_micros(events: pd.DataFrame) -> IntArray:
    """Return ``event_time`` as microseconds since the epoch (UTC), one per row."""
    times = pd.to_datetime(events["event_time"], utc=True).dt.as_unit("us")
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

    @classmethod
    def from_policy(cls, policy: PolicyFile) -> ChangeCalendar:
        """Build the calendar of a (resolved) policy file."""
        return cls(policy.windows, policy.tickets, policy.freezes, timezone=policy.timezone)

    def __repr__(self) -> str:
        return (
            f"ChangeCalendar({len(self.windows)} windows, {len(self.tickets)} tickets, "
            f"{len(self.freezes)} freezes)"
        )

    def occurrences(
        self, start: datetime, end: datetime
    ) -> dict[str, list[tuple[datetime, datetime]]]:
        """Return every window's occurrences overlapping ``[start, end)`` (aware times), by name."""
        return {w.spec.name: w.schedule.intervals(start, end) for w in self._windows}

    def verdicts(self, events: pd.DataFrame) -> pd.DataFrame:
        """Return the verdict of every event of a canonical frame.

        Returns
        -------
        pandas.DataFrame
            Indexed like ``events``, with ``verdict`` (``"approved"``, ``"forbidden"``
            or ``"unapproved"``), ``by_kind`` (``"window"``, ``"ticket"``, ``"freeze"``
            or ``None``) and ``by`` (the window or freeze name, the ticket id, or ``None``).
        """
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
                inside = (times >= _micros(freeze.start)) & (times < _micros(freeze.end))
                settle(inside, freeze.scope, FORBIDDEN, "freeze", freeze.name)
            for ticket in self.tickets:
                inside = (times >= _micros(ticket.start)) & (times < _micros(ticket.end))
                settle(inside, ticket.scope, APPROVED, "ticket", ticket.id)
            if self._windows and open_rows.any():
                first = _EPOCH + timedelta(microseconds=int(times.min()))
                last = _EPOCH + timedelta(microseconds=int(times.max()) + 1)
                for window in self._windows:
                    starts, ends = _merge(
                        (_micros(s), _micros(e)) for s, e in window.schedule.intervals(first, last)
                    )
                    inside = _inside(times, starts, ends)
                    settle(inside, window.spec.scope, APPROVED, "window", window.spec.name)
        return pd.DataFrame(
            {
                name: pd.Series(values, index=events.index, dtype=object)
                for name, values in (("verdict", verdict), ("by_kind", by_kind), ("by", by))
            }
        )

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
