"""Latency and throughput of ``POST /v1/score`` against a bare echo route on the same uvicorn.

Each part starts one uvicorn on 127.0.0.1 (a subprocess, ``--loop auto --http auto``:
uvloop and httptools when installed; the line ``server:`` says what it got) serving
``create_app`` plus a ``POST /bench/echo`` route that returns the body length, and prints
p50/p99 latency and throughput of both routes and their ratios. Bounded: a fixed number of
requests and a time cap per cell (open loops too: what is unanswered after the cap counts
as dropped); loopback only.

* ``realistic`` (the goal's measurement): a simulated organisation (``training.simulation``,
  3 accounts, 2 regions, about 4,200 events a day, its change windows and automation
  allow-list imported); the state holds the days before the replayed one (retention
  applied: about 15,000 events of 40 identities); requests replay that day's events in
  time order, one per request, closed loop at ``--conc`` (1 and 8), then an open loop at
  ``--rate`` requests/s for ``--seconds`` (goal: p99 under 10 ms at 200/s, 0 errors; the
  answers are counted by status, so a 503 of the bounded queue shows; several rates,
  ``--rate 200,60,40,20``, sweep them and name the highest at which every answer was a
  200). The open loop sends with a lean HTTP/1.1 client (``bench/_overload.py``; httpx
  used 79% of a core at 200/s and measured itself, ADR 0063), counts latency from each
  request's scheduled send, and reports the client's CPU and lag and the server's own
  time (``Server-Timing``), so the figures are the server's. When the day is used
  up, it is replayed again one day later (new event ids), so ``--conc "" --seconds 60`` is
  the load run of issue #16. A last table gives the model path over the rules path, cell by
  cell (goal: p50 at most 3x), and each path's p50 over the echo route's. The replayed
  day is an ordinary weekday, or with ``--attack-day`` the day holding every attack
  scenario (a stress case: a day's attacks arrive within seconds). It runs twice on
  copies of the same state: the *rules* path (``--model none``) and the *model* path
  (a ``models.ChangeDetector`` trained on every simulated day before the replayed one,
  saved as a bundle and loaded by the service, as ``changewatch serve --model`` does).
  ``--paths rules`` or ``--paths model`` runs one of them.
* ``overload`` (not run by default): ``--overload-size``-record requests at three times
  the sustainable rate for ``--overload-seconds``: every request must get 200 within 5 s
  or an immediate 503 with ``Retry-After`` (``bench/_overload.py``).
* ``synthetic``: 1-event and 500-event requests of one ``CreateSnapshot`` by 50 users at
  one instant at concurrency 1, 8 and 32, then the open loop: the worst case, where every
  stored event is a compute change at the same moment and every request re-judges 280.

``--in-process N`` first measures the CPU time of N 1-event requests sent to the app
through ``httpx.ASGITransport`` (no sockets, no client on the same cores), on a fresh
state, on the synthetic one and on the realistic one: less noisy on a shared machine.

    .venv/bin/python -P bench/serve.py [--requests 200] [--rate 200] [--seconds 10]
        [--in-process 300] [--parts realistic,synthetic,overload] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
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
Bodies = Callable[[], bytes]
RESULTS: dict[tuple[str, int, str], tuple[float, float, float, float]] = {}
"""p50 ms, p99 ms, throughput (req/s) and p50 over the echo route's, per (path, size, cell)."""
WHO: dict[str, Any] = RECORD["userIdentity"]
ARN = "arn:aws:iam::111122223333:user/u"


