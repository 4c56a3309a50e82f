"""Two checkouts of changewatch ingesting the same files, runs interleaved: before and after.

On a shared machine the load moves from one minute to the next, so a before measured
after the after is no comparison. This runs ``changewatch ingest --jobs 1`` from each
checkout in turn (the order swapped every round), with ``gzip.decompress`` of every
``.json.gz`` file (the floor of ``bench/ingest.py``) timed once a round. It prints, for each
checkout, the wall clock and CPU seconds (user + system of the process tree, by ``wait4``),
best and mean (wall, then CPU), and the ratio of the best CPU to the floor's best CPU (ADR 0061), and the
load average at the start and the end. ``--jobs 1 auto 2`` runs each checkout with each
``--jobs`` (``auto`` is the default a user gets) in every round (ADR 0064).

Run: ``python -P bench/ingest_versus.py LAYOUT_ROOT BEFORE_DIR AFTER_DIR --rounds 4``.
Each directory is a source checkout (``git archive REV | tar -x -C DIR``); it goes first
on ``PYTHONPATH``, so this venv's dependencies run either checkout's code. A layout root
is what ``bench/ingest.py`` generated, e.g. ``$TMPDIR/changewatch-bench/real-30000/AWSLogs``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def floor(paths: list[Path]) -> tuple[float, float]:
    """Wall and CPU seconds of ``gzip.decompress`` of every file, read from disk."""
    wall, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        gzip.decompress(path.read_bytes())
    return time.perf_counter() - wall, time.process_time() - cpu


def ingest(root: Path, checkout: Path, out: Path, jobs: str = "1") -> tuple[float, float]:
    """Wall and CPU seconds of ``changewatch ingest root --jobs JOBS`` run from ``checkout``."""
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    command = [sys.executable, "-P", "-m", "changewatch", "ingest", str(root)]
    command += ["--out", str(out), "--jobs", jobs]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"changewatch ingest from {checkout} failed")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("root", type=Path, help="the files to ingest (a folder)")
    parser.add_argument("checkouts", type=Path, nargs="+", help="source checkouts to compare")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--jobs", nargs="+", default=["1"], help="--jobs values to run each checkout with"
    )
    args = parser.parse_args()
    paths = sorted(args.root.rglob("*.json.gz"))
    variants = [(checkout, jobs) for checkout in args.checkouts for jobs in args.jobs]
    runs: dict[tuple[Path, str], list[tuple[float, float]]] = {variant: [] for variant in variants}
    floors = []
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            floors.append(floor(paths))
            order = variants if round_ % 2 == 0 else variants[::-1]
            for number, (checkout, jobs) in enumerate(order):
                out = Path(scratch) / f"{number}.pq"
                runs[checkout, jobs].append(ingest(args.root, checkout, out, jobs))
    floor_wall, floor_cpu = min(w for w, _ in floors), min(c for _, c in floors)
    if paths:
        print(f"gzip.decompress floor: best {floor_wall:.2f} s wall, {floor_cpu:.2f} s CPU")
    else:
        print("no .json.gz files under the root: no gzip floor, no ratios")
    for (checkout, jobs), timings in runs.items():
        wall, cpu = min(w for w, _ in timings), min(c for _, c in timings)
        mean = sum(c for _, c in timings) / len(timings)
        mean_wall = sum(w for w, _ in timings) / len(timings)
        ratios = (
            f"; {cpu / floor_cpu:.2f}x the floor's CPU, {wall / floor_wall:.2f}x its wall clock"
            if paths
            else ""
        )
        print(
            f"{checkout} --jobs {jobs}: best {wall:.2f} s wall, {cpu:.2f} s CPU "
            f"(mean {mean_wall:.2f} s, {mean:.2f} s){ratios}"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
