"""Hostile input and faults against the service (issue 16), in-process and over real HTTP.

Each case failed on the code before the fix: future-dated events evicted an identity's
history, a YAML alias bomb stalled the service, a 100 MiB header was read to the end,
``/metrics`` and ``/readyz`` told anyone about findings and bundle paths, a gzip body
was a 400, a full service answered minutes late instead of 503.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from models.scoring import MAX_YAML_BYTES, MAX_YAML_DEPTH, Policy, load_yaml_model
from serving._state import StateStore
from serving.api import create_app, served_in_thread
from serving.api.backpressure import ScoringQueue
from serving.api.metrics import Metrics
from serving.api.problems import ProblemError
from serving.api.routes import policy_import
from tests.serving.api.conftest import (
    ADMIN,
    ADMIN_SECRET,
    KEYS,
    SCORE,
    Outcomes,
    settings_for,
)
from tests.serving.conftest import alias_bomb

VICTIM = "arn:aws:iam::111122223333:user/victim"
WINDOW = {"rrule": "FREQ=WEEKLY;BYDAY=TU;BYHOUR=22", "duration": "PT4H"}
HANG = 10.0
"""Seconds a gated request may take before the test calls it hung (a guard, not a timing)."""


def _record(event_id: str, when: datetime | str, name: str = "DescribeInstances") -> dict[str, Any]:
    stamp = when if isinstance(when, str) else when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "eventVersion": "1.09",
        "eventTime": stamp,
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.30",
        "eventID": event_id,
        "recipientAccountId": "111122223333",
        "userIdentity": {
            "type": "IAMUser",
            "arn": VICTIM,
            "accountId": "111122223333",
            "principalId": "AIDAVICTIM",
        },
    }


def _future(n: int) -> list[dict[str, Any]]:
    return [_record(f"fut-{i:05d}", f"9999-12-{1 + i % 28:02d}T00:00:00Z") for i in range(n)]


# ------------------------------------------------------------------ future-dated events


def test_future_dated_events_are_rejected_and_do_not_evict_history(client: TestClient) -> None:
    real = _record("real-0001", datetime.now(UTC) - timedelta(hours=1))
    assert client.post("/v1/score", json={"Records": [real]}, headers=SCORE).json()["scored"] == 1
    poisoned = client.post("/v1/score", json={"Records": _future(1000)}, headers=SCORE).json()
    assert poisoned["scored"] == 0
    assert len(poisoned["rejected"]) == 1000
    assert poisoned["rejected"][0]["field"] == "eventTime"
    assert "after the server's clock" in poisoned["rejected"][0]["reason"]
    again = client.post("/v1/score", json={"Records": [real]}, headers=SCORE).json()
    assert again["already_seen"] == 1
    metrics = client.get("/metrics").text
    assert 'changewatch_rejected_records_total{reason="future"} 1000.0' in metrics


def test_events_within_the_clock_slack_are_scored(client: TestClient) -> None:
    soon = _record("soon-0001", datetime.now(UTC) + timedelta(minutes=5))
    answer = client.post("/v1/score", json=[soon], headers=SCORE).json()
    assert answer["scored"] == 1
    assert answer["rejected"] == []


# ------------------------------------------------------------------ YAML


@pytest.mark.parametrize(
    ("document", "said"),
    [
        (alias_bomb(), "alias"),
        ("version: 1\nwindows: " + "[" * 10_000 + "]" * 10_000 + "\n", "depth"),
        # below libyaml's own nesting limit (1,000): the project's bound must say it
        (
            "version: 1\nwindows: " + "[" * 100 + "]" * 100 + "\n",
            f"nested deeper than {MAX_YAML_DEPTH} levels",
        ),
    ],
    ids=["alias-bomb", "10k-deep", "100-deep"],
)
def test_hostile_yaml_is_a_422_at_once(client: TestClient, document: str, said: str) -> None:
    started = time.perf_counter()
    answer = client.post(
        "/v1/policy/import",
        content=document.encode(),
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )
    assert time.perf_counter() - started < 10  # generous: it took minutes before
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["detail"]


def test_a_yaml_body_over_the_size_limit_is_a_422_naming_it(client: TestClient) -> None:
    document = "version: 1\n# " + "x" * (15 << 20) + "\n"
    answer = client.post(
        "/v1/policy/import",
        content=document.encode(),
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )
    assert answer.status_code == 422, answer.text[:200]
    detail = answer.json()["detail"]
    assert "\n" not in detail
    assert f"a YAML document may have {MAX_YAML_BYTES}" in detail
    assert len(detail) < 200


def test_a_policy_import_is_parsed_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsing, parsed, gate = threading.Event(), threading.Event(), threading.Event()
    parse = load_yaml_model

    def gated(*args: Any, **kwargs: Any) -> Any:
        parsing.set()
        gate.wait(HANG)  # bounded: a parser on the loop would hold it this long
        try:
            return parse(*args, **kwargs)
        finally:
            parsed.set()

    monkeypatch.setattr(policy_import, "load_yaml_model", gated)  # what the route calls
    answers: dict[str, int] = {}

    def importing(url: str) -> None:
        answer = httpx.post(
            f"{url}/v1/policy/import",
            content=b"version: 1\n",
            headers={**ADMIN, "Content-Type": "application/yaml"},
            timeout=2 * HANG,
        )
        answers["import"] = answer.status_code

    with served_in_thread(create_app(settings_for(tmp_path / "s.db"))) as url:
        writer = threading.Thread(target=importing, args=(url,), daemon=True)
        writer.start()
        try:
            assert parsing.wait(HANG), "the import never reached the parser"
            try:
                health = httpx.get(f"{url}/healthz", timeout=HANG / 2).status_code
            except httpx.TimeoutException:
                health = 0
            answered_while_parsing = not parsed.is_set()
        finally:
            gate.set()
            writer.join(2 * HANG)
    assert health == 200
    assert answered_while_parsing
    assert answers == {"import": 200}


# ------------------------------------------------------------------ policy writes


def _windows(client: TestClient) -> list[str]:
    listed = client.get("/v1/windows", headers=ADMIN).json()
    return sorted(w["name"] for w in listed["data"])


@pytest.mark.parametrize("how", ["create", "import", "import-replace"])
def test_a_policy_over_the_object_cap_is_a_422_and_nothing_is_stored(
    tmp_path: Path, how: str
) -> None:
    with TestClient(create_app(settings_for(tmp_path / "s.db", max_policy_objects=2))) as client:
        for name in ("a", "b"):
            created = client.post("/v1/windows", json={**WINDOW, "name": name}, headers=ADMIN)
            assert created.status_code == 201, created.text
        assert _windows(client) == ["a", "b"]
        if how == "create":
            answer = client.post("/v1/windows", json={**WINDOW, "name": "c"}, headers=ADMIN)
        else:
            document = {"version": 1, "windows": [{**WINDOW, "name": n} for n in "xyz"]}
            answer = client.post(
                "/v1/policy/import",
                json=document,
                params={"replace": how == "import-replace"},
                headers=ADMIN,
            )
        assert answer.status_code == 422, answer.text
        assert "CHANGEWATCH_MAX_POLICY_OBJECTS" in answer.json()["detail"]
        assert _windows(client) == ["a", "b"]


def test_scoring_answers_while_a_policy_write_is_built(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    building, gate = threading.Event(), threading.Event()
    build = StateStore._policy_of

    def gated(rows: Any, limit: int | None) -> Policy:
        if limit is not None:  # the build of a write (a read of the policy passes None)
            building.set()
            gate.wait(HANG)
        return build(rows, limit)

    monkeypatch.setattr(StateStore, "_policy_of", staticmethod(gated))
    answers: dict[str, Any] = {}

    def writing() -> None:
        window = {**WINDOW, "name": "tue"}
        answers["write"] = client.post("/v1/windows", json=window, headers=ADMIN).status_code

    def scoring() -> None:
        real = _record("during-write", datetime.now(UTC) - timedelta(minutes=1))
        answers["score"] = client.post("/v1/score", json=[real], headers=SCORE).json()["scored"]

    writer = threading.Thread(target=writing, daemon=True)
    writer.start()
    try:
        assert building.wait(HANG), "the write never started its build"
        scorer = threading.Thread(target=scoring, daemon=True)
        scorer.start()
        scorer.join(HANG)
        scored_while_building = "score" in answers and "write" not in answers
    finally:
        gate.set()
        writer.join(HANG)
    assert scored_while_building
    assert answers == {"score": 1, "write": 201}


# ------------------------------------------------------------------ who sees details


def test_anonymous_metrics_and_readiness_hide_findings_and_paths(client: TestClient) -> None:
    anonymous = client.get("/metrics").text
    watched = client.get("/metrics", headers=ADMIN).text
    assert "changewatch_events_scored_total" in anonymous
    assert "changewatch_findings" not in anonymous
    assert "changewatch_model_info" not in anonymous
    assert "changewatch_model_info" in watched
    assert client.get("/readyz").json()["degraded_reason"] is None
    assert "--model none" in client.get("/readyz", headers=ADMIN).json()["degraded_reason"]


def test_a_score_key_is_not_a_metrics_key(client: TestClient) -> None:
    assert client.get("/metrics", headers=SCORE).status_code == 403


METRICS_SECRET = "metrics-secret-0123456789abcdef"


def test_a_metrics_key_sees_the_details_and_cannot_score(tmp_path: Path) -> None:
    keys = f"{KEYS},prometheus:metrics:{METRICS_SECRET}"
    watcher = {"Authorization": f"Bearer {METRICS_SECRET}"}
    with TestClient(create_app(settings_for(tmp_path / "s.db", api_keys=keys))) as client:
        assert "changewatch_model_info" not in client.get("/metrics").text
        scraped = client.get("/metrics", headers=watcher)
        assert scraped.status_code == 200
        assert "changewatch_model_info" in scraped.text
        assert client.get("/readyz").json()["degraded_reason"] is None
        ready = client.get("/readyz", headers=watcher)
        assert ready.status_code == 200
        assert "--model none" in ready.json()["degraded_reason"]
        record = _record("metrics-key", datetime.now(UTC) - timedelta(minutes=1))
        refused = client.post("/v1/score", json=[record], headers=watcher)
        assert refused.status_code == 403
        assert "'metrics'" in refused.json()["detail"]
        assert (
            client.post("/v1/windows", json={**WINDOW, "name": "x"}, headers=watcher).status_code
            == 403
        )


# ------------------------------------------------------------------ gzip bodies


def test_gzip_bodies_are_scored(client: TestClient) -> None:
    body = gzip.compress(
        json.dumps({"Records": [_record("gz-1", "2026-03-02T10:00:00Z")]}).encode()
    )
    headers = {**SCORE, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    answer = client.post("/v1/score", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["scored"] == 1


def test_a_gzip_bomb_is_413_after_decompression(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path / "s.db", max_body_bytes=1 << 20))
    bomb = gzip.compress(b"[" + b" " * (64 << 20) + b"]")
    assert len(bomb) < (1 << 20)
    headers = {**SCORE, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    with TestClient(app) as client:
        answer = client.post("/v1/score", content=bomb, headers=headers)
    assert answer.status_code == 413
    assert answer.headers["x-changewatch-degraded"] == "true"


def test_a_broken_gzip_body_is_400(client: TestClient) -> None:
    headers = {**SCORE, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    answer = client.post("/v1/score", content=b"\x1f\x8b not gzip", headers=headers)
    assert answer.status_code == 400
    assert "gzip" in answer.json()["detail"]


# ------------------------------------------------------------------ backpressure


def test_a_full_queue_answers_503_with_retry_after() -> None:
    queue = ScoringQueue(threads=1, depth=1, max_wait=5.0, metrics=Metrics())
    release = threading.Event()
    outcomes = Outcomes(queue)
    one = outcomes.one

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(one, lambda: release.wait(10) and "first")
            await anyio.sleep(0.2)  # the first holds the one thread
            tasks.start_soon(one, lambda: "second")  # waits: the queue holds one
            await anyio.sleep(0.2)
            tasks.start_soon(one, lambda: "third")  # the queue is full
            await anyio.sleep(0.2)
            release.set()

    anyio.run(main)
    refused = [o for o in outcomes if isinstance(o, ProblemError)]
    assert sorted(o for o in outcomes if isinstance(o, str)) == ["first", "second"]
    assert len(refused) == 1
    assert refused[0].status_code == 503
    assert refused[0].headers is not None
    assert int(refused[0].headers["Retry-After"]) >= 1


def test_a_request_that_waits_too_long_is_503() -> None:
    queue = ScoringQueue(threads=1, depth=8, max_wait=0.2, metrics=Metrics())
    release = threading.Event()
    outcomes: list[object] = []

    async def one(work: Any) -> None:
        try:
            outcomes.append(await queue.run(work))
        except ProblemError as error:
            outcomes.append(error.status_code)

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(one, lambda: release.wait(10) and "first")
            await anyio.sleep(0.1)
            tasks.start_soon(one, lambda: "late")
            await anyio.sleep(0.6)
            release.set()

    anyio.run(main)
    assert sorted(map(str, outcomes)) == ["503", "first"]


# ------------------------------------------------------------------ over real HTTP


def test_live_a_16_mib_header_is_refused_without_reading_it(live_url: str) -> None:
    where = urlparse(live_url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (1 << 20))
        head = sock.recv(64)
        try:  # the server closed the connection: the rest of the header is not read
            for _ in range(15):
                sock.sendall(b"a" * (1 << 20))
        except OSError:
            pass
    assert head.startswith(b"HTTP/1.1 431"), head


def test_live_gzip_body_and_future_dated_events(live_url: str) -> None:
    headers = {**SCORE, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    records = {"Records": [_record("live-gz-1", "2026-03-02T10:00:00Z"), *_future(3)]}
    answer = httpx.post(
        f"{live_url}/v1/score", content=gzip.compress(json.dumps(records).encode()), headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["scored"] == 1
    assert len(answer.json()["rejected"]) == 3


def test_live_errors_are_problems(live_url: str) -> None:
    answer = httpx.post(
        f"{live_url}/v1/windows",
        content=b"{oops",
        headers={"Authorization": f"Bearer {ADMIN_SECRET}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["instance"] == "/v1/windows"
