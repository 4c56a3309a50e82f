"""Recurring schedules: RFC 5545 RRULE or cron, a duration, a named time zone.

Occurrences are expanded in *local wall time* and only then placed on the UTC line
with :mod:`zoneinfo`, so a ``10:00 Europe/Berlin`` window starts at 08:00 UTC in
summer and 09:00 UTC in winter. Two wall times need a rule:

- a start in the spring-forward gap (02:30 on the last Sunday of March in Berlin)
  does not exist; it is read with the offset before the change (``fold=0``), which
  lands one hour later on the clock (03:30 CEST);
- a start in the autumn overlap (02:30 on the last Sunday of October) happens twice;
  the first one (``fold=0``, still summer time) is taken.

Durations follow RFC 5545 §3.3.6: days and weeks are *nominal* (``P1D`` ends at the
same wall time the next day, 23 or 25 hours later across a change), hours, minutes
and seconds are *exact* (``PT4H`` is four hours of elapsed time).

Cron expressions are translated to RRULEs (``FREQ=DAILY`` with ``BYHOUR``,
``BYMINUTE``, ``BYMONTHDAY``, ``BYMONTH``, ``BYDAY``) so both kinds share one
expansion; when both day-of-month and day-of-week are restricted, cron fires on
either (Vixie cron), which becomes the union of two rules.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import (
    DAILY,
    FR,
    MO,
    SA,
    SU,
    TH,
    TU,
    WE,
    rrule,
    rruleset,
    rrulestr,
    weekday,
)

__all__ = [
    "ANCHOR",
    "Duration",
    "Schedule",
    "cron_to_rule",
    "parse_duration",
    "parse_rrule",
    "zone",
]

ANCHOR: Final = datetime(2000, 1, 3)
"""Default first occurrence (local wall time, a Monday at 00:00) of every schedule.

It fixes the phase of ``INTERVAL`` > 1 rules and the defaults RFC 5545 takes from
DTSTART: the minute and second when ``BYMINUTE`` / ``BYSECOND`` are missing, and the
weekday of a ``FREQ=WEEKLY`` rule without ``BYDAY`` (Monday).
"""

_DURATION: Final = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_FORBIDDEN_FREQ: Final = re.compile(r"FREQ=(MINUTELY|SECONDLY)", re.IGNORECASE)
_DAYS: Final[tuple[weekday, ...]] = (MO, TU, WE, TH, FR, SA, SU)
_CRON_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_CRON_DAYS: Final = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_CRON_MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """Return the IANA time zone ``name``.

    Raises
    ------
    ValueError
        When no such zone exists.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (expected an IANA name such as 'Europe/Berlin')"
        ) from None


