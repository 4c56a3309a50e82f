"""The calls of a batch on the fast path: what each is, and what its parameters say.

Part of :mod:`features._columnar`. A call is classified once per distinct (event source,
event name); only the rows whose parameters matter (:func:`~features._normalize.needs_details`:
changes, single-resource reads, tags) have them parsed, and their resource ids, attribute
and share targets are put in place by codes into the distinct values, not row by row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NamedTuple

import numpy as np
import orjson
import pyarrow as pa
from msgspec import Raw

from features._limits import MAX_PARSED_BYTES, bounded_list, bounded_text
from features._normalize import change_details, needs_details
from features._taxonomy import classify

if TYPE_CHECKING:
    from features._columnar import _Columns

__all__ = [
    "UNPARSABLE",
    "Calls",
    "Codes",
    "Details",
    "call_columns",
    "call_details",
    "classify_calls",
    "detail_columns",
    "paired_codes",
    "parsed",
]

Codes = np.ndarray[Any, np.dtype[np.int32]]
_EMPTY: Final[list[str]] = []


def paired_codes(left: Codes, right: Codes, right_size: int) -> tuple[Codes, list[int]]:
    """Code per row of the pair of two codings, and the first row of each distinct pair."""
    combined = left.astype(np.int64) * right_size + right
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return inverse.astype(np.int32).reshape(-1), first.tolist()


def parsed(raw: Raw | bytes) -> Any:
    """Parse a nested raw object; ``UNPARSABLE`` when Python cannot hold it, or it is too long.

    Too long (over :data:`~features._limits.MAX_PARSED_BYTES`) sends the record to the
    reference path, which rejects it for its size.
    """
    if not raw:
        return None
    if len(raw) > MAX_PARSED_BYTES:
        return UNPARSABLE
    try:
        return orjson.loads(memoryview(raw))
    except orjson.JSONDecodeError:
        return UNPARSABLE


UNPARSABLE: Final = object()


Details = tuple[str | None, str, list[str], str | None, list[str]]
"""``(resource_type, action, resource_ids, attribute, share_targets)`` of one call."""


class Calls(NamedTuple):
    """What each row's call is before its parameters are read: per distinct (source, name)."""

    codes: Codes
    resource_types: list[str | None]
    actions: list[str]
    detailed: list[int]
    """Rows whose parameters must be read (:func:`~features._normalize.needs_details`)."""


def call_columns(calls: Calls, details: dict[int, Details]) -> tuple[pa.Array, pa.Array]:
    """Return the resource type and action of each row, with what the details changed."""
    codes, resource_types, actions = calls.codes, calls.resource_types, calls.actions
    if details:
        codes = codes.copy()
        rows = list(details)
        codes[rows] = np.arange(len(resource_types), len(resource_types) + len(rows))
        resource_types = resource_types + [found[0] for found in details.values()]
        actions = actions + [found[1] for found in details.values()]
    return (
        pa.array(resource_types, type=pa.string()).take(codes),
        pa.array(actions, type=pa.string()).take(codes),
    )


def classify_calls(
    column: _Columns,
    source_codes: Codes,
    source_values: list[str | None],
    name_codes: Codes,
    name_values: list[str],
) -> Calls:
    """Classify each distinct (event source, event name) once; say which rows need details."""
    pair_codes, firsts = paired_codes(source_codes, name_codes, len(name_values))
    pairs = [(source_values[source_codes[i]], name_values[name_codes[i]]) for i in firsts]
    classified = [classify(source, name) for source, name in pairs]
    detailed = np.asarray(
        [
            needs_details(kind, source, name)
            for (kind, _), (source, name) in zip(classified, pairs, strict=True)
        ],
        dtype=bool,
    )[pair_codes]
    return Calls(
        pair_codes,
        [resource_type for resource_type, _ in classified],
        [action for _, action in classified],
        np.flatnonzero(detailed).tolist(),
    )


def call_details(
    column: _Columns, rows: list[int], accounts: list[str | None], late: set[int]
) -> dict[int, Details]:
    """Read the parameters of the ``rows`` that need it (``accounts``: each row's account).

    Rows whose parameters cannot be parsed are added to ``late`` instead.
    """
    found: dict[int, Details] = {}
    for index, account in zip(rows, accounts, strict=True):
        request = parsed(column.request_parameters[index])
        response = parsed(column.response_elements[index])
        if request is UNPARSABLE or response is UNPARSABLE:
            late.add(index)
            continue
        resource_type, action, ids, attribute, targets = change_details(
            column.event_source[index], column.event_name[index], request, response, account
        )
        found[index] = (
            resource_type,
            action,
            bounded_list(ids),
            None if attribute is None else bounded_text(attribute),
            bounded_list(targets),
        )
    return found


def detail_columns(count: int, details: dict[int, Details]) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Return the ids, attribute and share targets of each row: empty but where details say."""
    codes = np.zeros(count, dtype=np.int32)
    codes[list(details)] = np.arange(1, len(details) + 1, dtype=np.int32)
    found = details.values()
    strings = pa.list_(pa.string())
    return (
        pa.array([_EMPTY, *(one[2] for one in found)], type=strings).take(codes),
        pa.array([None, *(one[3] for one in found)], type=pa.string()).take(codes),
        pa.array([_EMPTY, *(one[4] for one in found)], type=strings).take(codes),
    )
