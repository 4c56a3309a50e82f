"""The bounds on what one input may cost: bytes read whole, gzip growth, parsed JSON, kept fields.

Every bound of ingestion lives here, so the readers, the normaliser and the docs agree
(ADR 0028, ``docs/schema.md``):

* **Read whole**: a JSON document (a file that is not NDJSON) or one NDJSON line is read
  into memory whole, up to :attr:`Limits.document_bytes` (256 MiB by default); larger,
  the file (or the line) is rejected with a reason. Everything else streams.
* **Gzip expansion**: a gzip stream may expand to :data:`EXPANSION_FLOOR` (64 MiB)
  whatever its ratio, and beyond that to at most :data:`MAX_EXPANSION` (100) times the
  compressed bytes read so far; past that it is a decompression bomb and its file is
  rejected. CloudTrail compresses about 5 to 15 times.
* **Parsed JSON**: a record is parsed into Python objects (the reference path, or a
  nested part a row needs) only when its JSON text is at most :data:`MAX_PARSED_BYTES`
  (1 MiB); otherwise the record is rejected. The fast path reads larger records
  without parsing them.
* **Kept fields**: a string a canonical row keeps is at most :data:`MAX_FIELD_CHARS`
  characters; a longer one keeps its first :data:`MAX_FIELD_CHARS` characters followed
  by a mark, :func:`bounded_text`. A list keeps at most :data:`MAX_LIST_ITEMS` items.
  CloudTrail itself truncates over-long fields rather than dropping the event; so do
  we, so an over-long field never hides an event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from features._schema import CANONICAL_SCHEMA

__all__ = [
    "DEFAULT_LIMITS",
    "EXPANSION_FLOOR",
    "LIST_POSITIONS",
    "MAX_EXPANSION",
    "MAX_FIELD_CHARS",
    "MAX_LIST_ITEMS",
    "MAX_PARSED_BYTES",
    "TEXT_POSITIONS",
    "TRUNCATION_MARK",
    "Limits",
    "bounded_list",
    "bounded_row",
    "bounded_strings",
    "bounded_text",
    "size_text",
]

logger = logging.getLogger(__name__)

MAX_EXPANSION: Final = 100
EXPANSION_FLOOR: Final = 64 << 20
MAX_PARSED_BYTES: Final = 1 << 20
MAX_FIELD_CHARS: Final = 2048
MAX_LIST_ITEMS: Final = 256
TRUNCATION_MARK: Final = "…[truncated from {length} characters]"
"""What follows the kept part of a cut string; ``length`` is the original length."""


def size_text(size: int) -> str:
    """Return a byte count for a message: ``"3.0 MiB"``, ``"512 KiB"``, ``"17 bytes"``."""
    if size >= 1 << 20:
        return f"{size / (1 << 20):,.1f} MiB"
    if size >= 1 << 10:
        return f"{size / (1 << 10):,.0f} KiB"
    return f"{size:,} bytes"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the memory and time one source may take.

    Parameters
    ----------
    document_bytes : int
        Largest JSON document or NDJSON line read whole, in bytes (decompressed).
    """

    document_bytes: int = 256 << 20

    def expansion_limit(self, compressed: int) -> int:
        """Return how far gzip output may grow after ``compressed`` input bytes."""
        return max(EXPANSION_FLOOR, MAX_EXPANSION * compressed)

    def bomb_reason(self, compressed: int, expanded: int) -> str:
        """Return the rejection reason of a stream past :meth:`expansion_limit`."""
        return (
            f"gzip bomb: expands more than {MAX_EXPANSION} times "
            f"(past {size_text(expanded)} from {size_text(compressed)}); not read"
        )

    def document_reason(self) -> str:
        """Return the rejection reason of a JSON document larger than :attr:`document_bytes`."""
        return (
            f"JSON document larger than {size_text(self.document_bytes)}, the most read whole; "
            "write it as NDJSON (a record a line), which is streamed, or raise --max-document-mib"
        )


DEFAULT_LIMITS: Final = Limits()


def bounded_text(value: str) -> str:
    """Return ``value``, or its first :data:`MAX_FIELD_CHARS` characters and a mark when longer.

    The mark (:data:`TRUNCATION_MARK`) states the original length, so a cut value is
    never mistaken for a whole one. Applied to every string a canonical row keeps.
    """
    if len(value) <= MAX_FIELD_CHARS:
        return value
    return value[:MAX_FIELD_CHARS] + TRUNCATION_MARK.format(length=f"{len(value):,}")


def bounded_list(values: list[str]) -> list[str]:
    """Return at most :data:`MAX_LIST_ITEMS` items, each :func:`bounded_text`."""
    if not values:
        return values
    if len(values) > MAX_LIST_ITEMS:
        values = values[:MAX_LIST_ITEMS]
    if max(map(len, values)) > MAX_FIELD_CHARS:
        return [bounded_text(value) for value in values]
    return values


TEXT_POSITIONS: Final = tuple(
    index for index, column in enumerate(CANONICAL_SCHEMA) if pa.types.is_string(column.type)
)
"""Where a canonical row holds strings."""
LIST_POSITIONS: Final = tuple(
    index for index, column in enumerate(CANONICAL_SCHEMA) if pa.types.is_list(column.type)
)
"""Where a canonical row holds lists of strings."""


def _over(value: Any) -> bool:
    return value is not None and len(value) > MAX_FIELD_CHARS


def bounded_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return a canonical row with every string and list within the field limits.

    The reference normaliser's bound; the columnar fast path gets the same values with
    :func:`bounded_text` on its distinct values and :func:`bounded_strings` on its
    per-row columns. The row is copied only when something is cut.
    """
    texts = [index for index in TEXT_POSITIONS if _over(row[index])]
    lists = [
        index
        for index in LIST_POSITIONS
        if len(row[index]) > MAX_LIST_ITEMS or any(map(_over, row[index]))
    ]
    if not texts and not lists:
        return row
    values = list(row)
    for index in texts:
        values[index] = bounded_text(values[index])
    for index in lists:
        values[index] = bounded_list(values[index])
    return tuple(values)


def bounded_strings(array: pa.Array) -> pa.Array:
    """Return a string column with every value :func:`bounded_text`; rebuilt only when needed.

    A column whose bytes all together fit one value needs no look; otherwise one
    vectorised look at the longest value in bytes (never fewer than its characters).
    """
    if array.nbytes <= MAX_FIELD_CHARS:
        return array
    longest = pc.max(pc.binary_length(array)).as_py()
    if longest is None or longest <= MAX_FIELD_CHARS:
        return array
    values = [None if value is None else bounded_text(value) for value in array.to_pylist()]
    return pa.array(values, type=array.type)
