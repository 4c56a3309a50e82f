"""Finding audit-log inputs and reading raw records out of them, by content.

A *source* is a file or standard input (``"-"``). Its kind is read from its bytes,
never from its name alone:

* gzip (magic ``1f 8b``) is decompressed first, whatever the file is called;
* Parquet (magic ``PAR1``): OCSF records as Amazon Security Lake keeps them
  (:mod:`features._parquet`);
* ``{"Records": [...]}``: a CloudTrail S3 delivery file; ``{"records": [...]}`` an Azure
  Event Hubs message; ``{"value": [...]}``, ``{"entries": [...]}`` and
  ``{"receivedMessages": [...]}`` the Azure, Cloud Logging and Pub/Sub API answers;
* a CloudTrail digest file (``digestPublicKeyFingerprint`` / ``logFiles``): skipped;
* ``[...]``: a JSON array of records or EventBridge envelopes;
* one JSON object per line (NDJSON: Azure storage exports, Google Cloud Storage sinks,
  Logstash exports with ``@timestamp``);
* one JSON object: a single record or envelope of any format (:mod:`features._clouds`).

Directories are walked by :mod:`features._walk`, NDJSON is read by
:mod:`features._ndjson`. What one source may cost is bounded
(:mod:`features._limits`): gzip is decompressed with an expansion limit, a JSON
document or an NDJSON line is read whole only up to a size, NDJSON streams. A file of
ordinary size is read and decompressed in one call each: on CloudTrail's small
delivery files, per-file overhead is most of the cost.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Final, cast

import msgspec
from isal import isal_zlib
from msgspec import Raw

from features._clouds import looks_like_records
from features._exceptions import RecordRejected, SourceError
from features._gunzip import GZIP_MAGIC, GunzipStream, gunzip_whole
from features._limits import DEFAULT_LIMITS, Limits
from features._ndjson import any_json_line, is_ndjson, ndjson_records
from features._parquet import PARQUET_MAGIC, NotOcsf, parquet_records
from features._walk import STDIN, reason_of
from features._wire import (
    WIRE_ERRORS,
    Delivery,
    WireDelivery,
    WireRecord,
    is_array,
    parse_raw,
    split_array,
)

__all__ = [
    "STDIN",
    "NotCloudTrail",
    "RawChunk",
    "SkippedSource",
    "read_records",
    "read_source",
]

logger = logging.getLogger(__name__)

_SNIFF: Final = 1 << 16
_WHOLE_FILE_BYTES: Final = 16 << 20
"""Files up to this size on disk are read in one call (and decompressed in one call)."""
_WIRE_WHOLE_BYTES: Final = 16 << 20
"""Documents up to this size decode straight into wire records; larger ones record by record."""
_ISAL_ERROR: Final = cast(type[Exception], isal_zlib.error)
_READ_ERRORS: Final = (OSError, EOFError, zlib.error, _ISAL_ERROR)
_DIGEST_KEYS: Final = ("digestPublicKeyFingerprint", "digestSignatureAlgorithm", "logFiles")
_RECORD_HINTS: Final = ("eventName", "eventTime", "eventVersion", "eventSource", "detail-type")
_CONTAINERS: Final = ("Records", "records", "value", "entries", "receivedMessages")
"""Keys of an object whose array holds the records: CloudTrail's delivery file, an Event Hubs
message, the Azure REST API's list, Cloud Logging's ``entries:list``, a Pub/Sub pull."""
_ANSWERS: Final = frozenset({"value", "entries", "receivedMessages"})
"""Containers read only when their first element is a record (the keys are common words)."""
_KEYS: Final = msgspec.json.Decoder(dict[str, Raw])
_BOM: Final = b"\xef\xbb\xbf"
_DELIVERY: Final = msgspec.json.Decoder(Delivery)
_WIRE_DELIVERY: Final = msgspec.json.Decoder(WireDelivery)
_TOP: Final = msgspec.json.Decoder(dict[str, Raw] | list[Raw])

Content = bytes | io.BufferedReader
"""A source's decompressed content: in memory whole, or a stream."""


