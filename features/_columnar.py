"""Column-at-a-time normalisation of a batch of raw records: the ingestion fast path.

:class:`~features._normalize.Normalizer` reads one record at a time and is the
reference. This module gives the same answer for a whole batch several times faster,
by doing per *distinct value* what the reference does per record: a trail repeats the
same few user identities, user agents, addresses and API names thousands of times.

Records the fast path cannot vouch for (not a plain object, an EventBridge envelope,
a mistyped or missing field, a time not in CloudTrail's own format, no event id) are
handed to the reference normaliser one by one, which rejects them with field and
reason or, for the merely unusual ones, makes their row. A property test checks that
both paths give the same rows and the same rejections for arbitrary batches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from itertools import compress
from operator import attrgetter
from typing import Any, Final, NamedTuple, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from msgspec import Raw
from msgspec.structs import astuple

from features._clients import client_of
from features._columnar_calls import (
    UNPARSABLE,
    Codes,
    call_columns,
    call_details,
    classify_calls,
    detail_columns,
    paired_codes,
    parsed,
)
from features._exceptions import RecordRejected
from features._identity import IdentityKeyRule
from features._limits import (
    MAX_FIELD_CHARS,
    bounded_strings,
)
from features._network import is_service_address, network_of
from features._normalize import (
    Normalizer,
    TableBuilder,
    _bool_text,
    _Identity,
    _identity_of,
)
from features._schema import CANONICAL_SCHEMA
from features._wire import WireRecord, decode_records, parse_raw

__all__ = ["normalize_batch"]

logger = logging.getLogger(__name__)

_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
_TIME_PATTERN: Final = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$"
)
_EPOCH_TEXT: Final = "1970-01-01T00:00:00Z"

Rejections = list[tuple[int, RecordRejected]]


def _encoded(array: pa.Array) -> tuple[Codes, list[Any]]:
    """Code per row and the distinct values (null included), by Arrow's hash table."""
    encoded = array.dictionary_encode(null_encoding="encode")
    return encoded.indices.to_numpy().astype(np.int32, copy=False), encoded.dictionary.to_pylist()


def _taken(values: list[Any], codes: Codes, kind: pa.DataType) -> pa.Array:
    """Each row's value from the distinct ``values``; strings within the field limits."""
    distinct = pa.array(values, type=kind)
    if kind == pa.string():
        distinct = bounded_strings(distinct)
    return distinct.take(pa.array(codes))


def _event_times(times: pa.StringArray) -> tuple[pa.Array, list[int]]:
    """Parse CloudTrail's own time format; also return the positions not in it.

    A strict pattern pins every field's width and range; ``strptime`` would roll
    30 February over into March, so the day it parses must be the day written.
    Times at the returned positions are for the reference path to judge.
    """
    shape = pc.fill_null(pc.match_substring_regex(times, _TIME_PATTERN), False)
    shaped = pc.if_else(shape, times, _EPOCH_TEXT)
    stamps = pc.strptime(shaped, format=_TIME_FORMAT, unit="s", error_is_null=True)
    written_day = pc.cast(pc.utf8_slice_codeunits(shaped, 8, 10), pa.int64())
    real = pc.fill_null(pc.equal(pc.day(stamps), written_day), False)
    invalid = np.flatnonzero(~pc.and_(shape, real).to_numpy(zero_copy_only=False)).tolist()
    return stamps.cast(pa.timestamp("us", tz="UTC")), invalid


class _Columns(NamedTuple):
    """The fields of a batch of :class:`WireRecord`, one tuple per field, in its order.

    Made in one pass over the records (each record is touched once, which matters
    more than anything else once the batch no longer fits the CPU's caches).
    """

    event_id: tuple[str, ...]
    event_time: tuple[str, ...]
    aws_region: tuple[str | None, ...]
    event_source: tuple[str | None, ...]
    event_name: tuple[str, ...]
    event_type: tuple[str | None, ...]
    error_code: tuple[str | None, ...]
    source_ip_address: tuple[str | None, ...]
    user_agent: tuple[str | None, ...]
    recipient_account_id: tuple[str | None, ...]
    read_only: tuple[bool | None, ...]
    user_identity: tuple[Raw, ...]
    request_parameters: tuple[Raw, ...]
    response_elements: tuple[Raw, ...]
    additional_event_data: tuple[Raw, ...]
    detail_type: tuple[Raw, ...]


def _bounded_by(array: pa.Array, distinct: list[str | None]) -> pa.Array:
    """Return a string column within the field limits, judged by its distinct values."""
    if all(value is None or len(value) <= MAX_FIELD_CHARS for value in distinct):
        return array
    return bounded_strings(array)