@dataclass(frozen=True, slots=True)
class Duration:
    """An RFC 5545 duration: nominal days plus exact seconds.

    Attributes
    ----------
    days : int
        Whole days (weeks count seven), added on the wall clock.
    seconds : int
        Hours, minutes and seconds, added on the UTC line.
    """

    days: int
    seconds: int

    @property
    def longest(self) -> timedelta:
        """An upper bound of the elapsed time (a day may last 25 hours)."""
        return timedelta(days=self.days, seconds=self.seconds, hours=self.days)

    def end_of(self, start_local: datetime, tz: ZoneInfo) -> datetime:
        """Return the UTC end of an occurrence starting at the naive wall time ``start_local``."""
        wall = (start_local + timedelta(days=self.days)).replace(tzinfo=tz)
        return wall.astimezone(UTC) + timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        hours, rest = divmod(self.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        time = "".join(
            f"{value}{unit}"
            for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S"))
            if value
        )
        return "P" + (f"{self.days}D" if self.days else "") + (f"T{time}" if time else "")


def parse_duration(text: str) -> Duration:
    """Parse an ISO 8601 / RFC 5545 duration such as ``PT4H``, ``P1D``, ``P1DT2H30M``, ``P2W``.

    Years and months are refused: they have no fixed length.

    Raises
    ------
    ValueError
        When ``text`` is not such a duration or is zero.
    """
    match = _DURATION.match(text.strip().upper())
    if match is None or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ValueError(
            f"expected an ISO 8601 duration such as 'PT4H', 'P1D' or 'P1DT2H30M', got {text!r}"
        )
    part = {key: int(value) if value else 0 for key, value in match.groupdict().items()}
    days = part["weeks"] * 7 + part["days"]
    seconds = part["hours"] * 3600 + part["minutes"] * 60 + part["seconds"]
    if days == 0 and seconds == 0:
        raise ValueError(f"a window must last longer than zero, got {text!r}")
    return Duration(days, seconds)


def parse_rrule(text: str, dtstart: datetime = ANCHOR) -> rrule:
    """Parse an RRULE (with or without the ``RRULE:`` prefix) anchored at local ``dtstart``.

    Raises
    ------
    ValueError
        When the rule does not parse, holds a DTSTART (give ``start`` instead), or
        repeats more often than hourly.
    """
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if "\n" in body or "DTSTART" in body.upper():
        raise ValueError("give one RRULE line without DTSTART (the window's 'start' sets it)")
    if _FORBIDDEN_FREQ.search(body):
        raise ValueError(
            "FREQ=MINUTELY and FREQ=SECONDLY are not supported: use FREQ=HOURLY or BYMINUTE"
        )
    try:
        rule = rrulestr(body, dtstart=dtstart, cache=True)
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise ValueError(f"not an RFC 5545 RRULE: {error or body!r}") from None
    if not isinstance(rule, rrule):  # pragma: no cover - rrulestr of one line is one rrule
        raise ValueError("expected a single RRULE")
    return rule


def _cron_value(token: str, names: dict[str, int], low: int, high: int, field: str) -> int:
    value = names.get(token.lower()) if names else None
    if value is None:
        if not token.isdigit():
            raise ValueError(f"cron {field}: {token!r} is not a number or a name")
        value = int(token)
    if not low <= value <= high:
        raise ValueError(f"cron {field}: {value} is outside {low}-{high}")
    return value


def _cron_field(
    text: str, low: int, high: int, field: str, names: dict[str, int] | None = None
) -> tuple[list[int], bool]:
    """Return the sorted values of one cron field and whether it was restricted."""
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"cron {field}: step {step_text!r} is not a positive number")
            step = int(step_text)
        if body == "*":
            first, last = low, high
        elif "-" in body:
            start, _, end = body.partition("-")
            first = _cron_value(start, names or {}, low, high, field)
            last = _cron_value(end, names or {}, low, high, field)
            if last < first:
                raise ValueError(f"cron {field}: range {body!r} runs backwards")
        else:
            first = _cron_value(body, names or {}, low, high, field)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return sorted(values), not text.startswith("*")


def cron_to_rule(expression: str, dtstart: datetime = ANCHOR) -> rrule | rruleset:
    """Translate a five-field cron expression (or ``@daily`` ...) to an RRULE in local time.

    Fields are minute, hour, day of month, month, day of week (0 or 7 is Sunday; names
    such as ``mon`` and ``jan`` are accepted). Lists, ranges and steps work as in
    Vixie cron, including the rule that a job whose day of month *and* day of week
    are both restricted runs on days matching either.

    Raises
    ------
    ValueError
        Naming the field that is wrong.
    """
    text = _CRON_MACROS.get(expression.strip().lower(), expression.strip())
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            "expected five cron fields (minute hour day-of-month month day-of-week), "
            f"got {expression!r}"
        )
    minutes, _ = _cron_field(fields[0], 0, 59, "minute")
    hours, _ = _cron_field(fields[1], 0, 23, "hour")
    monthdays, dom_restricted = _cron_field(fields[2], 1, 31, "day of month")
    months, _ = _cron_field(fields[3], 1, 12, "month", _CRON_MONTHS)
    cron_days, dow_restricted = _cron_field(fields[4], 0, 7, "day of week", _CRON_DAYS)
    days = sorted({_DAYS[(day + 6) % 7] for day in cron_days}, key=lambda day: day.weekday)
    common = {
        "dtstart": dtstart,
        "byhour": hours,
        "byminute": minutes,
        "bysecond": 0,
        "bymonth": months,
        "cache": True,
    }
    if dom_restricted and dow_restricted:
        union = rruleset(cache=True)
        union.rrule(rrule(DAILY, bymonthday=monthdays, **common))  # type: ignore[arg-type]
        union.rrule(rrule(DAILY, byweekday=days, **common))  # type: ignore[arg-type]
        return union
    if dom_restricted:
        return rrule(DAILY, bymonthday=monthdays, **common)  # type: ignore[arg-type]
    if dow_restricted:
        return rrule(DAILY, byweekday=days, **common)  # type: ignore[arg-type]
    return rrule(DAILY, **common)  # type: ignore[arg-type]


