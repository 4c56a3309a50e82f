"""The overload case of ``bench/serve.py``: 3x the sustainable rate of large batches.

The sustainable rate is measured first (a closed loop of ``size``-record requests at the
server's scoring concurrency); then requests are sent, open loop, at three times that
rate for ``seconds``. The goal (issue 20, ADR 0041): every request is answered either
within 5 s (an EventBridge API destination's timeout) or at once with ``503`` and
``Retry-After``; none times out, none is a 5xx of another kind.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

_GOAL_SECONDS = 5.0


def _body(record: dict[str, Any], size: int, start: int) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    who = record["userIdentity"]
    records = [
        {
            **record,
            "eventTime": now,
            "eventID": f"overload-{n}",
            "userIdentity": {**who, "arn": f"{who['arn']}-{n % 200}"},
        }
        for n in range(start, start + size)
    ]
    return json.dumps({"Records": records}).encode()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def overload(client: httpx.AsyncClient, record: dict[str, Any], args: Any) -> None:
    """Measure the sustainable rate of ``args.overload_size``-record requests, then send 3x."""
    size, headers = args.overload_size, {"content-type": "application/json"}
    sent = 0

    async def post() -> tuple[int, float, str | None]:
        nonlocal sent
        body = _body(record, size, sent)
        sent += size
        started = time.perf_counter()
        try:
            answer = await client.post("/v1/score", content=body, headers=headers)
        except httpx.TransportError as error:
            return -1, time.perf_counter() - started, type(error).__name__
        return answer.status_code, time.perf_counter() - started, answer.headers.get("retry-after")

    warm = time.perf_counter()
    done = await asyncio.gather(*(post() for _ in range(2)))  # the server's two scoring threads
    for _ in range(2):
        done += await asyncio.gather(*(post() for _ in range(2)))
    rate = len(done) / (time.perf_counter() - warm)
    target = 3 * rate
    tasks = []
    start = time.perf_counter()
    for i in range(int(target * args.overload_seconds)):
        delay = start + i / target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post()))
    results = await asyncio.gather(*tasks)
    statuses = Counter(status for status, _, _ in results)
    ok = [took for status, took, _ in results if status == 200]
    refused = [(took, retry) for status, took, retry in results if status == 503]
    with_retry = sum(1 for _, retry in refused if retry and retry.isdigit())
    other = sum(n for status, n in statuses.items() if status not in (200, 503))
    p99 = _pct(ok, 0.99)
    met = p99 < _GOAL_SECONDS and other == 0 and with_retry == len(refused)
    print(
        f"overload, {size} records a request: sustainable {rate:.2f}/s, sent {len(results)} at "
        f"{target:.2f}/s for {args.overload_seconds:.0f}s: {len(ok)} answered 200 "
        f"(p50 {_pct(ok, 0.5):.2f}s p99 {p99:.2f}s max {_pct(ok, 1.0):.2f}s), "
        f"{len(refused)} answered 503 ({with_retry} with Retry-After, p99 "
        f"{_pct([t for t, _ in refused], 0.99):.3f}s), {other} other {dict(statuses)}; "
        f"goal (200 within {_GOAL_SECONDS:.0f}s or 503 + Retry-After): "
        f"{'met' if met else 'NOT met'}"
    )
