"""The analyst's loop over HTTP: stored findings, verdicts, suppressions on and in dry-run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from serving.api import create_app
from tests.conftest import make_record
from tests.serving.api.conftest import ADMIN, SCORE, settings_for

WINDOW = {"name": "elsewhere", "rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=3", "duration": "1h"}
RULE = "ChangeWindow.OutsideApproved"
TRIAGE_SECRET = "triage-secret-0123456789abcdef"
TRIAGE = {"Authorization": f"Bearer {TRIAGE_SECRET}"}


@pytest.fixture
def client(tmp_path: Any) -> Any:
    """A service with score, triage and admin keys and a window no change falls in."""
    keys = (
        f"soar:score:{SCORE['Authorization'][7:]},ops:admin:{ADMIN['Authorization'][7:]},"
        f"alice:triage:{TRIAGE_SECRET}"
    )
    settings = settings_for(tmp_path / "state.db", api_keys=keys)
    with TestClient(create_app(settings)) as test_client:
        test_client.post("/v1/windows", json=WINDOW, headers=ADMIN)
        yield test_client


def _finding(client: TestClient, event_id: str, **overrides: Any) -> dict[str, Any]:
    answer = client.post(
        "/v1/score", json=[make_record(eventID=event_id, **overrides)], headers=SCORE
    ).json()
    (finding,) = [f for f in answer["findings"] if RULE in f["rules"]]
    return finding


def _verdict(client: TestClient, finding_id: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/v1/findings/{finding_id}/verdict", json=body, headers=TRIAGE)


def test_scored_findings_are_stored_once_and_new(client: TestClient) -> None:
    finding = _finding(client, "a")
    client.post("/v1/score", json=[make_record(eventID="a")], headers=SCORE)
    page = client.get("/v1/findings", headers=TRIAGE).json()
    assert [r["finding"]["finding_id"] for r in page["data"]] == [finding["finding_id"]]
    assert page["data"][0]["status"] == "new"
    one = client.get(f"/v1/findings/{finding['finding_id']}", headers=TRIAGE).json()
    assert one["finding"] == finding
    assert one["source"] == "api"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=new", 2),
        ("status=resolved", 0),
        ("severity=critical", 0),
        ("severity=info", 2),
        ("identity=nobody", 0),
        ("since=2099-01-01T00:00:00Z", 0),
        ("until=2099-01-01T00:00:00Z", 2),
    ],
)
def test_findings_filter(client: TestClient, query: str, expected: int) -> None:
    _finding(client, "a")
    _finding(
        client,
        "b",
        userIdentity={
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/bob",
            "accountId": "111122223333",
            "userName": "bob",
        },
    )
    assert client.get(f"/v1/findings?{query}", headers=TRIAGE).json()["count"] == expected


def test_findings_page_with_a_cursor(client: TestClient) -> None:
    for user in ("bob", "carol", "dave"):
        identity = {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::111122223333:user/{user}",
            "accountId": "111122223333",
            "userName": user,
        }
        _finding(client, user, userIdentity=identity)
    seen: list[str] = []
    cursor = ""
    while True:
        page = client.get(f"/v1/findings?limit=2&cursor={cursor}", headers=TRIAGE).json()
        seen += [r["finding"]["finding_id"] for r in page["data"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 3
    assert client.get("/v1/findings?cursor=@@", headers=TRIAGE).status_code == 400


def test_verdict_on_an_unknown_finding_is_404(client: TestClient) -> None:
    answer = _verdict(client, "cw-" + "0" * 32, {"verdict": "malicious"})
    assert answer.status_code == 404
    assert "cw-000" in answer.json()["detail"]


def test_a_score_key_cannot_give_verdicts(client: TestClient) -> None:
    finding = _finding(client, "a")
    answer = client.post(
        f"/v1/findings/{finding['finding_id']}/verdict", json={"verdict": "benign"}, headers=SCORE
    )
    assert answer.status_code == 403


def test_malicious_verdict_resolves_without_suppression(client: TestClient) -> None:
    finding = _finding(client, "a")
    done = _verdict(client, finding["finding_id"], {"verdict": "malicious", "note": "ir-7"}).json()
    assert done["created_suppressions"] == []
    record = done["finding"]
    assert (record["status"], record["resolution"], record["verdict_by"]) == (
        "resolved",
        "malicious",
        "alice",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"verdict": "benign", "note": "job", "suppress": {"scope": "identity"}}, "for"),
        ({"verdict": "benign", "note": "job", "suppress": {"for": "P400D"}}, "suppress.for"),
        ({"verdict": "benign", "suppress": {"for": "P14D"}}, "note"),
        ({"verdict": "malicious", "note": "x", "suppress": {"for": "P1D"}}, "suppress"),
        ({"verdict": "benign", "note": "x", "suppress": {"for": "P1D", "scope": "all"}}, "scope"),
    ],
    ids=["no-expiry", "too-long", "no-note", "not-benign", "too-wide"],
)
def test_bad_suppressions_are_refused(client: TestClient, body: dict[str, Any], field: str) -> None:
    finding = _finding(client, "a")
    answer = _verdict(client, finding["finding_id"], body)
    assert answer.status_code == 422
    assert field in str(answer.json()["detail"])
    assert client.get("/v1/suppressions", headers=ADMIN).json()["count"] == 0
    stored = client.get(f"/v1/findings/{finding['finding_id']}", headers=TRIAGE).json()
    assert stored["status"] == "new"


def test_benign_verdict_suppresses_narrowly_and_audits(client: TestClient) -> None:
    finding = _finding(client, "a")
    body = {
        "verdict": "benign",
        "note": "snapshot job of CHG-12",
        "suppress": {"for": "P14D", "scope": "identity+action"},
    }
    done = _verdict(client, finding["finding_id"], body).json()
    (name,) = done["created_suppressions"]
    assert done["finding"]["status"] == "suppressed"
    made = client.get(f"/v1/suppressions/{name}", headers=ADMIN).json()
    assert made["rule"] == RULE
    assert made["owner"] == "alice"
    assert made["reason"] == "snapshot job of CHG-12"
    assert {k: v for k, v in made["scope"].items() if v} == {
        "identities": [finding["identity"]],
        "actions": ["CreateSnapshot"],
    }
    again = client.post("/v1/score", json=[make_record(eventID="c")], headers=SCORE).json()
    assert RULE not in {h["rule_id"] for h in again["hits"]}
    other = client.post(
        "/v1/score", json=[make_record(eventID="d", eventName="DeleteSnapshot")], headers=SCORE
    ).json()
    assert RULE in {h["rule_id"] for h in other["hits"]}  # another action is not covered
    audit = client.get(f"/v1/findings/{finding['finding_id']}", headers=TRIAGE).json()
    assert ["c" in a["event_ids"] for a in audit["silenced"]] == [True]
    overview = client.get("/v1/policy", headers=ADMIN).json()
    (row,) = overview["suppressions"]
    assert (row["id"], row["silenced"], row["would_silence"], row["dry_run"]) == (
        name,
        1,
        0,
        False,
    )


def test_dry_run_suppression_silences_nothing_but_counts(client: TestClient) -> None:
    finding = _finding(client, "a")
    body = {
        "verdict": "benign",
        "note": "trying it",
        "suppress": {"for": "P7D", "scope": "identity", "dry_run": True},
    }
    done = _verdict(client, finding["finding_id"], body).json()
    assert done["finding"]["status"] == "resolved"
    (name,) = done["created_suppressions"]
    again = client.post("/v1/score", json=[make_record(eventID="c")], headers=SCORE).json()
    assert RULE in {h["rule_id"] for h in again["hits"]}
    assert again["suppressed"] == 0
    (row,) = client.get("/v1/policy", headers=ADMIN).json()["suppressions"]
    assert (row["silenced"], row["would_silence"], row["dry_run"]) == (0, 1, True)
    metrics = client.get("/metrics", headers=ADMIN).text
    assert f'changewatch_suppressed_hits_total{{mode="rehearsed",suppression="{name}"}} 1.0' in (
        metrics
    )
    switched = client.get(f"/v1/suppressions/{name}", headers=ADMIN).json()
    switched = {k: v for k, v in switched.items() if k not in ("id", "updated_at")}
    client.put(f"/v1/suppressions/{name}", json={**switched, "dry_run": False}, headers=ADMIN)
    later = client.post("/v1/score", json=[make_record(eventID="e")], headers=SCORE).json()
    assert RULE not in {h["rule_id"] for h in later["hits"]}


def test_status_moves_to_in_progress(client: TestClient) -> None:
    finding = _finding(client, "a")
    url = f"/v1/findings/{finding['finding_id']}/status"
    assert client.post(url, json={"status": "in_progress"}, headers=TRIAGE).json()["status"] == (
        "in_progress"
    )
    assert client.post(url, json={"status": "resolved"}, headers=TRIAGE).status_code == 422


def test_the_loop_over_real_http(live_url: str) -> None:
    identity = {
        "type": "IAMUser",
        "arn": "arn:aws:iam::111122223333:user/loop",
        "accountId": "111122223333",
        "userName": "loop",
    }
    with httpx.Client(base_url=live_url, timeout=30) as http:
        http.post("/v1/windows", json={**WINDOW, "name": "loop-window"}, headers=ADMIN)
        answer = http.post(
            "/v1/score", json=[make_record(eventID="loop-1", userIdentity=identity)], headers=SCORE
        ).json()
        (finding,) = [f for f in answer["findings"] if RULE in f["rules"]]
        body = {"verdict": "benign", "note": "loop job", "suppress": {"for": "P1D"}}
        done = http.post(
            f"/v1/findings/{finding['finding_id']}/verdict", json=body, headers=ADMIN
        ).json()
        assert done["finding"]["status"] == "suppressed"
        listed = http.get(
            "/v1/findings", params={"identity": finding["identity"]}, headers=ADMIN
        ).json()
        assert [r["resolution"] for r in listed["data"]] == ["benign"]
        assert http.get("/metrics").status_code == 200


def test_dry_run_automation_counts_over_real_http(live_url: str) -> None:
    bot = "arn:aws:iam::111122223333:role/dry-bot"
    identity = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/dry-bot/run-1",
        "accountId": "111122223333",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": bot, "userName": "dry-bot"}},
    }
    entry = {
        "name": "dry-ci",
        "identities": [bot],
        "clients": ["terraform"],
        "networks": ["10.0.0.0/8"],
        "dry_run": True,
    }

    def automation_hits(http: httpx.Client, event_id: str) -> set[str]:
        record = make_record(eventID=event_id, userIdentity=identity)  # aws-cli, 203.0.113.10
        answer = http.post("/v1/score", json=[record], headers=SCORE).json()
        return {h["rule_id"] for h in answer["hits"] if h["rule_id"].startswith("Automation.")}

    with httpx.Client(base_url=live_url, timeout=30) as http:
        assert http.post("/v1/automation", json=entry, headers=ADMIN).status_code == 201
        assert automation_hits(http, "dry-1") == set()  # in dry-run it raises nothing
        (row,) = http.get("/v1/policy", headers=ADMIN).json()["automation"]
        assert (row["name"], row["dry_run"], row["would_raise"]) == ("dry-ci", True, 2)
        assert 'changewatch_automation_dry_run_hits_total{automation="dry-ci"} 2.0' in (
            http.get("/metrics", headers=ADMIN).text
        )
        switched = http.put(
            "/v1/automation/dry-ci", json={**entry, "dry_run": False}, headers=ADMIN
        )
        assert switched.json()["dry_run"] is False
        assert automation_hits(http, "dry-2") == {
            "Automation.UnexpectedClient",
            "Automation.UnexpectedNetwork",
        }
        (row,) = http.get("/v1/policy", headers=ADMIN).json()["automation"]
        assert (row["dry_run"], row["would_raise"]) == (False, 2)  # counted no more once on
