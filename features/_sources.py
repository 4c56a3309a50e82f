"""Finding CloudTrail inputs and reading raw records out of them, by content.

A *source* is a file or standard input (``"-"``). Its kind is read from its bytes,
never from its name alone:

* gzip (magic ``1f 8b``) is decompressed first, whatever the file is called;
* ``{"Records": [...]}``: a CloudTrail S3 delivery file;
* a CloudTrail digest file (``digestPublicKeyFingerprint`` / ``logFiles``): skipped;
* ``[...]``: a JSON array of records or EventBridge envelopes;
* one JSON object per line (NDJSON, also Logstash exports with ``@timestamp``);
* one JSON object: a single record or EventBridge envelope.

Directories are walked in sorted order for files whose names end in ``.json``,
``.json.gz``, ``.jsonl``, ``.ndjson`` or ``.gz`` (S3 delivery trees included); files
named on the command line are read whatever their name.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, cast

import msgspec
from isal import igzip, isal_zlib
from msgspec import Raw

from features._exceptions import RecordRejected, SourceError
from features._wire import (
    WIRE_ERRORS,
    Delivery,
    Line,
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
    "discover",
    "read_records",
    "read_source",
]

logger = logging.getLogger(__name__)

STDIN: Final = "-"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_DATA_SUFFIXES: Final = (".json", ".json.gz", ".jsonl", ".ndjson", ".gz", ".jsonl.gz", ".ndjson.gz")
_SNIFF: Final = 1 << 16
_WHOLE_GZIP_BYTES: Final = 16 << 20
_ISAL_ERROR: Final = cast(type[Exception], isal_zlib.error)
_NDJSON_CHUNK: Final = 8192
_DIGEST_KEYS: Final = ("digestPublicKeyFingerprint", "digestSignatureAlgorithm", "logFiles")
_RECORD_HINTS: Final = ("eventName", "eventTime", "eventVersion", "eventSource", "detail-type")
_BOM: Final = b"\xef\xbb\xbf"
_DELIVERY: Final = msgspec.json.Decoder(Delivery)
_WIRE_DELIVERY: Final = msgspec.json.Decoder(WireDelivery)
_LINE: Final = msgspec.json.Decoder(Line)
_TOP: Final = msgspec.json.Decoder(dict[str, Raw] | list[Raw])


@dataclass(slots=True)
class RawChunk:
    """Consecutive records of one source, with their 1-based positions.

    Each record is the raw JSON text that stood there (:class:`msgspec.Raw`, not yet
    parsed), or a :class:`RecordRejected` when an NDJSON line was not JSON at all,
    or, for a delivery file whose records all fit it, the decoded
    :class:`~features._wire.WireRecord` (:meth:`raw` still gives its text).
    Positions are record numbers in a JSON document and line numbers in NDJSON.
    Records come in chunks, not one by one, because a Python object per record costs
    as much as normalising it.
    """

    source: str
    positions: Sequence[int]
    records: Sequence[WireRecord | Raw | RecordRejected]
    document: bytes | None = None
    """The delivery file the records were decoded from, when they were."""
    _raws: list[Raw] | None = None

    def raw(self, index: int) -> Raw | RecordRejected:
        """Return the record at ``index`` (0-based) as read: its raw text, or its rejection."""
        item = self.records[index]
        if type(item) is not WireRecord:
            return cast(Raw | RecordRejected, item)
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


def discover(paths: Iterable[str | Path]) -> list[str]:
    """Expand directories into the data files under them, in a stable order.

    Parameters
    ----------
    paths : iterable of str or Path
        Files, directories, or ``"-"`` for standard input.

    Returns
    -------
    list of str
        Files named directly come first in the given order; each directory adds its
        files sorted by path. ``CloudTrail-Digest`` folders are left out.

    Raises
    ------
    SourceError
        When a path does not exist.
    """
    found: list[str] = []
    for path in paths:
        text = str(path)
        if text == STDIN:
            found.append(STDIN)
            continue
        if os.path.isdir(text):
            inside: list[str] = []
            for root, dirs, files in os.walk(text):
                dirs[:] = sorted(
                    d for d in dirs if not d.startswith(".") and d != "CloudTrail-Digest"
                )
                inside.extend(
                    os.path.join(root, name)
                    for name in files
                    if not name.startswith(".") and name.endswith(_DATA_SUFFIXES)
                )
            found.extend(sorted(inside))
        elif os.path.exists(text):
            found.append(text)
        else:
            raise SourceError(text, "no such file or directory")
    return found


def _open(source: str) -> io.BufferedReader:
    if source == STDIN:
        raw: Any = getattr(sys.stdin.buffer, "raw", sys.stdin.buffer)
        return io.BufferedReader(raw, buffer_size=_SNIFF)
    return cast(io.BufferedReader, open(source, "rb", buffering=_SNIFF))


def _decompressed(raw: io.BufferedReader) -> io.BufferedReader:
    if raw.peek(2)[:2] == _GZIP_MAGIC:
        unzipped = igzip.IGzipFile(fileobj=raw, mode="rb")  # type: ignore[no-untyped-call]
        return io.BufferedReader(unzipped, buffer_size=_SNIFF)
    return raw


def _first_significant(data: bytes) -> int:
    for byte in data:
        if byte not in b" \t\r\n\xef\xbb\xbf":
            return byte
    return -1


def read_source(source: str) -> Iterator[RawChunk]:
    """Yield every raw record of one source, in order.

    Records are yielded as read, so a stream that breaks half way (a truncated
    gzip of NDJSON) still gives what came before the break.

    Raises
    ------
    SourceError
        When the source cannot be opened, decompressed or parsed as a whole; records
        already yielded stay valid.
    SkippedSource
        For CloudTrail digest files, which hold no events.
    """
    try:
        with _open(source) as handle:
            yield from _records(source, _whole_or_streamed(source, handle))
    except (OSError, EOFError, zlib.error) as error:
        raise SourceError(source, _describe(error)) from error


def _whole_or_streamed(source: str, handle: io.BufferedReader) -> io.BufferedReader | bytes:
    """Decompress a gzip file of ordinary size in one call, else as a stream.

    One call is about twice as fast as the streaming reader on CloudTrail's small
    delivery files. A file that does not decompress whole (truncated, corrupt) is
    read as a stream instead, which keeps what comes before the break and reports
    the break itself.
    """
    if source == STDIN or handle.peek(2)[:2] != _GZIP_MAGIC:
        return _decompressed(handle)
    if os.fstat(handle.fileno()).st_size > _WHOLE_GZIP_BYTES:
        return _decompressed(handle)
    compressed = handle.read()
    try:
        data = igzip.decompress(compressed)  # type: ignore[no-untyped-call]
    except (OSError, EOFError, zlib.error, _ISAL_ERROR):
        return _decompressed(io.BufferedReader(io.BytesIO(compressed), buffer_size=_SNIFF))
    return cast(bytes, data)


def read_records(data: bytes, source: str = "<bytes>") -> list[Any]:
    """Return every raw record of one CloudTrail file's bytes, in order.

    The bytes are read as :func:`read_source` reads a file (gzip sniffed by its magic,
    ``{"Records": [...]}``, arrays, NDJSON, single records); for readers that fetch the
    bytes themselves (Spark's ``binaryFile`` source, object stores). Hand the result to
    :func:`features.records_to_table`.

    Parameters
    ----------
    data : bytes
        The file's content, compressed or not.
    source : str
        Name used in errors and rejections (the file's path or URI).

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
        that holds no records), or a gzip stream is truncated or corrupt.
    """
    stream = cast(io.BufferedReader, io.BufferedReader(io.BytesIO(data), buffer_size=_SNIFF))
    records: list[Any] = []
    try:
        for chunk in _records(source, _decompressed(stream)):
            for item in map(chunk.raw, range(len(chunk.records))):
                try:
                    records.append(item if isinstance(item, RecordRejected) else parse_raw(item))
                except RecordRejected as rejection:
                    records.append(rejection)
    except SkippedSource:
        return []
    except (OSError, EOFError, zlib.error) as error:
        raise SourceError(source, _describe(error)) from error
    return records


def _describe(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "truncated gzip: the file ends before its end-of-stream marker"
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "is a directory"
    return f"cannot read: {error}"


def _records(source: str, stream: io.BufferedReader | bytes) -> Iterator[RawChunk]:
    """Yield the records of a stream, or of a file's bytes already in memory."""
    head = stream[:_SNIFF] if isinstance(stream, bytes) else stream.peek(_SNIFF)
    first = _first_significant(head)
    if first == ord("{") and _is_ndjson(head):
        yield from _ndjson(source, io.BytesIO(stream) if isinstance(stream, bytes) else stream)
        return
    data = stream if isinstance(stream, bytes) else stream.read()
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data.strip():
        return
    if first == ord("{"):
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
        # Valid JSON that is neither an object nor an array.
        kind = type(msgspec.json.decode(data)).__name__
        raise NotCloudTrail(source, f"JSON {kind} holds no CloudTrail records") from None
    except WIRE_ERRORS as error:
        if first == ord("{") and _any_json_line(data):
            # NDJSON whose first line is broken or longer than the sniff window.
            yield from _ndjson(source, io.BytesIO(data))
            return
        if first in (ord("{"), ord("[")):
            raise SourceError(source, f"not valid JSON: {error}") from None
        raise SourceError(source, "not JSON: neither CloudTrail JSON nor NDJSON") from None
    yield from _document(source, data, document)


def _is_ndjson(head: bytes) -> bool:
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


def _any_json_line(data: bytes) -> bool:
    for line in data.splitlines():
        if line.strip():
            try:
                _LINE.decode(line)
            except WIRE_ERRORS:
                continue
            return True
    return False


def _document(source: str, data: bytes, document: dict[str, Raw] | list[Raw]) -> Iterator[RawChunk]:
    if isinstance(document, dict):
        records = document.get("Records")
        if records is not None and is_array(records):
            raws = split_array(records)
            yield RawChunk(source, range(1, len(raws) + 1), raws)
            return
        if any(key in document for key in _DIGEST_KEYS):
            raise SkippedSource(source, "CloudTrail digest file: holds no events")
        if any(key in document for key in _RECORD_HINTS):
            yield RawChunk(source, range(1, 2), [Raw(data)])
            return
        raise NotCloudTrail(
            source, 'JSON object is neither {"Records": [...]} nor a CloudTrail record'
        )
    yield RawChunk(source, range(1, len(document) + 1), document)


def _ndjson(source: str, stream: IO[bytes]) -> Iterator[RawChunk]:
    positions: list[int] = []
    records: list[Raw | RecordRejected] = []
    decode_line = _LINE.decode
    try:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                inner = decode_line(line).Records
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
            if len(records) >= _NDJSON_CHUNK:
                yield RawChunk(source, positions, records)
                positions, records = [], []
    except (OSError, EOFError, zlib.error):
        # The stream broke (a truncated gzip): keep the lines read before the break.
        if records:
            yield RawChunk(source, positions, records)
        raise
    if records:
        yield RawChunk(source, positions, records)
