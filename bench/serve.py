"""Latency and throughput of ``POST /v1/score`` against a bare echo route on the same uvicorn.

Starts one uvicorn on 127.0.0.1 (a subprocess) serving ``create_app`` with ``--model none``
plus a ``POST /bench/echo`` route that returns the body length, then for 1-event and
500-event requests at concurrency 1, 8 and 32 prints p50/p99 latency and throughput of
both routes and their ratios, and finally holds 1-event requests at a fixed rate
(default 200/s) and prints the p99. Bounded: a fixed number of requests per cell and a
time cap per cell; loopback only.

``--in-process N`` first measures the CPU time of N 1-event requests sent to the app
through ``httpx.ASGITransport`` (no sockets, no client on the same cores): less noisy
on a shared machine than the latencies. It is measured twice, on a fresh state and
after 28 x 500 events of 50 identities at one instant (the state the fixed-rate run
meets, where every request re-scores about 280 stored events of its identity).

    .venv/bin/python bench/serve.py [--requests 200] [--rate 200] [--seconds 5] [--in-process 300]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
RECORD: dict[str, Any] = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
    },
    "eventTime": "2026-03-02T10:15:00Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "CreateSnapshot",
    "awsRegion": "eu-central-1",
    "sourceIPAddress": "203.0.113.10",
    "userAgent": "aws-cli/2.15.30 Python/3.11.8",
    "requestParameters": {"volumeId": "vol-0a1b2c3d4e5f60718"},
    "responseElements": {"snapshotId": "snap-0123456789abcdef0"},
    "eventID": "x",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "recipientAccountId": "111122223333",
}


def bench_app() -> Any:
    from serving.api import Settings, create_app  # noqa: PLC0415 - only in the server process

    app = create_app(Settings(state=Path(os.environ["CW_BENCH_STATE"]), model="none"))

    @app.post("/bench/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class _Bodies:
    def __init__(self, size: int) -> None:
        self.size = size
        self.n = 0

    def __call__(self) -> bytes:
        records = []
        for _ in range(self.size):
            self.n += 1
            record = copy.copy(RECORD)
            record["eventID"] = f"bench-{self.size}-{self.n}"
            record["userIdentity"] = {
                **RECORD["userIdentity"],
                "arn": f"arn:aws:iam::111122223333:user/u{self.n % 50}",
            }
            records.append(record)
        return json.dumps({"Records": records}).encode()


async def _closed_loop(
    client: httpx.AsyncClient,
    path: str,
    bodies: _Bodies,
    requests: int,
    concurrency: int,
    cap: float,
) -> tuple[list[float], float]:
    latencies: list[float] = []
    todo = iter(range(requests))
    deadline = time.perf_counter() + cap

    async def worker() -> None:
        for _ in todo:
            if time.perf_counter() > deadline:
                return
            body = bodies()
            t = time.perf_counter()
            r = await client.post(path, content=body, headers={"content-type": "application/json"})
            latencies.append(time.perf_counter() - t)
            r.raise_for_status()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start


async def _open_loop(
    client: httpx.AsyncClient, rate: float, seconds: float
) -> tuple[list[float], int]:
    bodies = _Bodies(1)
    latencies: list[float] = []
    failed = 0
    tasks = []

    async def one(body: bytes) -> None:
        nonlocal failed
        t = time.perf_counter()
        try:
            r = await client.post(
                "/v1/score", content=body, headers={"content-type": "application/json"}
            )
        except httpx.TransportError:  # an overloaded server drops connections: count them
            failed += 1
            return
        latencies.append(time.perf_counter() - t)
        r.raise_for_status()

    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(bodies())))
    await asyncio.gather(*tasks)
    return latencies, failed


async def _in_process(requests: int, heavy: int) -> tuple[float, float]:
    """CPU ms (p50, p99) of 1-event requests through the ASGI app, after ``heavy`` 500-event ones."""
    if sys.path[0] != str(ROOT):
        sys.path.insert(0, str(ROOT))  # run as a script, bench/ would shadow the packages
    from serving.api import Settings, create_app  # noqa: PLC0415 - only when asked

    with tempfile.TemporaryDirectory(prefix="cw-bench-") as scratch:
        app = create_app(Settings(state=Path(scratch) / "state.db", model="none"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                headers = {"content-type": "application/json"}
                big, small = _Bodies(500), _Bodies(1)
                for _ in range(heavy):
                    (
                        await client.post("/v1/score", content=big(), headers=headers)
                    ).raise_for_status()
                cpu: list[float] = []
                for _ in range(requests):
                    body = small()
                    started = time.process_time()
                    answer = await client.post("/v1/score", content=body, headers=headers)
                    cpu.append(time.process_time() - started)
                    answer.raise_for_status()
    return _pct(cpu, 0.5), _pct(cpu, 0.99)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


async def _run(base: str, args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        print(
            f"{'events':>6} {'conc':>4} | {'score p50':>9} {'p99':>8} {'req/s':>7} | {'echo p50':>8} {'p99':>7} {'req/s':>7} | ratio p50 p99 thr"
        )
        for size, requests in ((1, args.requests), (500, max(8, args.requests // 10))):
            for concurrency in (1, 8, 32):
                row = {}
                for path in ("/bench/echo", "/v1/score"):
                    bodies = _Bodies(size)
                    await _closed_loop(
                        client, path, bodies, min(8, requests), concurrency, args.cap
                    )  # warm up
                    lat, elapsed = await _closed_loop(
                        client, path, bodies, requests, concurrency, args.cap
                    )
                    row[path] = (_pct(lat, 0.5), _pct(lat, 0.99), len(lat) / elapsed)
                s, e = row["/v1/score"], row["/bench/echo"]
                print(
                    f"{size:>6} {concurrency:>4} | {s[0]:>7.1f}ms {s[1]:>6.1f}ms {s[2]:>7.1f} | "
                    f"{e[0]:>6.1f}ms {e[1]:>5.1f}ms {e[2]:>7.1f} | {s[0] / e[0]:>5.1f} {s[1] / e[1]:>5.1f} {e[2] / s[2]:>5.1f}"
                )
        lat, failed = await _open_loop(client, args.rate, args.seconds)
        print(
            f"fixed rate {args.rate:.0f}/s for {args.seconds:.0f}s, 1 event: "
            f"p50 {_pct(lat, 0.5):.1f}ms p99 {_pct(lat, 0.99):.1f}ms, {failed} dropped "
            "(goal p99 < 10 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--requests", type=int, default=200, help="requests per 1-event cell (500-event: a tenth)"
    )
    parser.add_argument("--cap", type=float, default=20.0, help="seconds at most per cell")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--in-process", type=int, default=0, help="1-event requests to time in process first"
    )
    args = parser.parse_args()
    if args.in_process:
        for heavy in (0, 28):
            p50, p99 = asyncio.run(_in_process(args.in_process, heavy))
            print(
                f"in process, 1 event, {heavy * 500} events stored before: "
                f"CPU p50 {p50:.2f}ms p99 {p99:.2f}ms per request"
            )
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as scratch:
        env = {
            **os.environ,
            "CW_BENCH_STATE": str(Path(scratch) / "state.db"),
            "PYTHONPATH": str(ROOT),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "bench.serve:bench_app",
                "--host",
                HOST,
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            base = f"http://{HOST}:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start")
                time.sleep(0.1)
            asyncio.run(_run(base, args))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
