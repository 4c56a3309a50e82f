"""`features.read_records`: a file's bytes give the records reading the file gives."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from changewatch.errors import RecordRejected, SourceError
from features import NotCloudTrail, read_records
from features._sources import read_source
from features._wire import parse_raw


def _three(make: Any) -> list[dict[str, Any]]:
    return [make(eventID=f"id-{i}", eventTime=f"2026-03-02T10:0{i}:00Z") for i in range(3)]


FORMATS = {
    "s3 delivery, gzip": lambda r: gzip.compress(json.dumps({"Records": r}).encode(), mtime=0),
    "s3 delivery": lambda r: json.dumps({"Records": r}).encode(),
    "json array": lambda r: json.dumps(r).encode(),
    "ndjson, gzip": lambda r: gzip.compress("\n".join(json.dumps(x) for x in r).encode()),
}


@pytest.mark.parametrize("encode", FORMATS.values(), ids=FORMATS.keys())
def test_bytes_read_as_the_file_reads(encode: Any, make: Any, tmp_path: Path) -> None:
    data = encode(_three(make))
    (tmp_path / "trail.json").write_bytes(data)
    from_file = [
        chunk.raw(index)
        for chunk in read_source(str(tmp_path / "trail.json"))
        for index in range(len(chunk.records))
    ]
    got = read_records(data, "s3://bucket/trail.json")
    assert got == [parse_raw(raw) for raw in from_file] == _three(make)


def test_a_record_python_cannot_hold_is_rejected_in_place(make: Any) -> None:
    data = b'{"Records": [{"eventName": "A", "x": 1e999}, %s]}' % json.dumps(make()).encode()
    got = read_records(data)
    assert isinstance(got[0], RecordRejected)
    assert got[0].reason.startswith("not JSON")
    assert got[1] == make()


def test_a_digest_file_holds_no_records() -> None:
    digest = {"digestPublicKeyFingerprint": "ab", "logFiles": []}
    assert read_records(json.dumps(digest).encode(), "digest.json.gz") == []


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b'{"manifest": 1}', NotCloudTrail, "neither"),
        (b"not json at all", SourceError, "not JSON"),
        (gzip.compress(b'{"Records": []}')[:-6], SourceError, "truncated gzip"),
    ],
    ids=["json without records", "not json", "truncated gzip"],
)
def test_bad_bytes_name_the_source(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as raised:
        read_records(data, "s3://bucket/bad.json")
    assert "s3://bucket/bad.json" in str(raised.value)