@dataclass(slots=True)
class RawChunk:
    """Consecutive records of one source, with their 1-based positions.

    Each record is the raw JSON text that stood there (:class:`msgspec.Raw`, not yet
    parsed), or a :class:`RecordRejected` when an NDJSON line was not JSON at all,
    or a row of an OCSF Parquet file as a ``dict``,
    or, for a delivery file whose records all fit it, the decoded
    :class:`~features._wire.WireRecord` (:meth:`raw` still gives its text).
    Positions are record numbers in a JSON document and line numbers in NDJSON.
    Records come in chunks, not one by one, because a Python object per record costs
    as much as normalising it.
    """

    source: str
    positions: Sequence[int]
    records: Sequence[WireRecord | Raw | RecordRejected | dict[str, Any]]
    document: bytes | None = None
    """The delivery file the records were decoded from, when they were."""
    _raws: list[Raw] | None = None

    def raw(self, index: int) -> Raw | RecordRejected | dict[str, Any]:
        """Return the record at ``index`` (0-based) as read: its raw text, or its rejection."""
        item = self.records[index]
        if type(item) is not WireRecord:
            return cast(Raw | RecordRejected | dict[str, Any], item)
        if self._raws is None:
            self._raws = _DELIVERY.decode(cast(bytes, self.document)).Records
        return self._raws[index]


class SkippedSource(Exception):
    """Raised by :func:`read_source` for inputs that hold no records (digest files)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class NotCloudTrail(SourceError):
    """Valid JSON that holds no CloudTrail (a manifest, a label file).

    An error for a file named on the command line; a file found by walking a
    directory is skipped instead, so a folder with a ``manifest.json`` beside its
    trail reads cleanly.
    """


def _read_small(path: str) -> bytes | None:
    """Return a regular file's bytes when it is small enough to read in one call, else ``None``."""
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode) or status.st_size > _WHOLE_FILE_BYTES:
            return None
        data = os.read(handle, status.st_size + 1)
        return data if len(data) <= status.st_size else None  # grown since: stream it
    finally:
        os.close(handle)


def _open(source: str) -> io.BufferedReader:
    if source == STDIN:
        raw: Any = getattr(sys.stdin.buffer, "raw", sys.stdin.buffer)
        return io.BufferedReader(raw, buffer_size=_SNIFF)
    return cast(io.BufferedReader, open(source, "rb", buffering=_SNIFF))


def _unpacked(source: str, data: bytes, limits: Limits) -> Content:
    """Return the content of a file held in memory, decompressed in one call when it is gzip.

    A gzip file that does not decompress whole within its limits (a bomb, a
    truncation, several members, NDJSON too large to hold) is read as a stream
    instead, which keeps what comes before a break and reports it.
    """
    if data[:2] != GZIP_MAGIC:
        return data
    whole = gunzip_whole(data, limits)
    if whole is not None:
        return whole
    stream = GunzipStream(io.BytesIO(data), source, limits)
    return io.BufferedReader(stream, buffer_size=_SNIFF)


def _streamed(source: str, handle: io.BufferedReader, limits: Limits) -> io.BufferedReader:
    if handle.peek(2)[:2] == GZIP_MAGIC:
        return io.BufferedReader(GunzipStream(handle, source, limits), buffer_size=_SNIFF)
    return handle


def _first_significant(data: bytes) -> int:
    for byte in data:
        if byte not in b" \t\r\n\xef\xbb\xbf":
            return byte
    return -1


def read_source(source: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawChunk]:
    """Yield every raw record of one source, in order.

    Records are yielded as read, so a stream that breaks half way (a truncated
    gzip of NDJSON) still gives what came before the break.

    Parameters
    ----------
    source : str
        A file's path, or ``"-"`` for standard input.
    limits : Limits
        What reading it may cost (:mod:`features._limits`).

    Raises
    ------
    SourceError
        When the source cannot be opened, decompressed or parsed as a whole, is
        empty, is a gzip bomb or a JSON document over the size read whole; records
        already yielded stay valid.
    SkippedSource
        For CloudTrail digest files, which hold no events.
    """
    try:
        data = _read_small(source) if source != STDIN else None
        if data is not None:
            if data[:4] == PARQUET_MAGIC:
                yield from _parquet(source, data, limits)
                return
            yield from _records(source, _unpacked(source, data, limits), limits)
            return
        with _open(source) as handle:
            if handle.peek(4)[:4] == PARQUET_MAGIC:
                if source == STDIN:
                    raise SourceError(source, "Parquet is read from a file, not standard input")
                yield from _parquet(source, source, limits)
                return
            yield from _records(source, _streamed(source, handle, limits), limits)
    except _READ_ERRORS as error:
        raise SourceError(source, _describe(error)) from error


