"""Reading one field of a raw record defensively, and assembling a canonical row.

Every reader (CloudTrail, Azure, Google Cloud, OCSF) checks the type of each field it
uses and raises nothing but :class:`~features._exceptions.RecordRejected`, naming the
field and the reason; these are the checks they share. :func:`make_row` puts a row's
values in the column order of :data:`~features._schema.CANONICAL_SCHEMA`, so a reader
names the values it has and never counts positions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from features._exceptions import RecordRejected
from features._schema import CANONICAL_COLUMNS

__all__ = [
    "as_object",
    "bool_text",
    "event_time",
    "gather_ids",
    "make_row",
    "obj",
    "synthetic_id",
    "text",
    "type_name",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)

Row = tuple[Any, ...]


def type_name(value: Any) -> str:
    """Return the JSON-ish name of a value's type, for rejection reasons."""
    return "null" if value is None else type(value).__name__


def text(container: Mapping[str, Any], key: str, path: str) -> str | None:
    """Return ``container[key]`` when it is a string or absent; reject any other type."""
    value = container.get(key)
    if value is None or type(value) is str:
        return value
    raise RecordRejected(path, f"expected a string, got {type_name(value)}")


def obj(container: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
    """Return ``container[key]`` when it is an object or absent; reject any other type."""
    value = container.get(key)
    if value is None or type(value) is dict:
        return value
    raise RecordRejected(path, f"expected an object, got {type_name(value)}")


def as_object(value: Any, path: str) -> dict[str, Any] | None:
    """Return an object given as itself or as JSON text (Azure's ``requestbody``), else ``None``.

    Text that is not a JSON object is no object (``None``): it is kept nowhere, so it
    cannot harm; a value of another type is rejected.
    """
    if value is None or type(value) is dict:
        return value
    if type(value) is str:
        if not value.startswith("{"):
            return None
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        return parsed if type(parsed) is dict else None
    raise RecordRejected(path, f"expected an object or JSON text, got {type_name(value)}")


def bool_text(value: Any) -> bool | None:
    """Read ``true``/``"true"``/``"yes"`` and their negations; anything else is unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "yes"):
            return True
        if lowered in ("false", "no"):
            return False
    return None


_time_cache: dict[str, int] = {}


def event_time(value: Any, field: str = "eventTime") -> int:
    """Parse an ISO 8601 time to microseconds since the epoch, UTC (naive times are UTC).

    More than six fractional digits (Azure writes seven, Google nine) are truncated.
    """
    if type(value) is not str:
        raise RecordRejected(field, f"expected an ISO 8601 string, got {type_name(value)}")
    cached = _time_cache.get(value)
    if cached is not None:
        return cached
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordRejected(field, f"not an ISO 8601 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        micros = (moment - _EPOCH) // _MICROSECOND
    except OverflowError:
        raise RecordRejected(field, f"time out of range: {value[:40]!r}") from None
    if len(_time_cache) > 100_000:
        _time_cache.clear()
    _time_cache[value] = micros
    return micros


def synthetic_id(record: Mapping[str, Any]) -> str:
    """Return a deterministic id for a record without one: ``cw-`` + a hash of its content."""
    digest = hashlib.blake2b(
        orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS),
        digest_size=16,
    ).hexdigest()
    return f"cw-{digest}"


_DEFAULTS: Final[Mapping[str, Any]] = {
    "read_only": False,
    "action": "other",
    "is_compute_change": False,
    "resource_ids": [],
    "share_targets": [],
    "identity_type": "Unknown",
    "by_service": False,
    "client_family": "unknown",
}
_POSITIONS: Final = {name: index for index, name in enumerate(CANONICAL_COLUMNS)}


def make_row(**values: Any) -> Row:
    """Return a canonical row from values named by column; absent columns take their default.

    Defaults: ``False`` for the flags, ``"other"`` action, empty lists, ``"Unknown"``
    identity type, ``"unknown"`` client family, ``None`` for everything else.

    Raises
    ------
    KeyError
        For a name that is not a canonical column (a programming error).
    """
    row: list[Any] = [_DEFAULTS.get(name) for name in CANONICAL_COLUMNS]
    for name in ("resource_ids", "share_targets"):
        row[_POSITIONS[name]] = []
    for name, value in values.items():
        row[_POSITIONS[name]] = value
    return tuple(row)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def gather_ids(
    seen: dict[str, None], bodies: Iterable[Any], found_in: Callable[[str], str | None], most: int
) -> list[str]:
    """Add the resource ids found in every string of ``bodies`` to ``seen``; return them.

    ``found_in`` turns one string into the id it names, or ``None``; ``seen`` keeps the
    ids in order without repeats, and the walk stops once it holds ``most`` of them.
    """
    for body in bodies:
        for value in _strings(body):
            found = found_in(value)
            if found is not None:
                seen.setdefault(found, None)
                if len(seen) >= most:
                    return list(seen)
    return list(seen)
