"""POST /v1/score: the three body shapes, rejects, duplicates, limits and the degraded mark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.scoring import load_policy, score_events
from serving.api import create_app
from tests.conftest import make_record
from tests.serving.api.conftest import ADMIN, SCORE, settings_for


def _envelope(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": "111122223333",
        "region": "eu-central-1",
        "detail": record,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"Records": [make_record()]},
        [make_record()],
        _envelope(make_record()),
        [_envelope(make_record())],
    ],
    ids=["records", "array", "envelope", "envelopes"],
)
def test_every_body_shape_is_scored(client: TestClient, body: Any) -> None:
    answer = client.post("/v1/score", json=body, headers=SCORE)
    assert answer.status_code == 200
    data = answer.json()
    assert data["scored"] == 1
    assert data["events"][0]["event_id"] == make_record()["eventID"]
    assert data["degraded"] is True
    assert answer.headers["x-changewatch-degraded"] == "true"


def test_a_bad_record_never_fails_the_batch(client: TestClient) -> None:
    records = [make_record(eventID="a"), {"eventName": 7}, "not a record", make_record(eventID="b")]
    data = client.post("/v1/score", json={"Records": records}, headers=SCORE).json()
    assert data["scored"] == 2
    assert [(r["position"], r["field"]) for r in data["rejected"]] == [
        (2, "eventName"),
        (3, "(record)"),
    ]
    assert "expected a string, got int" in data["rejected"][0]["reason"]


def test_answer_equals_the_shared_scoring_function(client: TestClient, tmp_path: Path) -> None:
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text(
        "version: 1\nfreezes:\n  - name: march\n    start: 2026-03-02T10:30:00\n"
        "    end: 2026-03-03T00:00:00\n"
    )
    imported = client.post("/v1/policy/import", content=policy_file.read_text(), headers=ADMIN)
    assert imported.status_code == 200
    records = [
        make_record(eventID=f"e{i}", eventTime=f"2026-03-02T10:{i:02d}:00Z")
        for i in range(0, 50, 7)
    ]
    expected = score_events(_table(records), load_policy(policy_file))
    data = client.post("/v1/score", json=records, headers=SCORE).json()
    assert [h["rule_id"] for h in data["hits"]] == [h.rule_id for h in expected.hits]
    assert [f["finding_id"] for f in data["findings"]] == [f.finding_id for f in expected.findings]
    assert {f["change_context"]["verdict"] for f in data["findings"]} >= {"forbidden"}


def test_same_event_twice_is_counted_once(client: TestClient) -> None:
    body = [make_record(eventID="dup"), make_record(eventID="dup")]
    first = client.post("/v1/score", json=body, headers=SCORE).json()
    again = client.post("/v1/score", json=body, headers=SCORE).json()
    assert (first["duplicates"], first["already_seen"]) == (1, 0)
    assert (again["duplicates"], again["already_seen"]) == (1, 1)
    assert client.app.state.store.event_count() == 1  # type: ignore[attr-defined]


def test_events_of_earlier_requests_make_a_burst(client: TestClient) -> None:
    def deletes(start: int) -> list[dict[str, Any]]:
        return [
            make_record(
                eventID=f"del-{i}",
                eventName="DeleteSnapshot",
                eventTime=f"2026-03-02T10:{i:02d}:00Z",
                requestParameters={"snapshotId": f"snap-{i:017x}"},
                responseElements=None,
            )
            for i in range(start, start + 8)
        ]

    rules = set()
    for start in (0, 8, 16):
        data = client.post("/v1/score", json=deletes(start), headers=SCORE).json()
        rules |= {h["rule_id"] for h in data["hits"]}
    alone = score_events(_table(deletes(16)))
    assert "Burst.Deletion" not in {h.rule_id for h in alone.hits}
    assert any(r.startswith("Burst.") for r in rules), rules


def _table(records: list[dict[str, Any]]) -> Any:
    from features import records_to_table

    return records_to_table(records).table.to_pandas()


def test_bad_json_is_400(client: TestClient) -> None:
    answer = client.post("/v1/score", content=b"{not json", headers=SCORE)
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("bad batch")


@pytest.mark.parametrize("body", [{"events": []}, 3, "x", {"Records": 4}, {"records": 4}])
def test_not_a_batch_is_400(client: TestClient, body: Any) -> None:
    assert client.post("/v1/score", json=body, headers=SCORE).status_code == 400


def test_batch_limit_is_413(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path / "s.db", max_batch=2))
    with TestClient(app) as client:
        answer = client.post("/v1/score", json=[make_record()] * 3, headers=SCORE)
    assert answer.status_code == 413
    assert "batch of 3 records exceeds the limit of 2" in answer.json()["detail"]


def test_body_limit_is_413_before_parsing(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path / "s.db", max_body_bytes=2048))
    with TestClient(app) as client:
        answer = client.post("/v1/score", json=[make_record()] * 5, headers=SCORE)
        streamed = client.post(
            "/v1/score", content=iter([b"[" + b" " * 1500, b" " * 1500 + b"]"]), headers=SCORE
        )
    assert answer.status_code == 413
    assert streamed.status_code == 413
    assert "exceeds the limit of 2048 bytes" in answer.json()["detail"]


def test_vectors_need_the_model(client: TestClient) -> None:
    answer = client.post("/v1/score/vectors", json={"vectors": []}, headers=SCORE)
    assert answer.status_code == 503
    assert "rules only" in answer.json()["detail"]


def test_event_contents_are_not_logged_at_info(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    client.post("/v1/score", json=[make_record(sourceIPAddress="198.51.100.77")], headers=SCORE)
    assert "198.51.100.77" not in caplog.text
    assert "alice" not in caplog.text
