"""Load for ``bench/serve.py``: the fixed-rate open loop, and 3x the sustainable rate of batches.

:func:`open_loop` sends one-event requests at a fixed rate with :class:`Connections`, a
lean HTTP/1.1 client, and reports what :class:`Load` saw (ADR 0063).

:func:`overload`: the sustainable rate is measured first (a closed loop of ``size``-record requests at the
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

_GOAL_SECONDS = 5.0
_IDLE = 2.0
"""Seconds a keep-alive connection of the open loop may stay idle (uvicorn's limit: 5)."""


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


@dataclass
class Load:
    """What an open loop saw: answers by status, latencies, and the client's own lag.

    Latencies count from the *scheduled* send time, so a client that falls behind (its
    own event loop late, or every connection busy) shows it rather than hiding it.
    """

    statuses: Counter[int] = field(default_factory=Counter)
    latency: dict[int, list[float]] = field(default_factory=dict)
    """Seconds from the scheduled send to the answer, by status."""
    server: dict[int, list[float]] = field(default_factory=dict)
    """Seconds the server says it spent (``Server-Timing: app``), by status."""
    late: list[float] = field(default_factory=list)
    """Seconds from the scheduled send to the request task running (the client's loop lag)."""
    waited: list[float] = field(default_factory=list)
    """Seconds from the scheduled send to a free connection (client lag + busy connections)."""
    outside: dict[int, list[float]] = field(default_factory=dict)
    """Seconds of a round trip spent outside the application (sockets, both loops), by status."""
    retry_after: int = 0
    """503 answers that carry a numeric ``Retry-After``."""
    failed: int = 0
    """Connections dropped (transport errors)."""
    unanswered: int = 0
    """Still unanswered when the cap ran out."""
    sent_rate: float = 0.0
    client_cpu: float = 0.0
    """The client process's CPU seconds per wall second during the run."""
    seconds: float = 0.0

    def errors(self) -> int:
        """Everything that is neither a 200 nor a 503 with ``Retry-After``."""
        refused = self.statuses.get(503, 0)
        others = sum(n for status, n in self.statuses.items() if status not in (200, 503))
        return self.failed + self.unanswered + others + refused - self.retry_after

    @staticmethod
    def server_of(headers: Mapping[str, str]) -> float:
        """Seconds of ``Server-Timing: app;dur=<ms>`` (0 when absent)."""
        timing = headers.get("server-timing", "")
        if "dur=" not in timing:
            return 0.0
        return float(timing.split("dur=", 1)[1].split(",", 1)[0].split(";", 1)[0]) / 1e3

    def add(self, status: int, took: float, headers: Mapping[str, str]) -> None:
        """Count one answer."""
        self.statuses[status] += 1
        self.latency.setdefault(status, []).append(took)
        self.server.setdefault(status, []).append(self.server_of(headers))
        if status == 503 and headers.get("retry-after", "").isdigit():
            self.retry_after += 1


class Connections:
    """A lean HTTP/1.1 client for the open loop: keep-alive connections opened on demand.

    httpx spends about 4 ms of CPU a request (79% of a core at 200/s on the bench machine,
    its event loop then hundreds of milliseconds late), so the load generator measured
    itself; this one reads only a status line, headers and a ``Content-Length`` body.
    At most ``limit`` requests are in flight (one per connection); the others wait.
    """

    def __init__(self, base: str, limit: int) -> None:
        where = urlsplit(base)
        self._host, self._port = where.hostname or "127.0.0.1", where.port or 80
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.free = asyncio.Semaphore(limit)

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str]]:
        """Send one JSON body; return the status and headers (names lower-case).

        Raises
        ------
        OSError
            When the connection fails or closes before a whole answer.
        """
        reader, writer = await self._connection()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        try:
            writer.write(head.encode() + body)
            lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            await reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            writer.close()
            raise OSError(f"connection closed early: {error}") from None
        except OSError:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append((reader, writer, time.monotonic()))
        return int(lines[0].split(" ", 2)[1]), headers

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The most recently used idle connection, or a new one.

        Connections idle longer than ``_IDLE`` are closed first: uvicorn closes a
        keep-alive connection idle for 5 s, and a request sent on it as it closes would be
        lost through no fault of the server.
        """
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < _IDLE:
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self._host, self._port)

    def close(self) -> None:
        """Close the idle connections."""
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


async def open_loop(
    base: str, bodies: Callable[[], bytes], rate: float, seconds: float, cap: float, limit: int
) -> Load:
    """Send at a fixed rate whatever the answers (open loop); returns what was seen.

    At most ``limit`` requests are in flight (one per connection, opened as needed); the
    others wait for one, and that wait counts in their latency. Requests still unanswered
    ``cap`` seconds after the last was sent are cancelled and counted.
    """
    load = Load()
    client = Connections(base, limit)

    async def one(body: bytes, scheduled: float) -> None:
        load.late.append(time.perf_counter() - scheduled)
        async with client.free:
            sent = time.perf_counter()
            load.waited.append(sent - scheduled)
            try:
                status, headers = await client.post("/v1/score", body)
            except OSError:  # an overloaded server may drop connections
                load.failed += 1
                return
        done = time.perf_counter()
        load.add(status, done - scheduled, headers)
        load.outside.setdefault(status, []).append(done - sent - load.server_of(headers))

    tasks = []
    cpu = time.process_time()
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(bodies(), scheduled)))
    load.sent_rate = len(tasks) / (time.perf_counter() - start)
    _, pending = await asyncio.wait(tasks, timeout=cap)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    client.close()
    load.unanswered = len(pending)
    load.seconds = time.perf_counter() - start
    load.client_cpu = (time.process_time() - cpu) / load.seconds
    return load


def _ms(values: list[float], q: float) -> str:
    return f"{_pct(values, q) * 1e3:.1f}"


def describe(load: Load) -> str:
    """Lines for the report: answers, latency of 200s and 503s, server time, client lag."""
    ok, no = load.latency.get(200, []), load.latency.get(503, [])
    answered = ", ".join(f"{n} x {s}" for s, n in sorted(load.statuses.items())) or "none"
    return "\n".join(
        (
            f"  answers: {answered}; {load.unanswered} unanswered, {load.failed} dropped, "
            f"{load.errors()} errors (503s with Retry-After: {load.retry_after})",
            f"  200: p50 {_ms(ok, 0.5)}ms p99 {_ms(ok, 0.99)}ms max {_ms(ok, 1.0)}ms; "
            f"503: p50 {_ms(no, 0.5)}ms p99 {_ms(no, 0.99)}ms max {_ms(no, 1.0)}ms",
            f"  server time (Server-Timing): 200 p50 {_ms(load.server.get(200, []), 0.5)}ms "
            f"p99 {_ms(load.server.get(200, []), 0.99)}ms "
            f"max {_ms(load.server.get(200, []), 1.0)}ms; "
            f"503 p99 {_ms(load.server.get(503, []), 0.99)}ms "
            f"max {_ms(load.server.get(503, []), 1.0)}ms",
            f"  outside the application (round trip - server time): "
            f"200 p50 {_ms(load.outside.get(200, []), 0.5)}ms "
            f"p99 {_ms(load.outside.get(200, []), 0.99)}ms "
            f"max {_ms(load.outside.get(200, []), 1.0)}ms; "
            f"503 p99 {_ms(load.outside.get(503, []), 0.99)}ms "
            f"max {_ms(load.outside.get(503, []), 1.0)}ms",
            f"  client: {load.sent_rate:.0f}/s sent, CPU {load.client_cpu:.0%} of a core, "
            f"loop lag p50 {_ms(load.late, 0.5)}ms p99 {_ms(load.late, 0.99)}ms "
            f"max {_ms(load.late, 1.0)}ms, "
            f"connection wait p99 {_ms(load.waited, 0.99)}ms",
        )
    )
