"""Change-policy resources: create, list, read, replace, delete, import; persisted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.api import Settings, create_app
from tests.conftest import make_record
from tests.serving.api.conftest import ADMIN, SCORE

WINDOW = {"name": "tue", "rrule": "FREQ=WEEKLY;BYDAY=TU;BYHOUR=22", "duration": "PT4H"}
RESOURCES: list[tuple[str, str, dict[str, Any]]] = [
    ("windows", "tue", WINDOW),
    (
        "tickets",
        "CHG-1",
        {
            "id": "CHG-1",
            "owner": "ops",
            "start": "2026-03-02T10:00:00",
            "end": "2026-03-02T11:00:00",
        },
    ),
    ("freezes", "xmas", {"name": "xmas", "start": "2026-12-20", "end": "2027-01-04"}),
    ("automation", "tf", {"name": "tf", "identities": ["arn:aws:iam::*:role/tf"]}),
]


@pytest.mark.parametrize(("path", "name", "body"), RESOURCES, ids=[r[0] for r in RESOURCES])
def test_crud(client: TestClient, path: str, name: str, body: dict[str, Any]) -> None:
    created = client.post(f"/v1/{path}", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert client.post(f"/v1/{path}", json=body, headers=ADMIN).status_code == 409
    listed = client.get(f"/v1/{path}", headers=ADMIN).json()
    assert listed["count"] == 1
    assert client.get(f"/v1/{path}/{name}", headers=ADMIN).status_code == 200
    changed = {**body, "owner": "someone-else"} if path == "tickets" else body
    assert client.put(f"/v1/{path}/{name}", json=changed, headers=ADMIN).status_code == 200
    assert client.delete(f"/v1/{path}/{name}", headers=ADMIN).status_code == 204
    assert client.get(f"/v1/{path}/{name}", headers=ADMIN).status_code == 404
    assert client.delete(f"/v1/{path}/{name}", headers=ADMIN).status_code == 404


def test_naive_ticket_times_are_utc(client: TestClient) -> None:
    body = RESOURCES[1][2]
    stored = client.post("/v1/tickets", json=body, headers=ADMIN).json()
    assert stored["start"] == "2026-03-02T10:00:00Z"


def test_suppression_gets_an_id_and_silences_its_rule(client: TestClient) -> None:
    before = client.post("/v1/score", json=[make_record(eventID="a")], headers=SCORE).json()
    assert "ChangeWindow.OutsideApproved" in {h["rule_id"] for h in before["hits"]}
    client.post("/v1/windows", json={**WINDOW, "name": "other"}, headers=ADMIN)
    created = client.post(
        "/v1/suppressions",
        json={
            "rule": "ChangeWindow.OutsideApproved",
            "reason": "migration",
            "owner": "soc",
            "expires": "2099-01-01",
        },
        headers=ADMIN,
    ).json()
    assert created["id"].startswith("s-")
    after = client.post("/v1/score", json=[make_record(eventID="b")], headers=SCORE).json()
    assert "ChangeWindow.OutsideApproved" not in {h["rule_id"] for h in after["hits"]}
    assert after["suppressed"] >= 1


def test_put_with_another_name_is_422(client: TestClient) -> None:
    answer = client.put("/v1/windows/x", json=WINDOW, headers=ADMIN)
    assert answer.status_code == 422
    assert "differs from 'x'" in answer.json()["detail"]


def test_invalid_objects_are_422_and_name_the_field(client: TestClient) -> None:
    answer = client.post("/v1/windows", json={**WINDOW, "duration": "4 hours"}, headers=ADMIN)
    assert answer.status_code == 422
    assert "duration" in str(answer.json())


def test_import_upserts_and_replace_removes_the_rest(client: TestClient) -> None:
    client.post("/v1/automation", json=RESOURCES[3][2], headers=ADMIN)
    text = (
        "version: 1\ntimezone: Europe/Berlin\nwindows:\n  - name: tue\n"
        "    rrule: FREQ=WEEKLY;BYDAY=TU;BYHOUR=22\n    duration: PT4H\n"
    )
    merged = client.post("/v1/policy/import", content=text, headers=ADMIN).json()
    assert merged == {"imported": {"window": 1}, "replaced": False}
    assert client.get("/v1/automation", headers=ADMIN).json()["count"] == 1
    assert client.get("/v1/windows/tue", headers=ADMIN).json()["timezone"] == "Europe/Berlin"
    client.post("/v1/policy/import?replace=true", content=text, headers=ADMIN)
    assert client.get("/v1/automation", headers=ADMIN).json()["count"] == 0


def test_bad_import_changes_nothing(client: TestClient) -> None:
    client.post("/v1/windows", json=WINDOW, headers=ADMIN)
    answer = client.post(
        "/v1/policy/import?replace=true", content="version: 1\nwindws: []\n", headers=ADMIN
    )
    assert answer.status_code == 422
    assert "windws" in answer.json()["detail"]
    assert client.get("/v1/windows", headers=ADMIN).json()["count"] == 1


def test_a_restart_keeps_policy_and_events(settings: Settings, tmp_path: Path) -> None:
    with TestClient(create_app(settings)) as client:
        client.post("/v1/windows", json=WINDOW, headers=ADMIN)
        client.post("/v1/score", json=[make_record(eventID="kept")], headers=SCORE)
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/windows", headers=ADMIN).json()["count"] == 1
        again = client.post("/v1/score", json=[make_record(eventID="kept")], headers=SCORE).json()
    assert again["already_seen"] == 1
