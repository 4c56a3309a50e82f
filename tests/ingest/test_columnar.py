"""The columnar fast path gives exactly what the reference row normaliser gives."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import Raw

from changewatch.errors import RecordRejected
from features import Normalizer
from features._columnar import _Columns, normalize_batch
from features._limits import MAX_FIELD_CHARS
from features._normalize import TableBuilder
from features._sources import _records
from features._wire import WireRecord, split_array


def reference(
    records: list[Any], normalizer: Normalizer
) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    builder = TableBuilder()
    rejected = []
    for index, raw in enumerate(records):
        try:
            builder.append(normalizer(raw))
        except RecordRejected as error:
            rejected.append((index, error.field, error.reason))
    return builder.build(), rejected


def raw_records(records: list[Any], indent: int | None) -> tuple[list[Any], Any]:
    """The records as a JSON array or NDJSON hands them over: raw text, one per record."""
    return split_array(json.dumps(records, indent=indent).encode()), None


def delivered_records(records: list[Any], indent: int | None) -> tuple[list[Any], Any]:
    """The records as an S3 delivery file hands them over: decoded when they all fit."""
    data = json.dumps({"Records": records}, indent=indent).encode()
    (chunk,) = _records("trail.json", io.BufferedReader(io.BytesIO(data)))  # type: ignore[arg-type]
    return list(chunk.records), chunk.raw


READERS = {"array": raw_records, "delivery file": delivered_records}


def assert_same(records: list[Any], normalizer: Normalizer | None = None) -> None:
    """Both ways of reading, compact or pretty-printed, give the reference's rows."""
    normalizer = normalizer or Normalizer()
    expected_table, expected_rejected = reference(records, normalizer)
    for read in READERS.values():
        for indent in (None, 2):
            as_read, raw_of = read(records, indent)
            table, rejected = normalize_batch(as_read, normalizer, raw_of=raw_of)
            assert [(i, e.field, e.reason) for i, e in rejected] == expected_rejected
            assert table.to_pylist() == expected_table.to_pylist()


def test_the_wire_columns_follow_the_wire_record() -> None:
    assert _Columns._fields == WireRecord.__struct_fields__


def test_a_delivery_file_of_plain_records_is_decoded_in_one_pass(make: Any) -> None:
    records, _ = delivered_records([make(eventID="a"), make(eventID="b")], None)
    assert all(type(record) is WireRecord for record in records)


def test_one_misfit_record_sends_only_itself_to_the_reference_path(make: Any) -> None:
    records, _ = delivered_records([make(eventID="a"), make(eventID=7), make(eventID="c")], None)
    assert [type(record) for record in records] == [Raw, Raw, Raw]
    assert_same([make(eventID="a"), make(eventID=7), make(eventID="c")])


HUGE = "1e999"  # valid JSON, but beyond a double: orjson will not parse it


@pytest.mark.parametrize(
    ("event_name", "field", "text", "kept"),
    [
        ("CreateSnapshot", "requestParameters", f'{{"volumeId": "vol-1", "size": {HUGE}}}', False),
        ("ConsoleLogin", "userIdentity", f'{{"type": "IAMUser", "n": {HUGE}}}', False),
        ("ConsoleLogin", "additionalEventData", f'{{"MFAUsed": "Yes", "n": {HUGE}}}', False),
        # Parsed only when a row needs it: a login's request parameters never are.
        ("ConsoleLogin", "requestParameters", f'{{"n": {HUGE}}}', True),
        ("CreateSnapshot", "tlsDetails", f'{{"n": {HUGE}}}', True),
    ],
)
def test_a_number_python_cannot_hold_rejects_its_record_alone_when_needed(
    make: Any, event_name: str, field: str, text: str, kept: bool
) -> None:
    bad = json.dumps(make(eventID="bad", eventName=event_name)).replace(
        '"eventID"', f'"{field}": {text}, "eventID"', 1
    )
    data = f'{{"Records": [{json.dumps(make(eventID="a"))}, {bad}]}}'.encode()
    (chunk,) = _records("trail.json", io.BufferedReader(io.BytesIO(data)))  # type: ignore[arg-type]
    table, rejected = normalize_batch(list(chunk.records), Normalizer(), raw_of=chunk.raw)
    if kept:
        assert table.column("event_id").to_pylist() == ["a", "bad"]
        assert rejected == []
    else:
        assert table.column("event_id").to_pylist() == ["a"]
        assert [(index, error.field) for index, error in rejected] == [(1, "(record)")]
        assert rejected[0][1].reason.startswith("not JSON")


def test_a_realistic_batch_matches(make: Any) -> None:
    batch = [
        make(
            eventID=f"id-{i}",
            eventTime=f"2026-03-02T10:{i:02d}:00Z",
            sourceIPAddress=f"203.0.113.{i}",
        )
        for i in range(50)
    ]
    assert_same(batch)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param({"eventID": "c"}, id="both fit"),
        pytest.param({"eventID": None}, id="a raw record without an id"),
        pytest.param({"eventTime": None}, id="a raw record without a time"),
        pytest.param({"eventID": 7}, id="a raw record that does not fit the wire struct"),
    ],
)
def test_a_batch_of_decoded_and_raw_records_matches(make: Any, second: dict[str, Any]) -> None:
    """A task pools delivery files (decoded) with arrays or NDJSON (raw) in one batch."""
    delivered, raw_of = delivered_records([make(eventID="a"), make(eventID="b")], None)
    raw, _ = raw_records([make(**{"eventID": "d", **second}), make(eventID="e")], None)
    table, rejected = normalize_batch(delivered + raw, Normalizer(), raw_of=raw_of)
    records = [make(eventID="a"), make(eventID="b"), make(**{"eventID": "d", **second})]
    expected_table, expected_rejected = reference([*records, make(eventID="e")], Normalizer())
    assert [(i, e.field, e.reason) for i, e in rejected] == expected_rejected
    assert table.to_pylist() == expected_table.to_pylist()