def read_records(
    data: bytes, source: str = "<bytes>", limits: Limits = DEFAULT_LIMITS
) -> list[Any]:
    """Return every raw record of one CloudTrail file's bytes, in order.

    The bytes are read as :func:`read_source` reads a file (gzip sniffed by its magic,
    ``{"Records": [...]}``, arrays, NDJSON, single records), within the same limits;
    for readers that fetch the bytes themselves (Spark's ``binaryFile`` source, object
    stores). Hand the result to :func:`features.records_to_table`.

    Parameters
    ----------
    data : bytes
        The file's content, compressed or not.
    source : str
        Name used in errors and rejections (the file's path or URI).
    limits : Limits
        What reading it may cost (:mod:`features._limits`).

    Returns
    -------
    list
        The records, parsed; a record that is not JSON Python can hold (an NDJSON
        line that is not JSON, a number beyond a double's range) is a
        :class:`RecordRejected` in its place (``records_to_table`` turns it into a
        rejection). A CloudTrail digest file gives no records.

    Raises
    ------
    SourceError
        When the bytes are not CloudTrail JSON (:class:`NotCloudTrail` for valid JSON
        that holds no records), are empty, or a gzip stream is truncated, corrupt or
        a bomb.
    """
    records: list[Any] = []
    try:
        chunks = (
            _parquet(source, data, limits)
            if data[:4] == PARQUET_MAGIC
            else _records(source, _unpacked(source, data, limits), limits)
        )
        for chunk in chunks:
            for item in map(chunk.raw, range(len(chunk.records))):
                try:
                    kept = isinstance(item, RecordRejected | dict)
                    records.append(item if kept else parse_raw(cast(Raw, item)))
                except RecordRejected as rejection:
                    records.append(rejection)
    except SkippedSource:
        return []
    except _READ_ERRORS as error:
        raise SourceError(source, _describe(error)) from error
    return records


