"""Against a real uvicorn on 127.0.0.1: answers, concurrency, metrics."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import make_record
from tests.serving.api.conftest import ADMIN, SCORE


def test_live_health_and_score(live_url: str) -> None:
    with httpx.Client(base_url=live_url, timeout=30) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        data = client.post("/v1/score", json=[make_record(eventID="live-1")], headers=SCORE).json()
    assert data["scored"] == 1
    assert data["degraded"] is True


def test_live_concurrent_requests_lose_nothing(live_url: str) -> None:
    def send(n: int) -> int:
        records = [
            make_record(eventID=f"c{n}-{i}", eventTime=f"2026-03-03T{n % 24:02d}:{i:02d}:00Z")
            for i in range(3)
        ]
        with httpx.Client(base_url=live_url, timeout=60) as client:
            answer = client.post("/v1/score", json=records, headers=SCORE)
        assert answer.status_code == 200
        scored: int = answer.json()["scored"] - answer.json()["already_seen"]
        return scored

    with ThreadPoolExecutor(8) as pool:
        total = sum(pool.map(send, range(32)))
    assert total == 96
    with httpx.Client(base_url=live_url, timeout=30) as client:
        metrics = client.get("/metrics").text
        assert client.post("/v1/model/reload", headers=ADMIN).status_code == 200
    assert (
        'changewatch_http_requests_total{method="POST",route="/v1/score",status="200"}' in metrics
    )
