"""Time the simulator on one core: about a million events, printing events per second.

Goal: 1,000,000 events in under 60 s on one core (output on local disk).

    .venv/bin/python bench/simulate.py                 # ~1M events
    .venv/bin/python bench/simulate.py --days 14 --scale 1 --out /dev/shm/sim
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from training.simulation import simulate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--scale", type=float, default=8.5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--out", help="output directory (default: a temporary directory, removed after)"
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    out = args.out or tempfile.mkdtemp(prefix="cw-bench-sim-", dir=os.getcwd())
    if args.out and os.path.exists(out):
        shutil.rmtree(out)
    try:
        started = time.perf_counter()
        result = simulate(out, days=args.days, seed=args.seed, scale=args.scale)
        seconds = time.perf_counter() - started
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    rate = result.events / seconds
    print(
        f"simulate: {result.events:,} events ({result.reads:,} read-only, {result.writes:,} writes, "
        f"ratio {result.reads / max(1, result.writes):.1f}:1) in {result.files:,} files, "
        f"{result.bytes / 1e6:.1f} MB gzip"
    )
    print(
        f"simulate: {seconds:.1f} s, {rate:,.0f} events/s; 1M events in {1e6 / rate:.1f} s (goal < 60 s)"
    )


if __name__ == "__main__":
    main()