def _describe(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "truncated gzip: the file ends before its end-of-stream marker"
    if isinstance(error, IsADirectoryError):
        return "is a directory"
    if isinstance(error, OSError) and error.errno is not None:
        return f"cannot read: {reason_of(error)}"
    if isinstance(error, zlib.error | _ISAL_ERROR):
        return f"corrupt gzip: {error}"
    return f"cannot read: {error}"


def _stored_size(stream: io.BufferedReader) -> int:
    """Return the size of the file under a stream (0 for a pipe or a decompressing stream)."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, ValueError):
        return 0


def _whole(source: str, content: Content, first: int, limits: Limits) -> bytes:
    """Return the content whole, refused when larger than a document may be.

    A plain file is refused by its size before it is read; a stream is read up to
    one byte past the limit.
    """
    if isinstance(content, bytes):
        data = content
    elif _stored_size(content) > limits.document_bytes:
        raise _too_large(source, first, limits)
    else:
        data = content.read(limits.document_bytes + 1)
    if len(data) > limits.document_bytes:
        raise _too_large(source, first, limits)
    return data[len(_BOM) :] if data.startswith(_BOM) else data


def _too_large(source: str, first: int, limits: Limits) -> SourceError:
    if first in (ord("{"), ord("[")):
        return SourceError(source, limits.document_reason())
    return SourceError(source, "not JSON: neither CloudTrail JSON nor NDJSON")


def _records(source: str, content: Content, limits: Limits = DEFAULT_LIMITS) -> Iterator[RawChunk]:
    """Yield the records of a source's content, in memory or streamed."""
    head = content[:_SNIFF] if isinstance(content, bytes) else content.peek(_SNIFF)
    if not head:
        raise SourceError(source, "empty: holds no data")
    first = _first_significant(head)
    if first == ord("{") and is_ndjson(head):
        lines = io.BytesIO(content) if isinstance(content, bytes) else content
        yield from _ndjson(source, lines, limits)
        return
    data = _whole(source, content, first, limits)
    if first < 0 and (not data or data.isspace()):  # (isspace copies nothing)
        raise SourceError(source, "empty: holds only whitespace")
    if first == ord("{"):
        if len(data) <= _WIRE_WHOLE_BYTES:
            try:
                # The usual case, in one pass: every record decoded as far as a row needs.
                wire = _WIRE_DELIVERY.decode(data).Records
            except WIRE_ERRORS:
                pass  # a record that does not fit, not a delivery file, or not JSON
            else:
                yield RawChunk(source, range(1, len(wire) + 1), wire, data)
                return
        try:
            records = _DELIVERY.decode(data).Records
        except WIRE_ERRORS:
            pass  # not a delivery file, or not JSON: told apart below
        else:
            yield RawChunk(source, range(1, len(records) + 1), records)
            return
    try:
        document = _TOP.decode(data)
    except msgspec.ValidationError:
        # Neither an object nor an array: a JSON scalar (no CloudTrail), or not JSON.
        try:
            kind = type(msgspec.json.decode(data)).__name__
        except WIRE_ERRORS:
            raise SourceError(source, "not JSON: neither CloudTrail JSON nor NDJSON") from None
        raise NotCloudTrail(source, f"JSON {kind} holds no CloudTrail records") from None
    except WIRE_ERRORS as error:
        if first == ord("{") and any_json_line(data):
            # NDJSON whose first line is broken or longer than the sniff window.
            yield from _ndjson(source, io.BytesIO(data), limits)
            return
        if first in (ord("{"), ord("[")):
            raise SourceError(source, f"not valid JSON: {error}") from None
        raise SourceError(source, "not JSON: neither CloudTrail JSON nor NDJSON") from None
    yield from _document(source, data, document)


def _record_like(raw: Raw) -> bool:
    """Whether raw JSON is an object with the keys of a record of some format."""
    try:
        keys = _KEYS.decode(raw)
    except WIRE_ERRORS:
        return False
    return any(key in keys for key in _RECORD_HINTS) or looks_like_records(keys)


def _parquet(source: str, content: str | bytes, limits: Limits) -> Iterator[RawChunk]:
    """Yield the rows of an OCSF Parquet file; other Parquet is no CloudTrail."""
    try:
        for positions, rows in parquet_records(source, content, limits):
            yield RawChunk(source, positions, rows)
    except NotOcsf as error:
        raise NotCloudTrail(source, error.reason) from None


def _document(source: str, data: bytes, document: dict[str, Raw] | list[Raw]) -> Iterator[RawChunk]:
    if isinstance(document, dict):
        for key in _CONTAINERS:
            records = document.get(key)
            if records is not None and is_array(records):
                raws = split_array(records)
                if key in _ANSWERS and not (raws and _record_like(raws[0])):
                    continue
                yield RawChunk(source, range(1, len(raws) + 1), raws)
                return
        if any(key in document for key in _DIGEST_KEYS):
            raise SkippedSource(source, "CloudTrail digest file: holds no events")
        if any(key in document for key in _RECORD_HINTS) or looks_like_records(document):
            yield RawChunk(source, range(1, 2), [Raw(data)])
            return
        raise NotCloudTrail(
            source,
            'JSON object is neither {"Records": [...]} nor a record of CloudTrail, '
            "Azure, Google Cloud or OCSF",
        )
    yield RawChunk(source, range(1, len(document) + 1), document)


def _ndjson(source: str, stream: IO[bytes], limits: Limits) -> Iterator[RawChunk]:
    broken = (*_READ_ERRORS, SourceError)
    for positions, records in ndjson_records(stream, limits, broken):
        yield RawChunk(source, positions, records)
