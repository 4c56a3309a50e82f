"""CloudTrail on the wire: raw JSON per record, and the fields the normaliser reads.

Reading a file does not parse its records. It splits the document into one
:class:`msgspec.Raw` per record (a view of that record's JSON text), which costs a
scan and no Python objects beyond the view. Normalising then decodes each record
into :class:`WireRecord`, a typed struct of the few fields a canonical row needs;
everything else in the record (most of its bytes: ``requestParameters``,
``responseElements``, ``tlsDetails``...) is skipped by the decoder, and the nested
objects the row needs only sometimes stay raw until they are needed.

A record that does not fit the struct (a field of the wrong type, not a JSON
object at all) is parsed in full by :func:`parse_raw` and handed to the reference
normaliser, which names the field and the reason. See ADR 0017.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
import orjson
from msgspec import Raw, Struct, field

from features._exceptions import RecordRejected
from features._limits import MAX_PARSED_BYTES, size_text

__all__ = [
    "EMPTY_RAW",
    "WIRE_ERRORS",
    "Delivery",
    "Line",
    "WireDelivery",
    "WireRecord",
    "decode_records",
    "is_array",
    "parse_raw",
    "split_array",
    "too_large_to_parse",
]

EMPTY_RAW: Final = Raw()
WIRE_ERRORS: Final = (msgspec.MsgspecError, ValueError)
"""What decoding raw JSON can raise (``UnicodeDecodeError`` is a ``ValueError``)."""


class WireRecord(Struct, gc=False, rename="camel"):
    """The fields of one CloudTrail record that a canonical row is made of.

    Attributes are CloudTrail's field names in snake case. String fields are
    ``None`` when absent or null. Nested objects stay raw JSON (empty when absent)
    and are parsed only for the rows that need them. A record with ``detail-type``
    is an EventBridge envelope and takes the reference path.
    """

    event_id: str | None = field(name="eventID", default=None)
    event_time: str | None = None
    aws_region: str | None = None
    event_source: str | None = None
    event_name: str | None = None
    event_type: str | None = None
    error_code: str | None = None
    source_ip_address: str | None = field(name="sourceIPAddress", default=None)
    user_agent: str | None = None
    recipient_account_id: str | None = None
    read_only: bool | None = None
    user_identity: Raw = EMPTY_RAW
    request_parameters: Raw = EMPTY_RAW
    response_elements: Raw = EMPTY_RAW
    additional_event_data: Raw = EMPTY_RAW
    detail_type: Raw = field(name="detail-type", default=EMPTY_RAW)


class Delivery(Struct, gc=False):
    """A CloudTrail S3 delivery file: ``{"Records": [...]}``, records left raw."""

    Records: list[Raw]


class WireDelivery(Struct, gc=False):
    """A CloudTrail S3 delivery file whose every record fits :class:`WireRecord`."""

    Records: list[WireRecord]


class Line(Struct, gc=False):
    """What an NDJSON line is checked for: a whole delivery file (or Event Hubs message)."""

    Records: Raw = EMPTY_RAW
    records: Raw = EMPTY_RAW


_RECORD: Final = msgspec.json.Decoder(WireRecord)
_ARRAY: Final = msgspec.json.Decoder(list[Raw])
_OPEN_BRACKET: Final = ord("[")


def decode_records(raws: list[Raw]) -> list[WireRecord | None]:
    """Decode raw records into :class:`WireRecord`; ``None`` where one does not fit."""
    decode = _RECORD.decode
    try:
        return [decode(raw) for raw in raws]
    except WIRE_ERRORS:
        pass
    decoded: list[WireRecord | None] = []
    for raw in raws:
        try:
            decoded.append(decode(raw))
        except WIRE_ERRORS:
            decoded.append(None)
    return decoded


def is_array(raw: Raw) -> bool:
    """Tell whether raw JSON is an array (its first byte, raw values carry no padding)."""
    return len(raw) > 0 and memoryview(raw)[0] == _OPEN_BRACKET


def split_array(data: bytes | Raw) -> list[Raw]:
    """Split a JSON array into raw elements (raises :data:`WIRE_ERRORS` if it is not one)."""
    return _ARRAY.decode(data)


def too_large_to_parse(size: int) -> str:
    """Return the reason a record of ``size`` bytes of JSON is not parsed in full."""
    return (
        f"{size_text(size)} of JSON, more than the {size_text(MAX_PARSED_BYTES)} "
        "a record is parsed in full up to"
    )


def parse_raw(raw: Raw) -> Any:
    """Parse one raw record in full, for the reference normaliser.

    Raises
    ------
    RecordRejected
        When the text is not JSON that Python can hold (a number beyond a double's
        range, a lone surrogate): the record's problem, not the file's. Or when it is
        longer than :data:`~features._limits.MAX_PARSED_BYTES`: parsing it would take
        many times its size in memory.
    """
    if not raw:
        return None
    if len(raw) > MAX_PARSED_BYTES:
        raise RecordRejected("(record)", too_large_to_parse(len(raw)))
    try:
        return orjson.loads(memoryview(raw))
    except orjson.JSONDecodeError as error:
        raise RecordRejected("(record)", f"not JSON: {error}") from None