def _strings(values: Sequence[str | None]) -> pa.Array:
    """Return an Arrow string array of the values."""
    return pa.array(values, type=pa.string())


def _decoded(records: list[Any]) -> tuple[list[WireRecord | None], bool]:
    """Return each record as a :class:`WireRecord` (``None`` if not one), and whether all are."""
    wire = WireRecord
    if set(map(type, records)) == {wire}:
        return records, True
    raw_positions = [index for index, record in enumerate(records) if type(record) is Raw]
    decoded: list[WireRecord | None] = [
        record if type(record) is wire else None for record in records
    ]
    fresh = decode_records([records[index] for index in raw_positions])
    for index, record in zip(raw_positions, fresh, strict=True):
        decoded[index] = record
    return decoded, all(record is not None for record in decoded)


def _columns(records: list[WireRecord]) -> _Columns:
    """Return the fields of records that are all :class:`WireRecord`, one tuple per field."""
    return _Columns(*zip(*map(astuple, records), strict=True))


def _all_fit(column: _Columns) -> bool:
    """Whether every record of the columns is one the fast path makes (see :func:`_split`)."""
    return (
        all(column.event_id)
        and all(column.event_name)
        and None not in column.event_time
        and not any(column.detail_type)
    )


def _split(records: list[Any]) -> tuple[_Columns | None, list[int], list[int]]:
    """Return the columns of the records the fast path makes, their positions, and the rest's.

    The fast path cannot make: what is not a plain record, an EventBridge envelope, a
    record without an id (one is made from the whole record), or without a name or time
    (rejections). The usual batch is judged column by column, in C loops.
    """
    decoded, complete = _decoded(records)
    if not records:
        return None, [], []
    if complete:
        column = _columns(cast(list[WireRecord], decoded))
        if _all_fit(column):
            return column, list(range(len(records))), []
    fits = [
        record is not None
        and not record.detail_type
        and record.event_id
        and record.event_name
        and record.event_time is not None
        for record in decoded
    ]
    fast_positions = list(compress(range(len(records)), fits))
    slow_positions = [index for index, ok in enumerate(fits) if not ok]
    fast = cast(list[WireRecord], list(compress(decoded, fits)))
    return (_columns(fast) if fast else None), fast_positions, slow_positions


def normalize_batch(
    records: list[Any],
    normalizer: Normalizer,
    *,
    raw_of: Callable[[int], Any] | None = None,
) -> tuple[pa.Table, Rejections]:
    """Normalise a batch of records as read into a canonical table, in input order.

    Parameters
    ----------
    records : list
        Records as read (see :class:`features._sources.RawChunk`): raw JSON text
        (:class:`msgspec.Raw`) or decoded :class:`WireRecord`. Anything else (a
        parsed JSON value, a :class:`RecordRejected` for a line that was not JSON)
        takes the reference path.
    normalizer : Normalizer
        The reference normaliser; its identity rule and GeoIP are used throughout.
    raw_of : callable, optional
        The raw text of the record at an index; needed when ``records`` holds
        :class:`WireRecord` values, for those the reference path must judge.

    Returns
    -------
    table : pyarrow.Table
        One canonical row per accepted record, in the order of ``records``.
    rejections : list of (int, RecordRejected)
        The 0-based index and the rejection of every record not accepted.
    """
    column, fast_positions, slow_positions = _split(records)
    table, late = _fast_table(column, normalizer)
    if late:
        # Rows whose time, identity or details only the reference path can judge.
        slow_positions.extend(fast_positions[index] for index in late)
        keep_mask = np.ones(len(fast_positions), dtype=bool)
        keep_mask[late] = False
        fast_positions = list(compress(fast_positions, keep_mask.tolist()))
        table = table.filter(pa.array(keep_mask))

    if not slow_positions:
        return table, []

    def reference_input(index: int) -> Any:
        item = records[index]
        if type(item) is WireRecord:
            if raw_of is None:
                raise ValueError("normalize_batch needs raw_of for decoded records")
            item = raw_of(index)
        return parse_raw(item) if type(item) is Raw else item

    return _merge_slow(reference_input, table, fast_positions, sorted(slow_positions), normalizer)


