"""Reading stays bounded whatever arrives: gzip bombs, huge documents and lines, empty files.

Each bound is a rejection with its reason, never a silent 0 (ADR 0028).
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from isal import isal_zlib

from changewatch.errors import SourceError
from features import IngestOptions, ingest, read_records
from features._gunzip import GunzipStream, gunzip_whole
from features._limits import EXPANSION_FLOOR, MAX_EXPANSION, Limits
from features._sources import read_source


def bomb(path: Path, fill: bytes, mebibytes: int) -> Path:
    """Write a gzip file of ``mebibytes`` MiB of ``fill``: a few hundred KiB compressed."""
    block = fill * ((1 << 20) // len(fill))
    with gzip.open(path, "wb", compresslevel=9) as out:
        for _ in range(mebibytes):
            out.write(block)
    return path


def rejects_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    "fill",
    [b"\0", b" ", b"\n", b'{"Records": ['],
    ids=["zeros", "spaces (was read as 0 records)", "empty lines", "an endless document"],
)
def test_a_gzip_bomb_is_a_rejected_file_with_its_reason(tmp_path: Path, fill: bytes) -> None:
    folder = tmp_path / "trail"
    folder.mkdir()
    path = bomb(folder / "bomb.json.gz", fill, 160)
    report = ingest([folder], tmp_path / "out.parquet")
    assert (report.files, report.files_failed, report.kept) == (1, 1, 0)
    assert not report.usable
    [entry] = report.not_read
    assert entry.path == str(path)
    assert entry.reason.startswith("gzip bomb: expands more than 100 times")
    [rejection] = rejects_of(tmp_path / "out.parquet.rejects.jsonl")
    assert rejection["kind"] == "source"
    assert rejection["reason"] == entry.reason


def test_a_bomb_stops_before_its_output_passes_the_limit(tmp_path: Path) -> None:
    compressed = bomb(tmp_path / "bomb.gz", b"\0", 160).read_bytes()
    stream = GunzipStream(io.BytesIO(compressed), "bomb.gz", Limits())
    produced = 0

    def read_all() -> None:
        nonlocal produced
        while chunk := stream.read(1 << 16):
            produced += len(chunk)

    with pytest.raises(SourceError, match="gzip bomb"):
        read_all()
    assert EXPANSION_FLOOR <= produced <= EXPANSION_FLOOR + (1 << 16)


@pytest.mark.parametrize("trailer", ["as written", "lying"])
def test_a_whole_gzip_file_in_memory_is_cut_at_its_limit_too(tmp_path: Path, trailer: str) -> None:
    compressed = bomb(tmp_path / "bomb.gz", b"\0", 160).read_bytes()
    if trailer == "lying":  # the size in the trailer is only a hint: the limit holds without it
        compressed = compressed[:-4] + (1000).to_bytes(4, "little")
    assert gunzip_whole(compressed, Limits()) is None  # handed to the stream, which rejects it
    with pytest.raises(SourceError, match="gzip bomb"):
        read_records(compressed, "s3://bucket/bomb.json.gz")


def test_ordinary_gzip_below_the_floor_is_read_whatever_its_ratio(make: Any) -> None:
    # The same record 2,000 times compresses more than 100 times, and is still a trail.
    data = gzip.compress(json.dumps({"Records": [make()] * 2000}).encode())
    assert len(gzip.decompress(data)) > MAX_EXPANSION * len(data)
    assert len(read_records(data)) == 2000


members = st.lists(st.binary(max_size=2000), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=members, cut=st.integers(min_value=0, max_value=3000))
def test_the_bounded_stream_reads_what_gzip_reads(parts: list[bytes], cut: int) -> None:
    """Several members, cut anywhere: the content gzip gives, or a prefix of it and an error."""
    expected = b"".join(parts)
    compressed = b"".join(gzip.compress(part, mtime=0) for part in parts)
    truncated = compressed[: len(compressed) - min(cut, len(compressed) - 2)]
    stream = io.BufferedReader(GunzipStream(io.BytesIO(truncated), "x.gz", Limits()))
    got = bytearray()
    try:
        while chunk := stream.read(512):
            got += chunk
    except (EOFError, zlib.error, isal_zlib.error, SourceError):
        assert truncated != compressed
    assert expected.startswith(bytes(got))
    if truncated == compressed:
        assert bytes(got) == expected


@settings(max_examples=80, deadline=None)
@given(content=st.binary(max_size=300), gzipped=st.booleans(), cut=st.integers(0, 40))
def test_arbitrary_bytes_give_records_or_a_source_error(
    content: bytes, gzipped: bool, cut: int
) -> None:
    data = gzip.compress(content, mtime=0)[: -cut or None] if gzipped else content
    try:
        read_records(data, "arbitrary")
    except SourceError as error:
        message = str(error)
    else:
        message = "arbitrary: read"
    assert message.startswith("arbitrary: ")


def test_a_document_larger_than_the_limit_is_rejected_with_its_reason(
    make: Any, tmp_path: Path
) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"Records": [make(eventID=f"e{i}") for i in range(200)]}))
    report = ingest(
        [path], tmp_path / "out.parquet", options=IngestOptions(max_document_bytes=100_000)
    )
    [entry] = report.not_read
    assert entry.reason.startswith("JSON document larger than 98 KiB, the most read whole")
    assert "NDJSON" in entry.reason
    assert report.kept == 0


@pytest.mark.parametrize(
    ("start", "reason"),
    [(b'{"Records": [', "JSON document larger than"), (b"", "not JSON")],
    ids=["a document", "zeros"],
)
def test_a_large_plain_file_is_refused_by_its_size(
    tmp_path: Path, start: bytes, reason: str
) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as out:  # 20 MiB, mostly a hole: more than is read in one call
        out.write(start)
        out.truncate(20 << 20)
    report = ingest(
        [path], tmp_path / "o.parquet", options=IngestOptions(max_document_bytes=1 << 20)
    )
    [entry] = report.not_read
    assert entry.reason.startswith(reason)


def test_ndjson_larger_than_the_limit_streams(make: Any, tmp_path: Path) -> None:
    path = tmp_path / "big.ndjson.gz"
    lines = "\n".join(json.dumps(make(eventID=f"e{i}")) for i in range(400))
    path.write_bytes(gzip.compress(lines.encode()))
    report = ingest(
        [path], tmp_path / "out.parquet", options=IngestOptions(max_document_bytes=100_000)
    )
    assert (report.records, report.kept, report.files_failed) == (400, 400, 0)


def test_an_over_long_line_is_rejected_and_the_lines_after_it_kept(
    make: Any, tmp_path: Path
) -> None:
    long_line = json.dumps(make(eventID="long", userAgent="x" * 50_000))
    lines = [json.dumps(make(eventID="a")), long_line, json.dumps(make(eventID="b"))]
    path = tmp_path / "trail.ndjson"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.parquet"
    report = ingest([path], out, options=IngestOptions(max_document_bytes=10_000))
    assert (report.records, report.kept, report.rejected) == (3, 2, 1)
    [rejection] = rejects_of(tmp_path / "out.parquet.rejects.jsonl")
    assert (rejection["position"], rejection["field"]) == (2, "(line)")
    assert rejection["reason"].startswith("line longer than 10 KiB, the most read whole")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.json.gz", b"", "empty: holds no data"),
        ("empty.json", b"", "empty: holds no data"),
        ("nothing.json.gz", gzip.compress(b"", mtime=0), "empty: holds no data"),
        ("blank.json", b"  \n\n \t", "empty: holds only whitespace"),
        ("bom.json", b"\xef\xbb\xbf", "empty: holds only whitespace"),
    ],
    ids=["zero bytes, gzip name", "zero bytes", "gzip of nothing", "blank", "a byte-order mark"],
)
def test_an_empty_file_is_reported_not_accepted(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    folder = tmp_path / "trail"
    folder.mkdir()
    (folder / name).write_bytes(content)
    report = ingest([folder], tmp_path / "out.parquet")
    assert report.files_failed == 1
    assert [(entry.path, entry.reason) for entry in report.not_read] == [
        (str(folder / name), reason)
    ]
    with pytest.raises(SourceError, match=reason):
        list(read_source(str(folder / name)))


def test_a_gzip_of_several_members_is_read_whole(make: Any, tmp_path: Path) -> None:
    lines = [json.dumps(make(eventID=f"e{i}")) + "\n" for i in range(4)]
    path = tmp_path / "trail.ndjson.gz"
    path.write_bytes(b"".join(gzip.compress(line.encode()) for line in lines))
    report = ingest([path], tmp_path / "out.parquet")
    assert (report.records, report.kept, report.files_failed) == (4, 4, 0)