def bench_app() -> Any:
    from serving.api import Settings, create_app  # noqa: PLC0415 - only in the server process

    state = Path(os.environ["CW_BENCH_STATE"])
    if os.environ.get("CW_BENCH_GC"):
        _report_gc_pauses(float(os.environ["CW_BENCH_GC"]))
    app = create_app(Settings(state=state, model=os.environ.get("CW_BENCH_MODEL", "none")))

    @app.post("/bench/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.get("/bench/runtime")
    async def runtime() -> dict[str, str]:
        loop = type(asyncio.get_running_loop())
        http = "httptools" if "uvicorn.protocols.http.httptools_impl" in sys.modules else "h11"
        return {"loop": f"{loop.__module__}.{loop.__name__}", "http": http}

    return app


def _report_gc_pauses(over: float) -> None:
    """Print every garbage collection longer than ``over`` seconds (``CW_BENCH_GC=0.05``)."""
    import gc  # noqa: PLC0415 - a diagnosis, only when asked

    began = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        elif (took := time.perf_counter() - began[0]) > over:
            print(f"gc generation {info['generation']}: {took * 1e3:.0f} ms", file=sys.stderr)

    gc.callbacks.append(timed)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class _Synthetic:
    """Bodies of ``size`` CreateSnapshot records of 50 users, all at one instant."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.n = 0

    def __call__(self) -> bytes:
        self.n += self.size
        records = [
            {
                **RECORD,
                "eventID": f"bench-{self.size}-{n}",
                "userIdentity": {**WHO, "arn": f"{ARN}{n % 50}"},
            }
            for n in range(self.n - self.size + 1, self.n + 1)
        ]
        return json.dumps({"Records": records}).encode()


class _Replay:
    """Bodies of one record each, the next of a time-ordered stream every call.

    When the stream is used up it starts again one day later (each record's ``eventTime``
    a day on, its ``eventID`` suffixed): the organisation repeats its day, so a long load
    run sends new events in time order rather than resends.
    """

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._records = records
        self._round = 0
        self._next: Iterator[dict[str, Any]] = iter(records)

    def _again(self) -> Iterator[dict[str, Any]]:
        self._round += 1
        later = timedelta(days=self._round)
        for record in self._records:
            moment = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")) + later
            yield {
                **record,
                "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventID": f"{record['eventID']}-day{self._round}",
            }

    def __call__(self) -> bytes:
        record = next(self._next, None)
        if record is None:
            self._next = self._again()
            record = next(self._next)
        return json.dumps({"Records": [record]}).encode()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3 if ordered else 0.0


async def _post(client: httpx.AsyncClient, path: str, body: bytes) -> None:
    answer = await client.post(path, content=body, headers={"content-type": "application/json"})
    answer.raise_for_status()


async def _closed_loop(
    client: httpx.AsyncClient, path: str, bodies: Bodies, requests: int, conc: int, cap: float
) -> tuple[list[float], float]:
    latencies: list[float] = []
    todo = iter(range(requests))
    deadline = time.perf_counter() + cap

    async def worker() -> None:
        for _ in todo:
            if time.perf_counter() > deadline:
                return
            body = bodies()
            started = time.perf_counter()
            await _post(client, path, body)
            latencies.append(time.perf_counter() - started)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return latencies, time.perf_counter() - start


HEADER = "events conc | score p50      p99   req/s | echo p50     p99   req/s | ratio p50 p99 thr"


async def _cell(
    client: httpx.AsyncClient,
    score: Bodies,
    echo: Bodies,
    size: int,
    conc: int,
    args: Any,
    label: str = "",
) -> None:
    requests = args.requests if size == 1 else max(8, args.requests // 10)
    row = {}
    for path, bodies in (("/bench/echo", echo), ("/v1/score", score)):
        await _closed_loop(client, path, bodies, min(8, requests), conc, args.cap)  # warm up
        lat, elapsed = await _closed_loop(client, path, bodies, requests, conc, args.cap)
        row[path] = (_pct(lat, 0.5), _pct(lat, 0.99), len(lat) / elapsed)
    s, e = row["/v1/score"], row["/bench/echo"]
    RESULTS[(label.strip(), size, f"c={conc}")] = (*s, s[0] / e[0])
    print(
        f"{label}{size:>6} {conc:>4} | {s[0]:>7.1f}ms {s[1]:>6.1f}ms {s[2]:>7.1f} | "
        f"{e[0]:>6.1f}ms {e[1]:>5.1f}ms {e[2]:>7.1f} | "
        f"{s[0] / e[0]:>5.1f} {s[1] / e[1]:>5.1f} {e[2] / s[2]:>5.1f}"
    )


async def _fixed_rate(
    client: httpx.AsyncClient, bodies: Bodies, echo: Bodies, args: Any, label: str = ""
) -> None:
    """The open loop at each of ``args.rate`` (requests/s) in turn, then the highest rate met."""
    from bench._overload import describe, open_loop  # noqa: PLC0415 - after sys.path has the root

    met: list[float] = []
    served: list[float] = []
    for rate in args.rate:
        echoed: list[float] = []
        for _ in range(50):  # the echo route at the same pace, briefly, for the ratio
            started = time.perf_counter()
            await _post(client, "/bench/echo", echo())
            echoed.append(time.perf_counter() - started)
            await asyncio.sleep(1 / rate)
        load_before = _load()
        load = await open_loop(str(client.base_url), bodies, rate, args.seconds, args.cap, 512)
        ok = load.latency.get(200, [])
        p50, p99, e50 = _pct(ok, 0.5), _pct(ok, 0.99), _pct(echoed, 0.5)
        every = not load.errors() and not load.statuses.get(503)
        good = p99 < _GOAL_MS and every
        met += [rate] if good else []
        served += [rate] if every else []
        RESULTS[(label.strip(), 1, f"{rate:.0f}/s")] = (p50, p99, len(ok) / args.seconds, p50 / e50)
        print(
            f"{label}fixed rate {rate:.0f}/s for {args.seconds:.0f}s, 1 event "
            f"(load average {load_before}): p50 {p50:.1f}ms p99 {p99:.1f}ms; echo p50 "
            f"{e50:.1f}ms, ratio p50 {p50 / e50:.1f} (goal p99 < {_GOAL_MS:.0f} ms, every answer "
            f"a 200: {'met' if good else 'NOT met'})"
        )
        print(describe(load))
    if len(args.rate) > 1:
        print(
            f"{label}highest rate with every answer a 200: "
            f"{f'{max(served):.0f}/s' if served else 'none'}; with that and p99 < "
            f"{_GOAL_MS:.0f} ms: {f'{max(met):.0f}/s' if met else 'none'}"
        )


def _ratios() -> None:
    """Print the model path's figures over the rules path's, cell by cell (goal: p50 <= 3x)."""
    cells = sorted(
        {key[1:] for key in RESULTS if key[0] == "model" and ("rules", *key[1:]) in RESULTS}
    )
    if not cells:
        return
    print("model / rules, same run: cell      p50    p99   req/s | model p50 / echo p50")
    for size, cell in cells:
        m, r = RESULTS[("model", size, cell)], RESULTS[("rules", size, cell)]
        print(
            f"{'':>24}{cell:>8} {m[0] / r[0]:>6.1f}x {m[1] / r[1]:>5.1f}x {m[2] / r[2]:>6.2f}x"
            f" | {m[3]:>5.1f}x (rules {r[3]:.1f}x)"
        )


@contextlib.contextmanager
def _server(state: Path, workers: int, model: str = "none") -> Iterator[str]:
    """One uvicorn (``workers`` processes) serving ``bench_app`` on ``state``; yields its URL."""
    port = _free_port()
    env = {
        **os.environ,
        "CW_BENCH_STATE": str(state),
        "CW_BENCH_MODEL": model,
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench.serve:bench_app"]
    command += ["--host", HOST, "--port", str(port), "--loop", "auto", "--http", "auto"]
    command += ["--log-level", "warning", "--no-access-log", "--workers", str(workers)]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        base = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.1)
        runtime = httpx.get(f"{base}/bench/runtime").json()
        print(f"server: {workers} process(es), loop {runtime['loop']}, http {runtime['http']}")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


_CONNECTIONS = 64
_GOAL_MS = 10.0
"""p99 of the 200s at a steady rate (issue 14 and 16)."""


def _client(base: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=_CONNECTIONS, max_keepalive_connections=_CONNECTIONS)
    return httpx.AsyncClient(base_url=base, timeout=120, limits=limits)


async def _synthetic(base: str, args: Any) -> None:
    async with _client(base) as client:
        print(HEADER)
        for size in (1, 500):
            for conc in args.conc:
                await _cell(client, _Synthetic(size), _Synthetic(size), size, conc, args)
        await _fixed_rate(client, _Synthetic(1), _Synthetic(1), args)


async def _realistic(base: str, replay: list[dict[str, Any]], args: Any, label: str) -> None:
    stream, echo = _Replay(replay), _Replay(replay)  # the echo route gets the same bodies
    async with _client(base) as client:
        print(" " * len(label) + HEADER)
        for conc in args.conc:
            await _cell(client, stream, echo, 1, conc, args, label)
        await _fixed_rate(client, stream, echo, args, label)


def _organisation(
    scratch: Path, days: int, attacks: bool
) -> tuple[list[Any], list[Any], list[Path]]:
    """Simulate; return the records before the replayed day, those of that day, the policy.

    The replayed day is the last one before the test period (an ordinary day) or, with
    ``attacks``, the last day, which holds every attack scenario of the simulator.
    """
    from training.simulation import simulate  # noqa: PLC0415 - heavy, only when asked

    result = simulate(scratch / "sim", days=days, seed=7, test_days=1, attacks="all")
    records: list[dict[str, Any]] = []
    for path in (scratch / "sim" / "AWSLogs").rglob("*.json.gz"):
        with gzip.open(path, "rb") as handle:
            records += json.loads(handle.read())["Records"]
    records.sort(key=lambda r: (r["eventTime"], r["eventID"]))
    test = str(result.manifest["test"]["start"])[:10]
    day = test if attacks else (date.fromisoformat(test) - timedelta(days=1)).isoformat()
    before = [r for r in records if r["eventTime"] < day]
    replay = [r for r in records[len(before) :] if r["eventTime"][:10] == day]
    policy = [scratch / "sim" / "change_windows.yaml", scratch / "sim" / "automation.yaml"]
    return before, replay, policy


def _train(scratch: Path, records: list[Any]) -> Path:
    """Fit a detector on ``records`` (the days before the replayed one); save it as a bundle."""
    from features import records_to_table  # noqa: PLC0415 - in the bench process only
    from models import ChangeDetector, save_bundle  # noqa: PLC0415

    events = records_to_table(records).table.to_pandas()
    bundle = scratch / "bundle"
    save_bundle(ChangeDetector(random_state=0).fit(events), bundle)
    return bundle


def _warm_state(path: Path, records: list[Any], policy: list[Path]) -> int:
    """Store ``records`` (in delivery-sized chunks) and import the policy; returns events kept."""
    from features import records_to_table  # noqa: PLC0415 - in the bench process only
    from models.scoring import PolicyFile, read_yaml_model  # noqa: PLC0415
    from serving._state import StateStore  # noqa: PLC0415
    from serving.api.routes.policy import policy_items  # noqa: PLC0415

    store = StateStore(path)  # the files are valid: put_objects validates them together
    store.put_objects(
        i for p in policy for i in policy_items(read_yaml_model(PolicyFile, p).resolved())
    )
    for at in range(0, len(records), 2000):
        store.admit(records_to_table(records[at : at + 2000]).table)
    kept = store.event_count()
    store.close()
    return kept


async def _in_process(
    state: Path, bodies: Bodies, requests: int, heavy: int, model: str = "none"
) -> tuple[float, float]:
    """CPU ms (p50, p99) of 1-event requests through the ASGI app, after ``heavy`` 500-event ones."""
    from serving.api import Settings, create_app  # noqa: PLC0415 - only when asked

    app = create_app(Settings(state=state, model=model))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            big = _Synthetic(500)
            for _ in range(heavy):
                await _post(client, "/v1/score", big())
            cpu: list[float] = []
            for _ in range(requests):
                body = bodies()
                started = time.process_time()
                await _post(client, "/v1/score", body)
                cpu.append(time.process_time() - started)
    return _pct(cpu, 0.5), _pct(cpu, 0.99)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    add = parser.add_argument
    add("--requests", type=int, default=200, help="per 1-event cell (500-event: a tenth)")
    add("--cap", type=float, default=20.0, help="seconds at most per cell")
    add("--rate", default="200", help="open-loop requests/s; several (200,60,40,20): a sweep")
    add("--seconds", type=float, default=10.0)
    add("--days", type=int, default=16, help="simulated days (realistic part; >= 9 to train)")
    add("--attack-day", action="store_true", help="replay the day of every attack scenario")
    add("--in-process", type=int, default=0, help="1-event requests to time in process first")
    add("--parts", default="realistic,synthetic")
    add("--paths", default="rules,model", help="realistic part: rules, model or both")
    add("--conc", default="1,8", help="closed-loop concurrencies, e.g. 1,8,32")
    add("--workers", type=int, default=1, help="uvicorn worker processes")
    add("--overload-size", type=int, default=1000, help="records a request (overload part)")
    add("--overload-seconds", type=float, default=20.0, help="seconds at 3x (overload part)")
    args = parser.parse_args()
    args.conc = [int(c) for c in args.conc.split(",") if c]
    args.rate = [float(r) for r in args.rate.split(",") if r]
    return args


async def _overloaded(base: str, args: Any) -> None:
    from bench._overload import overload  # noqa: PLC0415 - after sys.path has the root

    async with _client(base) as client:
        await overload(client, RECORD, args)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    args = _arguments()
    if sys.path[0] != str(ROOT):
        sys.path.insert(0, str(ROOT))  # run as a script, bench/ would shadow the packages
    parts = args.parts.split(",")
    paths = args.paths.split(",")
    print(f"load average at start: {_load()}")
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as name:
        scratch = Path(name)
        bundle = "none"
        if "realistic" in parts:
            started = time.perf_counter()
            before, replay, policy = _organisation(scratch, args.days, args.attack_day)
            kept = _warm_state(scratch / "realistic.db", before, policy)
            bundle = str(_train(scratch, before)) if "model" in paths else "none"
            print(
                f"realistic state: {kept} events kept of {len(before)} simulated before the "
                f"replayed day ({replay[0]['eventTime'][:10]}, {len(replay)} events"
                f"{', every attack scenario' if args.attack_day else ''}), policy imported, "
                f"{'model trained on them, ' if 'model' in paths else ''}"
                f"{time.perf_counter() - started:.0f}s to build"
            )
        if args.in_process:
            cases: list[tuple[str, Path, Bodies, int]] = [
                ("fresh state", scratch / "fresh.db", _Synthetic(1), 0),
                ("synthetic, 14000 events stored", scratch / "heavy.db", _Synthetic(1), 28),
            ]
            for path in paths if "realistic" in parts else []:
                copy_ = scratch / f"realistic-{path}-copy.db"
                copy_.write_bytes((scratch / "realistic.db").read_bytes())
                cases.append((f"realistic state, replay, {path}", copy_, _Replay(replay), 0))
            for label, state, bodies, heavy in cases:
                model = bundle if label.endswith("model") else "none"
                cpu = _in_process(state, bodies, args.in_process, heavy, model)
                p50, p99 = asyncio.run(cpu)
                print(f"in process, 1 event, {label}: CPU p50 {p50:.2f}ms p99 {p99:.2f}ms")
        if "realistic" in parts:
            print("-- realistic: replayed organisation, 1 event per request")
            for path in paths:
                state = scratch / f"realistic-{path}.db"
                state.write_bytes((scratch / "realistic.db").read_bytes())
                model = "none" if path == "rules" else bundle
                with _server(state, args.workers, model) as base:
                    asyncio.run(_realistic(base, replay, args, f"{path:<6}"))
            _ratios()
        if "synthetic" in parts:
            print("-- synthetic: CreateSnapshot by 50 users at one instant")
            with _server(scratch / "synthetic.db", args.workers) as base:
                asyncio.run(_synthetic(base, args))
        if "overload" in parts:
            print("-- overload: 3x the sustainable rate of large batches (ADR 0041)")
            with _server(scratch / "overload.db", args.workers) as base:
                asyncio.run(_overloaded(base, args))
    print(f"load average at end: {_load()}")


if __name__ == "__main__":
    main()
