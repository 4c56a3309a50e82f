"""Time the simulator on one core, per organisation, printing events per second.

Goal: 1,000,000 events in under 60 s on one core (output on local disk). Baseline:
the simulator before the real-shaped organisation (ADR 0031), 32,359 events/s on this
machine (46,000 on a quiet one) for the default bench below.

    .venv/bin/python bench/simulate.py                       # ~1M events, small organisation
    .venv/bin/python bench/simulate.py --org large --scale 6  # ~1M events, large organisation
    .venv/bin/python bench/simulate.py --days 35 --scale 1    # the default run (acceptance check)
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from training.simulation import simulate

BASELINE_EVENTS_PER_SECOND = 32_359
"""Before ADR 0031: ``--days 35 --scale 8.5`` of the old default organisation, same machine."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--org", default="small", choices=("small", "large"))
    parser.add_argument("--scale", type=float, default=4.0)
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
        cpu = time.process_time()
        result = simulate(out, days=args.days, seed=args.seed, scale=args.scale, org=args.org)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    rate = result.events / seconds
    print(
        f"simulate --org {args.org} --days {args.days} --scale {args.scale}: "
        f"{result.events:,} events ({result.reads:,} read-only, {result.writes:,} writes, "
        f"ratio {result.reads / max(1, result.writes):.1f}:1) in {result.files:,} files, "
        f"{result.bytes / 1e6:.1f} MB gzip"
    )
    print(
        f"simulate: {seconds:.1f} s wall ({cpu:.1f} s CPU), {rate:,.0f} events/s "
        f"({rate / BASELINE_EVENTS_PER_SECOND:.2f}x the baseline's {BASELINE_EVENTS_PER_SECOND:,}); "
        f"1M events in {1e6 / rate:.1f} s (goal < 60 s)"
    )


if __name__ == "__main__":
    main()