def _merge_slow(
    reference_input: Callable[[int], Any],
    table: pa.Table,
    fast_positions: list[int],
    slow_positions: list[int],
    normalizer: Normalizer,
) -> tuple[pa.Table, Rejections]:
    builder = TableBuilder()
    kept: list[int] = []
    rejections: Rejections = []
    for index in slow_positions:
        try:
            builder.append(normalizer(reference_input(index)))
        except RecordRejected as rejection:
            rejections.append((index, rejection))
        else:
            kept.append(index)
    if not kept:
        return table, rejections
    combined = pa.concat_tables([table, builder.build()])
    order = np.argsort(np.asarray(fast_positions + kept, dtype=np.int64), kind="stable")
    return combined.take(pa.array(order)), rejections


def _fast_table(column: _Columns | None, normalizer: Normalizer) -> tuple[pa.Table, list[int]]:
    """Build the canonical table of records that fit :class:`WireRecord`, from their columns.

    Returns the table and the indices (into the columns) of rows the reference path
    must redo: times not in CloudTrail's format, identities or details that are malformed.
    """
    if column is None:
        return CANONICAL_SCHEMA.empty_table(), []
    count = len(column.event_id)
    late: set[int] = set()

    event_time, odd_times = _event_times(_strings(column.event_time))
    late.update(odd_times)

    who, identity_codes, resolved, bad_identity = _identities(column, normalizer)
    late.update(np.flatnonzero(bad_identity[identity_codes]).tolist())

    source_array = _strings(column.event_source)
    name_array = _strings(column.event_name)
    source_codes, source_values = _encoded(source_array)
    name_codes, name_values = _encoded(name_array)
    calls = classify_calls(column, source_codes, source_values, name_codes, name_values)
    details = call_details(
        column, calls.detailed, [resolved[code] for code in identity_codes[calls.detailed]], late
    )
    resource_type_array, action_array = call_columns(calls, details)
    ids, attribute, targets = detail_columns(count, details)
    is_read = pc.equal(action_array, "read")
    read_only = pa.array(column.read_only, type=pa.bool_())
    read_only_array = pc.if_else(pc.is_null(read_only), is_read, read_only)
    is_change = pc.and_(pc.is_valid(resource_type_array), pc.invert(is_read))

    mfa = _mfa(column, name_array, name_values, who, identity_codes, late)

    client = _client_columns(column)
    network = _Network(_strings(column.source_ip_address), normalizer)
    service_identity = np.asarray(
        [identity.type == "AWSService" or identity.invoked_by is not None for identity in who],
        dtype=bool,
    )
    by_service = network.service[network.codes] | service_identity[identity_codes]

    def from_identity(attribute_name: str) -> pa.Array:
        return _taken(list(map(attrgetter(attribute_name), who)), identity_codes, pa.string())

    arrays = [
        bounded_strings(_strings(column.event_id)),
        event_time,
        pa.repeat(pa.scalar("aws"), count),
        _taken(resolved, identity_codes, pa.string()),
        bounded_strings(_strings(column.aws_region)),
        _bounded_by(source_array, source_values),
        _bounded_by(name_array, name_values),
        bounded_strings(_strings(column.event_type)),
        read_only_array,
        bounded_strings(_strings(column.error_code)),
        resource_type_array,
        action_array,
        is_change,
        ids,
        attribute,
        targets,
        from_identity("key"),
        from_identity("type"),
        from_identity("arn"),
        from_identity("account"),
        from_identity("session"),
        from_identity("source_identity"),
        from_identity("federated_provider"),
        from_identity("access_key"),
        mfa,
        network.addresses_column(),
        network.networks(),
        pa.array(by_service),
        from_identity("invoked_by"),
        *client,
        *network.geo(count),
    ]
    return pa.Table.from_arrays(arrays, schema=CANONICAL_SCHEMA), sorted(late)


def _client_columns(column: _Columns) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Return the user agent, the client family and its version of each record."""
    agent_array = _strings(column.user_agent)
    agent_codes, agents = _encoded(agent_array)
    clients = [client_of(agent) for agent in agents]
    return (
        _bounded_by(agent_array, agents),
        _taken([family for family, _ in clients], agent_codes, pa.string()),
        _taken([version for _, version in clients], agent_codes, pa.string()),
    )


class _Network:
    """The records' source addresses, each distinct address judged once.

    Attributes
    ----------
    codes : numpy.ndarray
        Per record, the index of its address in ``addresses``.
    addresses : list of str or None
        The distinct addresses.
    service : numpy.ndarray
        Per distinct address, whether it is an AWS service's.
    """

    def __init__(self, ip_array: pa.Array, normalizer: Normalizer) -> None:
        self.ip_array = ip_array
        self.codes, self.addresses = _encoded(ip_array)
        self.normalizer = normalizer
        self.service = np.asarray(
            [is_service_address(address) for address in self.addresses], dtype=bool
        )

    def addresses_column(self) -> pa.Array:
        """Return each record's source address (bounded in size)."""
        return _bounded_by(self.ip_array, self.addresses)

    def networks(self) -> pa.Array:
        """Return each record's network (:func:`network_of` its address)."""
        return _taken([network_of(a) for a in self.addresses], self.codes, pa.string())

    def geo(self, count: int) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Return each record's country, ASN and AS organisation (nulls without GeoIP)."""
        geoip = self.normalizer.geoip
        if geoip is None:
            nulls_string = pa.nulls(count, type=pa.string())
            return nulls_string, pa.nulls(count, pa.int64()), nulls_string
        geo = [geoip.lookup(address) for address in self.addresses]
        return (
            _taken([g.country for g in geo], self.codes, pa.string()),
            _taken([g.asn for g in geo], self.codes, pa.int64()),
            _taken([g.as_org for g in geo], self.codes, pa.string()),
        )


