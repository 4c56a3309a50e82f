"""What a row keeps is bounded: strings cut with a mark, lists cut, huge records not parsed.

The bounds are applied in normalisation, so the service (``records_to_table``) and
the command line (``ingest``) keep the same (ADR 0028).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from features import CANONICAL_SCHEMA, IngestOptions, ingest, read_events, records_to_table
from features._limits import MAX_FIELD_CHARS, MAX_LIST_ITEMS, bounded_list, bounded_text

HUGE = "A" * (15 << 20)  # 15 MiB, as in the security review


def everything_huge(make: Any, index: int, huge: str = HUGE) -> dict[str, Any]:
    """A record whose every string a row keeps is ``huge`` (15 MiB by default)."""
    return make(
        eventID=f"{index}-{huge}",
        awsRegion=huge,
        eventType=huge,
        errorCode=huge,
        userAgent=huge,
        recipientAccountId=huge,
        sourceIPAddress=huge + ".amazonaws.com",
        userIdentity={
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::1:assumed-role/r/{huge}",
            "accountId": huge,
            "accessKeyId": huge,
            "invokedBy": huge,
            "sessionContext": {"sessionIssuer": {"arn": f"arn:aws:iam::1:role/{huge}"}},
        },
    )


def test_six_records_of_15_mib_strings_make_a_small_table(make: Any) -> None:
    result = records_to_table([everything_huge(make, index) for index in range(6)])
    assert result.table.num_rows == 6
    assert result.table.nbytes < 1 << 20  # was about 6 x 13 x 15 MiB
    for column in ("event_id", "user_agent", "principal_arn", "access_key_id", "source_ip"):
        value = result.table.column(column)[0].as_py()
        assert len(value) <= MAX_FIELD_CHARS + len("…[truncated from 15,728,640 characters]") + 10
        assert value.endswith(" characters]")


def test_the_command_line_keeps_the_same_as_the_service(make: Any, tmp_path: Path) -> None:
    records = [everything_huge(make, index, "B" * 100_000) for index in range(2)]
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": records}))
    report = ingest([path], tmp_path / "e.parquet", options=IngestOptions(jobs=1))
    assert (report.kept, report.rejected) == (2, 0)
    from_file = read_events(tmp_path / "e.parquet")
    from_service = records_to_table(records).table.to_pandas()
    for column in ("event_id", "user_agent", "identity_key", "network", "session_name"):
        assert from_file[column].tolist() == from_service[column].tolist()


def test_a_cut_value_keeps_its_start_and_says_how_long_it_was() -> None:
    assert bounded_text("x" * MAX_FIELD_CHARS) == "x" * MAX_FIELD_CHARS
    cut = bounded_text("ab" * MAX_FIELD_CHARS)
    assert cut == "ab" * (MAX_FIELD_CHARS // 2) + "…[truncated from 4,096 characters]"
    assert bounded_list([str(i) for i in range(MAX_LIST_ITEMS + 9)]) == [
        str(i) for i in range(MAX_LIST_ITEMS)
    ]


def test_every_string_and_list_column_is_bounded() -> None:
    from features._limits import LIST_POSITIONS, TEXT_POSITIONS

    kinds = {str(CANONICAL_SCHEMA.field(i).type) for i in (*TEXT_POSITIONS, *LIST_POSITIONS)}
    assert kinds == {"string", "list<item: string>"}
    others = set(range(len(CANONICAL_SCHEMA))) - {*TEXT_POSITIONS, *LIST_POSITIONS}
    assert {str(CANONICAL_SCHEMA.field(i).type) for i in others} <= {
        "bool",
        "int64",
        "timestamp[us, tz=UTC]",
    }


@pytest.mark.parametrize("where", ["userAgent", "tlsDetails"])
def test_a_record_over_1_mib_that_the_fast_path_reads_is_kept(
    make: Any, tmp_path: Path, where: str
) -> None:
    path = tmp_path / "trail.ndjson"
    big = make(eventID="big", **{where: "x" * (2 << 20)})
    path.write_text(json.dumps(make(eventID="small")) + "\n" + json.dumps(big) + "\n")
    report = ingest([path], tmp_path / "e.parquet")
    assert (report.kept, report.rejected) == (2, 0)


def test_a_record_over_1_mib_that_must_be_parsed_whole_is_rejected(
    make: Any, tmp_path: Path
) -> None:
    # An EventBridge envelope is always read by the reference path, which parses it whole.
    envelope = {
        "detail-type": "AWS API Call via CloudTrail",
        "detail": make(eventID="big", tlsDetails={"pad": "x" * (2 << 20)}),
    }
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps(make(eventID="small")) + "\n" + json.dumps(envelope) + "\n")
    report = ingest([path], tmp_path / "e.parquet")
    assert (report.kept, report.rejected) == (1, 1)
    [line] = (tmp_path / "e.parquet.rejects.jsonl").read_text().splitlines()
    rejection = json.loads(line)
    assert (rejection["position"], rejection["field"]) == (2, "(record)")
    assert rejection["reason"] == (
        "2.0 MiB of JSON, more than the 1.0 MiB a record is parsed in full up to"
    )