def test_the_real_recordings_match(data_dir: Any, geo_db: Any) -> None:
    from features import GeoIP

    records = []
    for path in sorted((data_dir / "stratus").glob("*.json")):
        records.extend(json.loads(path.read_text()))
    for path in sorted((data_dir / "permiso" / "sessions").glob("*/InputEvents.json"))[:3]:
        records.extend(json.loads(path.read_text()))
    for line in (
        (data_dir / "otrf" / "ec2_proxy_s3_exfiltration_2020-09-14011940.json")
        .read_text()
        .splitlines()
    ):
        records.append(json.loads(line))
    assert_same(records, Normalizer(geoip=GeoIP(geo_db)))


def test_odd_records_take_the_reference_path(make: Any) -> None:
    batch = [
        make(),
        make(eventTime="2026-02-30T10:00:00Z"),  # rolls over in strptime, rejected by the reference
        make(eventTime="2026-03-02T10:15:00.123+01:00"),  # valid, not CloudTrail's own format
        make(eventID=...),
        {
            "detail-type": "AWS API Call via CloudTrail",
            "account": "1",
            "detail": make(eventID="env"),
        },
        make(userIdentity={"type": "IAMUser", "arn": 5}),
        make(eventName=""),
        "not a record",
        make(eventID="last", readOnly="yes"),
        make(eventID="login", eventName="ConsoleLogin", additionalEventData={"MFAUsed": "Yes"}),
    ]
    assert_same(batch)


# Around the field limit: one over, a multi-byte text longer in bytes than in characters.
LONG = ["x" * MAX_FIELD_CHARS, "y" * (MAX_FIELD_CHARS + 1), "é" * 1500, "z" * 100_000]


@pytest.mark.parametrize(
    ("overrides", "column"),
    [
        ({"userAgent": "a" * 100_000}, "user_agent"),
        ({"eventID": "i" * 5000}, "event_id"),
        ({"awsRegion": "r" * 5000, "errorCode": "e" * 5000}, "region"),
        ({"sourceIPAddress": "h" * 5000 + ".amazonaws.com"}, "network"),
        ({"userIdentity": {"type": "IAMUser", "arn": "arn:" + "u" * 5000}}, "identity_key"),
        (
            {
                "eventName": "ModifySnapshotAttribute",
                "requestParameters": {
                    "snapshotId": "snap-0123456789abcdef0",
                    "createVolumePermission": {"add": {"items": [{"userId": "9" * 5000}]}},
                },
            },
            "share_targets",
        ),
    ],
)
def test_long_fields_are_cut_alike_on_both_paths(
    make: Any, overrides: dict[str, Any], column: str
) -> None:
    record = make(**overrides)
    assert_same([make(eventID="a"), record])
    table, _ = normalize_batch(raw_records([record], None)[0], Normalizer())
    value = table.column(column)[0].as_py()
    text = value[0] if isinstance(value, list) else value
    assert len(text) < MAX_FIELD_CHARS + 40
    assert text.endswith(" characters]")


values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)


@st.composite
def records(draw: st.DrawFn) -> Any:
    base: dict[str, Any] = {
        "eventID": draw(st.sampled_from(["a", "b", "c", None, ""])),
        "eventTime": draw(
            st.sampled_from(["2026-03-02T10:15:00Z", "2026-03-02T10:15:00.5Z", "x", None])
        ),
        "eventName": draw(
            st.sampled_from(["CreateSnapshot", "ModifySnapshotAttribute", "ConsoleLogin", "", None])
        ),
        "eventSource": draw(st.sampled_from(["ec2.amazonaws.com", "iam.amazonaws.com", None])),
        "userAgent": draw(
            st.sampled_from(["aws-cli/2.1.0", "console.ec2.amazonaws.com", None, *LONG])
        ),
        "sourceIPAddress": draw(
            st.sampled_from(
                ["203.0.113.7", "ec2.amazonaws.com", "bogus", None, "s" * 3000 + ".amazonaws.com"]
            )
        ),
        "readOnly": draw(st.sampled_from([True, False, None])),
        "userIdentity": draw(
            st.sampled_from(
                [
                    None,
                    {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a"},
                    {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
                    {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/r/s"},
                    {"type": "IAMUser", "arn": "arn:aws:iam::1:user/" + "u" * 4000},
                ]
            )
        ),
        "requestParameters": draw(
            st.sampled_from(
                [
                    None,
                    {"snapshotId": "snap-0123456789abcdef0"},
                    {"createVolumePermission": {"add": {"items": [{"userId": "2"}]}}},
                    {"createVolumePermission": {"add": {"items": [{"userId": "9" * 3000}]}}},
                ]
            )
        ),
    }
    noise = draw(
        st.dictionaries(
            st.sampled_from([*list(base), "recipientAccountId", "awsRegion"]), values, max_size=2
        )
    )
    return draw(st.sampled_from([{**base, **noise}, base, noise, draw(values)]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), max_size=12))
def test_arbitrary_batches_match(batch: list[Any]) -> None:
    assert_same(batch)