def _mfa(
    column: _Columns,
    name_array: pa.Array,
    name_values: list[str],
    who: list[_Identity],
    identity_codes: Codes,
    late: set[int],
) -> pa.Array:
    """Return each row's MFA: its identity's, or what a console login says it used."""
    mfa = _taken([identity.mfa for identity in who], identity_codes, pa.bool_())
    if "ConsoleLogin" not in name_values:
        return mfa
    logins = np.flatnonzero(
        pc.equal(name_array, "ConsoleLogin").to_numpy(zero_copy_only=False)
    ).tolist()
    patched = mfa.to_pylist()
    for index in logins:
        extra = parsed(column.additional_event_data[index])
        if extra is UNPARSABLE:
            late.add(index)
        elif type(extra) is dict:
            patched[index] = _bool_text(extra.get("MFAUsed"))
    return pa.array(patched, type=pa.bool_())


_UNKNOWN_TYPE: Final = "Unknown"


def _identities(
    column: _Columns, normalizer: Normalizer
) -> tuple[list[_Identity], Codes, list[str | None], np.ndarray[Any, np.dtype[np.bool_]]]:
    """Identify each row's actor, once per distinct (raw userIdentity, recipient account).

    Returns, per distinct pair: the identity, the account (``recipientAccountId``,
    else the identity's ``accountId``) and whether the reference path must judge it;
    and the pair code of each row.
    """
    user_codes, users = _encoded(_texts(column.user_identity))
    account_codes, recipients = _encoded(_strings(column.recipient_account_id))
    codes, firsts = paired_codes(user_codes, account_codes, len(recipients))
    pairs = [(users[user_codes[row]], recipients[account_codes[row]]) for row in firsts]
    known = _pairs_seen.setdefault(normalizer.rule, {})
    if len(known) > _PAIRS_KEPT:
        known.clear()
    resolved = []
    for pair in pairs:
        found = known.get(pair)
        if found is None:
            found = known[pair] = _resolve(*pair, normalizer.rule)
        resolved.append(found)
    who = [identity for identity, _, _ in resolved]
    accounts = [account for _, account, _ in resolved]
    failed = np.asarray([bad for _, _, bad in resolved], dtype=bool)
    return who, codes, accounts, failed


def _texts(raws: Sequence[Raw]) -> pa.Array:
    """Return raw JSON texts as an Arrow binary array, in one copy (no Python object per text)."""
    lengths = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    offsets = np.zeros(len(raws) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(raws))]
    return pa.Array.from_buffers(pa.large_binary(), len(raws), buffers)


_Resolved = tuple[_Identity, str | None, bool]
# Per identity rule: (raw userIdentity, recipient account) -> what it resolves to (bounded).
_pairs_seen: dict[IdentityKeyRule, dict[tuple[bytes, str | None], _Resolved]] = {}
_PAIRS_KEPT: Final = 50_000
_FAILED: Final = _Identity("", _UNKNOWN_TYPE, None, None, None, None, None, None)


def _resolve(text: bytes, recipient: str | None, rule: IdentityKeyRule) -> _Resolved:
    """Return the identity, the account and whether the reference path must judge the row."""
    user = parsed(text)
    account = recipient
    if account is None and type(user) is dict:
        owner = user.get("accountId")
        account = owner if type(owner) is str else None
    if user is UNPARSABLE or (user is not None and type(user) is not dict):
        return _FAILED, account, True
    if not user:
        unknown = _Identity(
            f"unknown:{account or '-'}", _UNKNOWN_TYPE, None, None, None, None, None, None
        )
        return unknown, account, False
    try:
        return _identity_of(user, rule, account), account, False
    except RecordRejected:
        return _FAILED, account, True
