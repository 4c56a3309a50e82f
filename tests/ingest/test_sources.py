"""Specification of `features.ingest`: every input CloudTrail really arrives in, and bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from changewatch.errors import RecordRejected, SourceError
from features import IngestOptions, ingest, read_events


def records(make: Any, count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        make(
            eventID=f"00000000-0000-4000-8000-{index:012d}",
            eventTime=f"2026-03-02T10:{index % 60:02d}:00Z",
        )
        for index in range(start, start + count)
    ]


def write_s3_file(
    root: Path, items: list[dict[str, Any]], name: str, day: str = "2026/03/02"
) -> Path:
    folder = root / "AWSLogs" / "111122223333" / "CloudTrail" / "eu-central-1" / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(gzip.compress(json.dumps({"Records": items}).encode(), mtime=0))
    return path


def rejects_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def run(paths: list[Any], tmp_path: Path, **options: Any) -> Any:
    out = tmp_path / "events.parquet"
    report = ingest(paths, out, options=IngestOptions(**options))
    return report, out


def test_an_s3_delivery_tree_is_read_whole_and_digests_are_skipped(
    make: Any, tmp_path: Path
) -> None:
    write_s3_file(
        tmp_path, records(make, 3), "111122223333_CloudTrail_eu-central-1_20260302T1000Z_a.json.gz"
    )
    write_s3_file(
        tmp_path,
        records(make, 2, 3),
        "111122223333_CloudTrail_eu-central-1_20260303T1000Z_b.json.gz",
        "2026/03/03",
    )
    digest_dir = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail-Digest" / "eu-central-1"
    digest_dir.mkdir(parents=True)
    (digest_dir / "digest.json.gz").write_bytes(gzip.compress(b'{"logFiles": []}'))
    # A digest elsewhere, recognised by content rather than by its folder.
    (tmp_path / "AWSLogs" / "odd.json").write_text(
        json.dumps(
            {"awsAccountId": "111122223333", "digestPublicKeyFingerprint": "ab", "logFiles": []}
        )
    )
    report, out = run([tmp_path / "AWSLogs"], tmp_path)
    assert (report.records, report.kept, report.files, report.files_skipped) == (5, 5, 3, 1)
    assert len(read_events(out)) == 5


@pytest.mark.parametrize("jobs", [1, 2])
def test_parallel_and_serial_ingestion_give_the_same_table(
    make: Any, tmp_path: Path, jobs: int
) -> None:
    for index in range(6):
        write_s3_file(tmp_path, records(make, 10, index * 10), f"f{index}.json.gz")
    report, out = run([tmp_path / "AWSLogs"], tmp_path, jobs=jobs)
    table = read_events(out)
    assert report.kept == 60
    assert list(table["event_id"]) == [f"00000000-0000-4000-8000-{i:012d}" for i in range(60)]


def test_formats_are_recognised_by_content_not_by_name(make: Any, tmp_path: Path) -> None:
    items = records(make, 4)
    (tmp_path / "array.log").write_text(json.dumps(items[:1]))
    (tmp_path / "records.txt").write_bytes(
        gzip.compress(json.dumps({"Records": items[1:2]}).encode())
    )
    (tmp_path / "lines.data").write_text(
        "\n".join(json.dumps({**item, "@version": "1"}) for item in items[2:3]) + "\n\n"
    )
    envelope = {
        "detail-type": "AWS API Call via CloudTrail",
        "account": "1",
        "region": "x",
        "detail": items[3],
    }
    (tmp_path / "one.bin").write_text(json.dumps(envelope, indent=2))
    paths = sorted(tmp_path.iterdir())
    report, _ = run(paths, tmp_path)
    assert (report.records, report.kept, report.rejected) == (4, 4, 0)


def test_ndjson_with_logstash_wrappers_and_a_bad_line(make: Any, tmp_path: Path) -> None:
    lines = [
        json.dumps({**item, "@timestamp": item["eventTime"], "@version": "1"})
        for item in records(make, 3)
    ]
    lines.insert(1, "{not json")
    path = tmp_path / "export.ndjson"
    path.write_text("\n".join(lines) + "\n")
    report, _ = run([path], tmp_path)
    assert (report.records, report.kept, report.rejected) == (4, 3, 1)
    [rejection] = rejects_of(tmp_path / "events.parquet.rejects.jsonl")
    assert rejection["position"] == 2
    assert rejection["field"] == "(line)"


def test_standard_input_is_read(make: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    payload = gzip.compress(json.dumps({"Records": records(make, 2)}).encode())
    fake_stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(payload)))
    monkeypatch.setattr(sys, "stdin", fake_stdin)
    report, _ = run(["-"], tmp_path)
    assert report.kept == 2


def test_a_bad_record_is_reported_with_file_position_and_field_and_the_rest_kept(
    make: Any, tmp_path: Path
) -> None:
    items = records(make, 4)
    items[2].pop("eventTime")
    path = write_s3_file(tmp_path, items, "one.json.gz")
    report, out = run([path], tmp_path)
    assert (report.records, report.kept, report.rejected) == (4, 3, 1)
    [rejection] = rejects_of(out.with_name("events.parquet.rejects.jsonl"))
    assert rejection == {
        "kind": "record",
        "source": str(path),
        "position": 3,
        "field": "eventTime",
        "reason": "missing",
    }


def test_a_truncated_gzip_and_a_non_json_file_are_reported_and_others_read(
    make: Any, tmp_path: Path
) -> None:
    good = write_s3_file(tmp_path, records(make, 2), "a-good.json.gz")
    truncated = good.with_name("b-truncated.json.gz")
    truncated.write_bytes(good.read_bytes()[:-12])
    text = good.with_name("c-notes.json")
    text.write_text("these are not the records you are looking for")
    report, out = run([tmp_path / "AWSLogs"], tmp_path)
    assert (report.kept, report.files, report.files_failed) == (2, 3, 2)
    reasons = {
        r["source"]: r["reason"] for r in rejects_of(out.with_name("events.parquet.rejects.jsonl"))
    }
    assert "truncated gzip" in reasons[str(truncated)]
    assert "not JSON" in reasons[str(text)]


def test_a_truncated_ndjson_gzip_keeps_the_lines_before_the_break(
    make: Any, tmp_path: Path
) -> None:
    body = "\n".join(json.dumps(item) for item in records(make, 400)).encode()
    path = tmp_path / "export.ndjson.gz"
    path.write_bytes(gzip.compress(body)[:-200])
    report, _ = run([path], tmp_path)
    assert report.files_failed == 1
    assert 0 < report.kept < 400
    assert report.records == report.kept + report.rejected + report.duplicates


@pytest.mark.parametrize("jobs", [1, 2], ids=["written directly", "joined from parts"])
def test_duplicates_are_kept_once_and_counted(make: Any, tmp_path: Path, jobs: int) -> None:
    items = records(make, 5)
    write_s3_file(tmp_path, items, "a.json.gz")
    write_s3_file(tmp_path, items[2:], "b.json.gz")
    report, out = run([tmp_path / "AWSLogs"], tmp_path, jobs=jobs)
    assert (report.records, report.kept, report.duplicates) == (8, 5, 3)
    assert read_events(out)["event_id"].tolist() == [item["eventID"] for item in items]
    assert report.by_action == {"create": 5}
    leftovers = [
        p.name for p in Path(out).parent.iterdir() if p.name.startswith(".") or "partial" in p.name
    ]
    assert leftovers == []


def test_strict_stops_at_the_first_problem_with_its_message(make: Any, tmp_path: Path) -> None:
    items = records(make, 3)
    items[1]["eventName"] = 7
    path = write_s3_file(tmp_path, items, "a.json.gz")
    with pytest.raises(
        RecordRejected, match=r"record 2: field 'eventName': expected a string, got int"
    ):
        run([path], tmp_path, strict=True)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(SourceError, match="truncated gzip"):
        run([path], tmp_path, strict=True)


def test_compute_only_keeps_compute_events_and_counts_the_rest(make: Any, tmp_path: Path) -> None:
    items = records(make, 3)
    items[0]["eventSource"], items[0]["eventName"] = "iam.amazonaws.com", "CreateUser"
    path = write_s3_file(tmp_path, items, "a.json.gz")
    report, out = run([path], tmp_path, compute_only=True)
    assert (report.kept, report.filtered) == (2, 1)
    assert set(read_events(out)["resource_type"]) == {"snapshot"}


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        run([tmp_path / "nope"], tmp_path)


def test_the_output_carries_the_schema_version(make: Any, tmp_path: Path) -> None:
    from features import CANONICAL_SCHEMA, SCHEMA_VERSION

    path = write_s3_file(tmp_path, records(make, 1), "a.json.gz")
    _, out = run([path], tmp_path)
    written = pq.read_schema(out)
    assert written.names == CANONICAL_SCHEMA.names
    assert written.metadata[b"changewatch.schema_version"] == SCHEMA_VERSION.encode()


def test_geography_is_added_from_a_maxmind_database(
    make: Any, tmp_path: Path, geo_db: Path
) -> None:
    path = write_s3_file(tmp_path, records(make, 2), "a.json.gz")
    _, out = run([path], tmp_path, geoip=str(geo_db), jobs=2)
    table = read_events(out)
    assert set(table["country"]) == {"DE"}
    assert set(table["asn"]) == {64500}


def test_json_without_cloudtrail_is_skipped_in_a_folder_and_an_error_when_named(
    make: Any, tmp_path: Path
) -> None:
    write_s3_file(tmp_path, records(make, 2), "a.json.gz")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"seed": 7, "accounts": ["111122223333"]}))
    report, _ = run([tmp_path], tmp_path)
    assert (report.kept, report.files_skipped, report.files_failed) == (2, 1, 0)
    report, _ = run([manifest], tmp_path)
    assert (report.files_skipped, report.files_failed) == (0, 1)


def test_written_events_read_back_the_same(make: Any, tmp_path: Path) -> None:
    from features import write_events

    path = write_s3_file(tmp_path, records(make, 3), "a.json.gz")
    _, out = run([path], tmp_path)
    events = read_events(out)
    again = tmp_path / "again.parquet"
    write_events(events.iloc[1:], again)
    assert read_events(again).equals(events.iloc[1:].reset_index(drop=True))
