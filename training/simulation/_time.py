"""Simulated time: epoch seconds, CloudTrail's time format, local days, holidays.

All simulated times are integer (or float) seconds since the epoch, UTC. People and
windows live in time zones, so this module turns "09:30 in Europe/Berlin on that
day" into epoch seconds (daylight saving included) and knows each country's public
holidays, which the organisation's people do not work on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "epoch",
    "holidays",
    "is_workday",
    "iso",
    "local_day_start",
    "local_time",
    "to_date",
]

MINUTE: Final = 60
HOUR: Final = 3600
DAY: Final = 86400


@lru_cache(maxsize=4096)
def _day_prefix(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%dT")


def iso(seconds: int) -> str:
    """Return CloudTrail's ``eventTime`` form of an epoch second: ``2026-03-09T10:15:02Z``."""
    day, rest = divmod(seconds, DAY)
    hour, rest = divmod(rest, HOUR)
    minute, second = divmod(rest, MINUTE)
    return f"{_day_prefix(day)}{hour:02d}:{minute:02d}:{second:02d}Z"


def epoch(moment: datetime | date) -> int:
    """Return the epoch second of a UTC datetime or of midnight UTC of a date."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def to_date(seconds: float) -> date:
    """Return the UTC date of an epoch second."""
    return datetime.fromtimestamp(int(seconds), UTC).date()


@lru_cache(maxsize=4096)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=65536)
def local_day_start(day: date, timezone: str) -> int:
    """Return the epoch second of local midnight of ``day`` in ``timezone``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=_zone(timezone)).timestamp())


def local_time(day: date, hour: float, timezone: str) -> int:
    """Return the epoch second of ``hour`` (fractional hours) local time on ``day``.

    Daylight saving is honoured by computing the offset at that local wall time.
    """
    whole = int(hour)
    minutes = round((hour - whole) * 60)
    if minutes == 60:
        whole, minutes = whole + 1, 0
    base = datetime(day.year, day.month, day.day, tzinfo=_zone(timezone))
    return int((base + timedelta(hours=whole, minutes=minutes)).timestamp())


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """Return the n-th (1-based; -1 = last) given weekday (Monday 0) of a month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


@lru_cache(maxsize=256)
def holidays(country: str, year: int) -> frozenset[date]:
    """Return the public holidays of ``country`` (``DE``, ``GB``, ``US``, ``IN``) in ``year``.

    The main national holidays only; regional ones are left out.
    """
    easter = _easter(year)
    common = {date(year, 1, 1), date(year, 12, 25)}
    if country == "DE":
        extra = {
            easter - timedelta(days=2),
            easter + timedelta(days=1),
            date(year, 5, 1),
            easter + timedelta(days=39),
            easter + timedelta(days=50),
            date(year, 10, 3),
            date(year, 12, 26),
        }
    elif country == "GB":
        extra = {
            easter - timedelta(days=2),
            easter + timedelta(days=1),
            _nth_weekday(year, 5, 0, 1),
            _nth_weekday(year, 5, 0, -1),
            _nth_weekday(year, 8, 0, -1),
            date(year, 12, 26),
        }
    elif country == "US":
        extra = {
            _nth_weekday(year, 1, 0, 3),
            _nth_weekday(year, 2, 0, 3),
            _nth_weekday(year, 5, 0, -1),
            date(year, 6, 19),
            date(year, 7, 4),
            _nth_weekday(year, 9, 0, 1),
            _nth_weekday(year, 11, 3, 4),
        }
    elif country == "IN":
        extra = {date(year, 1, 26), date(year, 8, 15), date(year, 10, 2)}
    else:
        extra = set()
    return frozenset(common | extra)


def is_workday(day: date, country: str) -> bool:
    """Whether ``day`` is a working day (Monday to Friday, not a public holiday)."""
    return day.weekday() < 5 and day not in holidays(country, day.year)
