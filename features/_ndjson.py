"""NDJSON: one JSON object a line, read as a stream with every line bounded.

A line is held whole up to the document limit (:mod:`features._limits`); a longer one
is a rejected record, and reading goes on at the next line. A line that holds a
whole delivery file (``{"Records": [...]}``) or Event Hubs message (``{"records": [...]}``)
gives each of its records.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import IO, Final

import msgspec
from msgspec import Raw

from features._exceptions import RecordRejected
from features._limits import Limits, size_text
from features._wire import WIRE_ERRORS, Line, is_array, split_array

__all__ = ["any_json_line", "is_ndjson", "ndjson_records"]

logger = logging.getLogger(__name__)

_CHUNK: Final = 8192
_LINE: Final = msgspec.json.Decoder(Line)
_TOP: Final = msgspec.json.Decoder(dict[str, Raw] | list[Raw])

Records = tuple[list[int], list[Raw | RecordRejected]]
"""Line numbers and records of a run of lines."""


def is_ndjson(head: bytes) -> bool:
    """Tell NDJSON: a first line that is a whole JSON object followed by more text."""
    text = head.lstrip()
    newline = text.find(b"\n")
    if newline < 0:
        return False
    try:
        _TOP.decode(text[:newline])
    except WIRE_ERRORS:
        return False
    return bool(text[newline:].strip())


def any_json_line(data: bytes) -> bool:
    """Tell whether any line of ``data`` is a JSON object."""
    for line in data.splitlines():
        if line.strip():
            try:
                _LINE.decode(line)
            except WIRE_ERRORS:
                continue
            return True
    return False


def _lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line number, line)`` of a stream; ``None`` for a line longer than ``limit``.

    A line is never held longer than ``limit`` bytes: the rest of an over-long line is
    read and dropped piecewise.
    """
    readline = stream.readline
    number = 0
    while line := readline(limit + 1):
        number += 1
        if len(line) <= limit or line.endswith(b"\n"):
            yield number, line
            continue
        while (rest := readline(limit + 1)) and not rest.endswith(b"\n"):
            pass
        yield number, None


def ndjson_records(
    stream: IO[bytes], limits: Limits, broken: tuple[type[BaseException], ...]
) -> Iterator[Records]:
    """Yield the records of an NDJSON stream in runs, with their line numbers.

    When reading raises one of ``broken`` (a truncated gzip, a bomb), the records read
    before the break are yielded first, then the error is raised again.
    """
    positions: list[int] = []
    records: list[Raw | RecordRejected] = []
    decode_line = _LINE.decode
    too_long = f"line longer than {size_text(limits.document_bytes)}, the most read whole"
    try:
        for number, line in _lines(stream, limits.document_bytes):
            if line is None:
                records.append(RecordRejected("(line)", too_long))
                positions.append(number)
                continue
            if not line.strip():
                continue
            try:
                decoded = decode_line(line)
                inner = decoded.Records or decoded.records
            except msgspec.ValidationError:
                records.append(Raw(line))  # JSON but not an object: the record's problem
                positions.append(number)
            except WIRE_ERRORS as error:
                records.append(RecordRejected("(line)", f"not JSON: {error}"))
                positions.append(number)
            else:
                if is_array(inner):
                    # A whole delivery file on one line.
                    raws = split_array(inner)
                    positions.extend([number] * len(raws))
                    records.extend(raws)
                else:
                    positions.append(number)
                    records.append(Raw(line))
            if len(records) >= _CHUNK:
                yield positions, records
                positions, records = [], []
    except broken:
        # The stream broke (a truncated gzip, a bomb): keep the lines read before the break.
        if records:
            yield positions, records
        raise
    if records:
        yield positions, records
