"""Graceful degradation under overload (issue 16, ADR 0063), in-process and over real HTTP.

The scoring queue's wait bound counts from a request's arrival at the application, not
from the moment it reaches the queue: a request that used up its bound before it got
there, or that would wait past it behind those already waiting, is answered 503 with
``Retry-After`` at once. Every answer says how long the application took
(``Server-Timing``), and refusals are logged in summary, not one line each.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import anyio
import httpx
import pytest

from serving.api import create_app
from serving.api.backpressure import ScoringQueue
from serving.api.metrics import Metrics
from serving.api.problems import OVERLOADED, ProblemError
from tests.serving.api.conftest import SCORE, SCORE_SECRET, Outcomes, served, settings_for


def _records(prefix: str, n: int) -> bytes:
    records = [
        {
            "eventVersion": "1.09",
            "eventTime": "2026-03-02T10:00:00Z",
            "eventSource": "ec2.amazonaws.com",
            "eventName": "CreateSnapshot",
            "awsRegion": "eu-west-1",
            "sourceIPAddress": "198.51.100.7",
            "userAgent": "aws-cli/2.15.30",
            "eventID": f"{prefix}-{i}",
            "recipientAccountId": "111122223333",
            "userIdentity": {
                "type": "IAMUser",
                "arn": f"arn:aws:iam::111122223333:user/u{i % 20}",
                "accountId": "111122223333",
            },
            "requestParameters": {"volumeId": "vol-0a1b2c3d4e5f60718"},
        }
        for i in range(n)
    ]
    return json.dumps({"Records": records}).encode()


def _refusal(call: Any) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        call()
    assert caught.value.status_code == 503
    assert int(caught.value.headers["Retry-After"]) >= 1
    return caught.value


# ------------------------------------------------------------------ the queue itself


def test_a_request_late_on_arrival_is_refused_though_a_thread_is_free() -> None:
    metrics = Metrics()
    queue = ScoringQueue(threads=2, depth=32, max_wait=2.0, metrics=metrics)
    ran: list[str] = []

    async def late() -> None:
        await queue.run(lambda: ran.append("scored"), arrived=time.perf_counter() - 5.0)

    refused = _refusal(lambda: anyio.run(late))
    assert "before reaching the scoring queue" in str(refused.detail)
    assert ran == []
    assert metrics.overloaded._value.get() == 1


def test_a_request_within_its_bound_on_arrival_is_scored() -> None:
    queue = ScoringQueue(threads=1, depth=1, max_wait=2.0, metrics=Metrics())

    async def recent() -> str:
        return await queue.run(lambda: "scored", arrived=time.perf_counter() - 0.5)

    assert anyio.run(recent) == "scored"


def test_a_request_that_would_wait_past_the_bound_is_refused_at_once() -> None:
    queue = ScoringQueue(threads=1, depth=100, max_wait=1.0, metrics=Metrics())
    release = threading.Event()
    outcomes = Outcomes(queue)
    one = outcomes.one

    async def main() -> None:
        for _ in range(3):  # scoring is learnt to take at least 0.3 s a request
            await queue.run(lambda: time.sleep(0.3))
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(one, lambda: release.wait(10) and "held")
            await anyio.sleep(0.05)
            for _ in range(10):  # 10 x 0.15 s (the smoothed mean, at least) > 1 s: some refused
                tasks.start_soon(one, lambda: "waited")
                await anyio.sleep(0)
            await anyio.sleep(0.05)
            assert queue.waiting < queue.depth  # not the depth: the time the queue would take
            refused = _refusal(queue.check)
            assert "would take" in str(refused.detail)
            release.set()

    anyio.run(main)
    assert "held" in outcomes
    assert any(isinstance(o, ProblemError) and "would take" in str(o.detail) for o in outcomes)


def test_refusals_are_logged_in_summary(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    queue = ScoringQueue(threads=1, depth=0, max_wait=2.0, metrics=metrics)
    release = threading.Event()

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(queue.run, lambda: release.wait(10))
            await anyio.sleep(0.05)
            for _ in range(50):
                _refusal(queue.check)
            release.set()

    with caplog.at_level(logging.WARNING, logger="serving.api.backpressure"):
        anyio.run(main)
    assert metrics.overloaded._value.get() == 50
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1


# ------------------------------------------------------------------ over real HTTP


@pytest.fixture
def bounded_url(tmp_path: Path) -> Any:
    """A live service with one scoring thread, one waiting place and a 0.3 s wait bound."""
    settings = settings_for(
        tmp_path / "state.db", scoring_threads=1, queue_depth=1, queue_wait_seconds=0.3
    )
    with served(create_app(settings)) as url:
        yield url


def _head_and_body(url: str, body: bytes, pause: float) -> bytes:
    """POST /v1/score over a raw socket, the body ``pause`` seconds after the headers."""
    where = urlparse(url)
    head = (
        f"POST /v1/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SCORE_SECRET}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(head)
        time.sleep(pause)
        sock.sendall(body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_live_a_request_whose_wait_bound_ran_out_before_the_queue_is_503(
    bounded_url: str,
) -> None:
    answer = _head_and_body(bounded_url, _records("late", 1), pause=1.0)  # bound: 0.3 s
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), head
    assert b"\r\nretry-after: " in head.lower()
    problem = json.loads(body)
    assert problem["type"] == OVERLOADED
    assert "before reaching the scoring queue" in problem["detail"]


def test_live_the_same_request_sent_at_once_is_scored(bounded_url: str) -> None:
    answer = _head_and_body(bounded_url, _records("prompt", 1), pause=0.0)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_live_every_answer_says_the_time_the_application_took(bounded_url: str) -> None:
    for answer in (
        httpx.post(f"{bounded_url}/v1/score", content=_records("timed", 1), headers=SCORE),
        httpx.get(f"{bounded_url}/healthz"),
        httpx.post(f"{bounded_url}/v1/score", content=b"{oops", headers=SCORE),
    ):
        name, _, duration = answer.headers["server-timing"].partition(";dur=")
        assert name == "app"
        assert float(duration) >= 0


@pytest.mark.slow
def test_live_a_flood_gets_only_200s_and_503s_with_retry_after(bounded_url: str) -> None:
    body = _records("flood", 300)  # hundreds of records: each request holds the thread a while

    def post(n: int) -> httpx.Response:
        headers = {**SCORE, "Content-Type": "application/json"}
        return httpx.post(
            f"{bounded_url}/v1/score",
            content=body.replace(b"flood-", f"f{n}-".encode()),
            headers=headers,
            timeout=60,
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) == {200, 503}, statuses
    for answer in answers:
        if answer.status_code == 503:
            assert int(answer.headers["retry-after"]) >= 1
            assert answer.json()["type"] == OVERLOADED