class _Occurrences:
    """A rule's occurrences, generated once in order and then searched by bisection.

    ``rrule.between`` walks every occurrence from the rule's start (2000 by default) on
    each call: thousands of steps for a daily window, hundreds of thousands for an
    hourly one. The same occurrences, kept in a list, answer in a few steps.
    """

    def __init__(self, rule: rrule | rruleset) -> None:
        self._source: Iterator[datetime] = iter(rule)
        self._walls: list[datetime] = []
        self._complete = False
        self._lock = threading.Lock()

    def between(self, low: datetime, high: datetime) -> list[datetime]:
        """Return the occurrences ``t`` with ``low <= t <= high`` (``rrule.between(inc=True)``)."""
        walls = self._walls
        if not self._complete and (not walls or walls[-1] <= high):
            with self._lock:
                while not self._complete and (not walls or walls[-1] <= high):
                    found = next(self._source, None)
                    if found is None:
                        self._complete = True
                    else:
                        walls.append(found)
        return walls[bisect_left(walls, low) : bisect_right(walls, high)]


@dataclass(frozen=True, slots=True)
class Schedule:
    """A recurring window: occurrences of a rule in a zone, each lasting ``duration``.

    Parameters
    ----------
    rule : rrule or rruleset
        Occurrence starts as naive local wall times.
    tz : ZoneInfo
        The zone the wall times are in.
    duration : Duration
        How long each occurrence lasts.
    """

    rule: rrule | rruleset
    tz: ZoneInfo
    duration: Duration
    _occurrences: _Occurrences = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_occurrences", _Occurrences(self.rule))

    def _starts(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield ``(wall time, UTC start)`` of every occurrence starting in ``[start, end)``."""
        local_from = start.astimezone(self.tz).replace(tzinfo=None) - timedelta(hours=3)
        local_to = end.astimezone(self.tz).replace(tzinfo=None) + timedelta(hours=3)
        for wall in self._occurrences.between(local_from, local_to):
            moment = wall.replace(tzinfo=self.tz).astimezone(UTC)
            if start <= moment < end:
                yield wall, moment

    def starts(self, start: datetime, end: datetime) -> list[datetime]:
        """Return the UTC start of every occurrence starting in ``[start, end)`` (aware times)."""
        return [moment for _, moment in self._starts(start, end)]

    def intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Return the occurrences ``[s, e)`` in UTC that overlap ``[start, end)`` (aware times).

        Parameters
        ----------
        start, end : datetime
            Timezone-aware bounds of the period asked about.
        """
        found: list[tuple[datetime, datetime]] = []
        for wall, begin in self._starts(start - self.duration.longest, end):
            finish = self.duration.end_of(wall, self.tz)
            if finish > start:
                found.append((begin, finish))
        return found

    def contains(self, moment: datetime) -> bool:
        """Whether the aware time ``moment`` falls inside an occurrence."""
        return bool(self.intervals(moment, moment + timedelta(microseconds=1)))
