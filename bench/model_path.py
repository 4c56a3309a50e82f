"""Benchmark: what a model adds to a one-event scoring request, CPU per request, in process.

The workload of the acceptance check ``model-latency`` (issue #14), run through the ASGI
app in this process so that CPU time can be read request by request:

* a simulated organisation (``--seed`` 31, ``--days`` 21, the simulator's defaults
  otherwise), a detector fitted on every event before its test period (saved as a bundle
  and loaded as ``changewatch serve --model <bundle>`` loads it), the organisation's change
  windows imported;
* a fresh state primed with the two days before the test period, in 500-record requests;
* then ``--requests`` one-event requests of the test period in time order (the first
  ``--warm`` not counted), on the *model* path and on the *rules* path (``--model none``),
  alternating for ``--rounds`` rounds, each on a fresh state.

It prints, per round and path, the CPU per request (p50, p90, p99, mean, ms) and the windows
returned, then the paired difference: model minus rules, request by request (the same
requests in the same order on both paths), which is what the model costs, apart from the
noise both paths share. The p50 ratio is the acceptance check's figure, by CPU rather than by
the wall clock. ``--bodies DIR`` writes every answer, to compare two checkouts byte for byte
(``cmp``); ``PYTHONPATH=<checkout>`` picks the checkout measured.

Usage::

    .venv/bin/python -P bench/model_path.py [--rounds 2] [--requests 300] [--bodies DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

PRIME_BATCH = 500


def _organisation(scratch: Path, days: int, seed: int) -> tuple[list[Any], list[Any], str]:
    """Simulate; return the records before the test period, those from its start, and that start."""
    from training.simulation import simulate  # noqa: PLC0415 - heavy, in this process only

    result = simulate(scratch / "sim", days=days, seed=seed)
    manifest = result.manifest
    start = str((manifest.get("test") or manifest["periods"]["test"])["start"])
    records: list[dict[str, Any]] = []
    for path in (scratch / "sim").rglob("*.json.gz"):
        with gzip.open(path, "rb") as handle:
            records += json.loads(handle.read())["Records"]
    records.sort(key=lambda r: r["eventTime"])
    stamp = _stamp(start)
    return (
        [r for r in records if r["eventTime"] < stamp],
        [r for r in records if r["eventTime"] >= stamp],
        stamp,
    )


def _stamp(when: str) -> str:
    """CloudTrail's form of a time (``2026-03-16T00:00:00Z``), as the check compares them."""
    moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bundle(scratch: Path, records: list[Any]) -> Path:
    """Fit a detector on ``records`` (everything before the test period); save it as a bundle."""
    from features import records_to_table  # noqa: PLC0415
    from models import ChangeDetector, save_bundle  # noqa: PLC0415

    events = records_to_table(records).table.to_pandas()
    bundle = scratch / "bundle"
    save_bundle(ChangeDetector(random_state=0).fit(events), bundle)
    return bundle


async def _one_path(
    scratch: Path, model: str, windows: Path, prime: list[Any], live: list[Any], warm: int
) -> tuple[list[float], int, list[bytes]]:
    """Prime a fresh state, then time each one-event request; CPU ms per counted request."""
    from serving.api import Settings, create_app  # noqa: PLC0415 - in this process only

    state = Path(tempfile.mkdtemp(dir=scratch)) / "state.db"
    app = create_app(Settings(state=state, model=model, windows=[windows]))
    headers = {"content-type": "application/json"}
    cpu: list[float] = []
    bodies: list[bytes] = []
    found = 0
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            for at in range(0, len(prime), PRIME_BATCH):
                body = json.dumps({"Records": prime[at : at + PRIME_BATCH]})
                answer = await client.post("/v1/score", content=body, headers=headers)
                answer.raise_for_status()
            for i, record in enumerate(live):
                body = json.dumps({"Records": [record]})
                started = time.process_time()
                answer = await client.post("/v1/score", content=body, headers=headers)
                spent = time.process_time() - started
                answer.raise_for_status()
                if i >= warm:
                    cpu.append(spent * 1000)
                    found += len(answer.json().get("windows") or [])
                    bodies.append(answer.content)
    return cpu, found, bodies


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def _line(label: str, cpu: list[float], windows: int) -> str:
    return (
        f"{label:<14} p50 {_quantile(cpu, 0.5):6.2f}  p90 {_quantile(cpu, 0.9):6.2f}  "
        f"p99 {_quantile(cpu, 0.99):6.2f}  mean {statistics.mean(cpu):6.2f} ms CPU  "
        f"windows {windows}"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=31, help="the simulated organisation's seed")
    parser.add_argument("--days", type=int, default=21, help="days simulated")
    parser.add_argument("--requests", type=int, default=300, help="one-event requests counted")
    parser.add_argument("--warm", type=int, default=20, help="requests sent first, not counted")
    parser.add_argument("--rounds", type=int, default=2, help="model/rules rounds, alternated")
    parser.add_argument("--bodies", type=Path, help="write every answer here, a file a run")
    parser.add_argument("--workdir", type=Path, help="scratch folder (a temporary one if unset)")
    return parser.parse_args()


async def _main(args: argparse.Namespace, scratch: Path) -> None:
    started = time.perf_counter()
    before, after, start = _organisation(scratch, args.days, args.seed)
    first = datetime.fromisoformat(start.replace("Z", "+00:00"))
    prime_from = _stamp((first - timedelta(days=2)).isoformat())
    prime = [r for r in before if r["eventTime"] >= prime_from]
    live = after[: args.requests + args.warm]
    bundle = _bundle(scratch, before)
    windows = scratch / "sim" / "change_windows.yaml"
    print(
        f"organisation seed {args.seed}, {args.days} days: {len(before)} events before {start}, "
        f"{len(prime)} primed, {len(live)} requests ({args.warm} not counted); "
        f"{time.perf_counter() - started:.0f}s to build"
    )
    paired: list[float] = []
    for round_ in range(1, args.rounds + 1):
        runs: dict[str, list[float]] = {}
        for label, model in (("model", str(bundle)), ("rules", "none")):
            cpu, found, bodies = await _one_path(scratch, model, windows, prime, live, args.warm)
            runs[label] = cpu
            print(_line(f"round {round_} {label}", cpu, found))
            if args.bodies:
                args.bodies.mkdir(parents=True, exist_ok=True)
                (args.bodies / f"{label}-{round_}").write_bytes(b"\n".join(bodies))
        difference = [m - r for m, r in zip(runs["model"], runs["rules"], strict=True)]
        paired += difference
        ratio = _quantile(runs["model"], 0.5) / _quantile(runs["rules"], 0.5)
        print(
            f"round {round_} model - rules, paired: median {statistics.median(difference):.2f} "
            f"mean {statistics.mean(difference):.2f} ms CPU; p50 ratio {ratio:.1f}x (goal <= 3x)"
        )
    print(
        f"all rounds, paired: median {statistics.median(paired):.2f} "
        f"mean {statistics.mean(paired):.2f} ms CPU a request"
    )


def main() -> None:
    args = _arguments()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        asyncio.run(_main(args, args.workdir))
        return
    with tempfile.TemporaryDirectory(prefix="cw-model-path-") as scratch:
        asyncio.run(_main(args, Path(scratch)))


if __name__ == "__main__":
    sys.exit(main())
