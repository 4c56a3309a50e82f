"""Ingestion benchmark: `changewatch ingest` against pandas.json_normalize and plain gzip.

Generates realistic CloudTrail in the S3 delivery layout (cached under the work folder),
in two layouts:

* **large**: files of 500 records (a busy account), ``--records`` records in all;
* **real**: the shape most trails have, one file per account and region every 5
  minutes with a handful of records each (about 7), ``--files`` files in all.

For each it measures

* the floor: ``gzip.decompress`` of every file (read from disk) and nothing else, and
  the same with ISA-L (what ingestion uses);
* the baseline: ``json.load`` + ``pandas.json_normalize`` of every record (measured on a
  sample of files, since it is slow, and reported as a rate);
* ``changewatch ingest`` run as a user runs it (a subprocess, so start-up counts),
  with one worker and with all cores, and its peak memory;

and the ratio of ingestion time to decompression time (the goal: at most 2x on one
core), by the wall clock and by CPU, both for ``--jobs 1`` and for the default ``--jobs``
a user gets (which says how many processes it chose, and why). The floor is one process:
a user decompressing the files, as the issue compares. The load average (``uptime``'s
1-minute figure) is printed at the start and the end of each layout's runs. ``--stages`` adds where one core's CPU goes, stage by stage, in this process
(reading, decompressing, sniffing and decoding, normalising and writing, start-up),
per file and per record: the profile behind the ratio. Each is timed twice:
wall-clock seconds, and CPU seconds (user + system, of every process of the run). On a
shared machine the CPU seconds move far less with the load than the wall clock does. ``--runs N`` keeps the best of N runs of each timing.

Run: ``python -P bench/ingest.py`` (``make bench``); ``--records 5000000`` for the
memory goal. Prints one table per layout and the ratios; numbers are for this machine
only.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from isal import igzip

from features import IngestOptions, ingest
from features._sources import read_source  # what ingestion does with each file

sys.path.insert(0, str(Path(__file__).parent))  # (features is imported: bench/features.py waits)
from _shards import write_real_layout, write_shards


@dataclass(frozen=True)
class Layout:
    name: str
    root: Path
    paths: list[Path]
    records: int


def large_layout(workdir: Path, records: int) -> Layout:
    root = workdir / f"shards-{records}"
    marker = root / "DONE"
    if not marker.exists():
        print(f"generating {records:,} records of shards under {root} ...", file=sys.stderr)
        write_shards(root, records)
        marker.write_text("ok")
    return Layout("large", root / "AWSLogs", sorted(root.rglob("*.json.gz")), records)


def real_layout(workdir: Path, files: int) -> Layout:
    root = workdir / f"real-{files}"
    marker = root / "DONE"
    if not marker.exists():
        print(f"generating {files:,} small files under {root} ...", file=sys.stderr)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(write_real_layout(root, files)))
    records = int(marker.read_text())
    return Layout("real", root / "AWSLogs", sorted(root.rglob("*.json.gz")), records)


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


def best(timings: list[Timing]) -> Timing:
    """The shortest wall clock and the least CPU of several runs."""
    return Timing(min(t.wall for t in timings), min(t.cpu for t in timings))


def timed(work: Callable[[], object]) -> Timing:
    started, cpu = time.perf_counter(), time.process_time()
    work()
    return Timing(time.perf_counter() - started, time.process_time() - cpu)


def decompress_all(paths: list[Path], decompress: Callable[[bytes], bytes]) -> None:
    for path in paths:
        decompress(path.read_bytes())


def rate_json_normalize(paths: list[Path], records: int, sample_records: int) -> tuple[float, int]:
    count = 0
    started = time.perf_counter()
    step = max(1, records // sample_records)  # about sample_records records, evenly spread
    for path in paths[::step]:
        with gzip.open(path, "rt") as handle:
            items = json.load(handle)["Records"]
        pd.json_normalize(items)
        count += len(items)
        if count >= sample_records:
            break
    return count / (time.perf_counter() - started), count


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found.extend(int(child) for child in children.read().split())
    except OSError:
        pass
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except OSError:
        return 0


def _tree_rss_kb(root_pid: int) -> int:
    """Resident memory of a process and all its descendants (joblib workers), in kB.

    Walks the process's own children lists rather than all of ``/proc``: the poller
    shares the machine with the run it measures, so it must cost next to nothing.
    """
    total, pending = 0, [root_pid]
    while pending:
        pid = pending.pop()
        total += _rss_kb(pid)
        pending.extend(_children(pid))
    return total


def run_changewatch(
    layout: Layout, jobs: int | None, workdir: Path
) -> tuple[Timing, float, dict[str, object]]:
    """Time, peak MB of the process tree, and the summary of one ``changewatch ingest``.

    ``jobs=None`` runs it with the default ``--jobs`` (auto), as a user would.
    """
    out = workdir / f"events-{layout.name}-{jobs or 'auto'}.parquet"
    command = [sys.executable, "-m", "changewatch", "ingest", str(layout.root), "--out", str(out)]
    command += ["--jobs", str(jobs)] if jobs else []
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:  # a file, not a pipe: it never fills up
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        peak_kb = 0
        while True:  # wait4 gives the CPU time of the run and of the workers it reaped
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, _tree_rss_kb(process.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout, _ = process.communicate()
        if process.returncode:
            errors.seek(0)
            raise SystemExit(f"changewatch ingest failed: {errors.read()}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["records"] == layout.records, summary
    return Timing(seconds, usage.ru_utime + usage.ru_stime), peak_kb / 1024, summary


def _read_sources(paths: list[Path]) -> None:
    for path in paths:
        for _ in read_source(str(path)):
            pass


def _ingest_here(layout: Layout, workdir: Path) -> None:
    out = workdir / f"events-{layout.name}-stages.parquet"
    report = ingest([layout.root], out, options=IngestOptions(jobs=1))
    assert report.records == layout.records, report


def _start_up(layout: Layout, workdir: Path) -> float:
    """CPU seconds of ``changewatch ingest`` of one file: start-up and the fixed costs."""
    one = workdir / f"one-{layout.name}"
    one.mkdir(exist_ok=True)
    (one / layout.paths[0].name).write_bytes(layout.paths[0].read_bytes())
    command = [sys.executable, "-m", "changewatch", "ingest", str(one)]
    command += ["--out", str(workdir / "one.parquet"), "--jobs", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(process.pid, 0)
    return float(usage.ru_utime + usage.ru_stime)


def bench_stages(layout: Layout, workdir: Path, runs: int) -> None:
    """Print where one core's CPU goes, stage by stage (best of ``runs``, this process)."""

    def cpu(work: Callable[[], object]) -> float:
        return best([timed(work) for _ in range(runs)]).cpu

    read = cpu(lambda: decompress_all(layout.paths, lambda data: data))
    unzipped = cpu(lambda: decompress_all(layout.paths, igzip.decompress))
    decoded = cpu(lambda: _read_sources(layout.paths))
    whole = cpu(lambda: _ingest_here(layout, workdir))
    start_up = min(_start_up(layout, workdir) for _ in range(runs))
    files, records = len(layout.paths), layout.records
    print(f"where one core's CPU goes ({layout.name} layout, in this process, best of {runs})")
    print(f"  {'stage':44s} {'cpu s':>7s} {'us/file':>8s} {'us/record':>10s}")
    stages = [
        ("read the files", read),
        ("decompress (igzip)", unzipped - read),
        ("sniff, bound and decode (read_source)", decoded - unzipped),
        ("normalise, account, write Parquet", whole - decoded),
        ("start-up of the command (one file)", start_up),
    ]
    for what, seconds in stages:
        print(
            f"  {what:44s} {seconds:7.2f} {seconds / files * 1e6:8.1f} "
            f"{seconds / records * 1e6:10.2f}"
        )


def bench_jobs(layout: Layout, workdir: Path, runs: int) -> None:
    """Where workers pay for themselves: ``--jobs 1``, ``--jobs <cores>`` and the default."""
    cores = os.cpu_count() or 1
    size = sum(path.stat().st_size for path in layout.paths)
    print(
        f"\n{layout.name} layout, {len(layout.paths):,} files, {size / 1e6:,.1f} MB, "
        f"{layout.records:,} records: best of {runs}, load {os.getloadavg()[0]:.1f}"
    )
    for jobs in (1, cores, None):
        timings = [run_changewatch(layout, jobs, workdir) for _ in range(runs)]
        timing, summary = best([t for t, _, _ in timings]), timings[0][2]
        print(
            f"  --jobs {jobs or 'auto':4} {timing.wall:7.2f} s {timing.cpu:7.2f} cpu s  "
            f"{summary['processes']} process(es): {summary['processes_reason']}"
        )


def bench_layout(layout: Layout, workdir: Path, runs: int) -> None:
    """Measure one layout and print its table and ratios."""
    records = layout.records
    load_before = os.getloadavg()[0]
    floor = best(
        [timed(lambda: decompress_all(layout.paths, gzip.decompress)) for _ in range(runs)]
    )
    isal_floor = best(
        [timed(lambda: decompress_all(layout.paths, igzip.decompress)) for _ in range(runs)]
    )
    baseline, sampled = rate_json_normalize(layout.paths, records, 30_000)
    cores = os.cpu_count() or 1
    measured = {}
    for jobs in (1, cores, None):
        runs_of = [run_changewatch(layout, jobs, workdir) for _ in range(runs)]
        measured[jobs] = (
            best([timing for timing, _, _ in runs_of]),
            min(peak for _, peak, _ in runs_of),
            runs_of[0][2],
        )
    one, peak_one, summary = measured[1]
    many, peak_many, _ = measured[cores]
    default, peak_default, default_summary = measured[None]
    size = sum(path.stat().st_size for path in layout.paths)

    print(
        f"\n{layout.name} layout: {records:,} CloudTrail records in {len(layout.paths):,} "
        f".json.gz files ({records / len(layout.paths):,.1f} a file, {size / 1e6:,.1f} MB), "
        f"best of {runs}; load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print(f"{'what':44s} {'seconds':>8s} {'cpu s':>7s} {'records/s':>12s} {'peak MB':>9s}")
    rows = [
        ("gzip.decompress only (floor)", floor, None),
        ("isal igzip.decompress only (what we use)", isal_floor, None),
        ("changewatch ingest --jobs 1", one, peak_one),
        (f"changewatch ingest --jobs {cores}", many, peak_many),
        (f"changewatch ingest (default: {default_summary['processes']})", default, peak_default),
    ]
    for what, timing, peak in rows:
        memory = f"{peak:9,.0f}" if peak is not None else f"{'':>9s}"
        rate = records / timing.wall
        print(f"{what:44s} {timing.wall:8.2f} {timing.cpu:7.2f} {rate:12,.0f} {memory}")
    normalize = records / baseline
    print(
        f"{'json.load + pandas.json_normalize (baseline)':44s} {normalize:8.2f} {'':>7s} {baseline:12,.0f}"
    )
    print(f"  (json_normalize: {sampled:,} records sampled, its time extrapolated)")
    print("ratios of time (wall clock; CPU in brackets)")
    print(
        f"  changewatch (1 core) / gzip floor     : {one.wall / floor.wall:6.2f}x "
        f"({one.cpu / floor.cpu:.2f}x)  (goal <= 2)"
    )
    print(
        f"  changewatch ({cores} cores) / gzip floor    : {many.wall / floor.wall:6.2f}x "
        f"({many.cpu / floor.cpu:.2f}x)"
    )
    processes = default_summary["processes"]
    print(
        f"  changewatch (default, {processes} process{'es' * (processes != 1)}) / gzip floor: "
        f"{default.wall / floor.wall:6.2f}x ({default.cpu / floor.cpu:.2f}x)  "
        "(what a user sees: the wall clock)"
    )
    print(
        f"  changewatch (1 core) / isal floor     : {one.wall / isal_floor.wall:6.2f}x "
        f"({one.cpu / isal_floor.cpu:.2f}x)"
    )
    print(f"  json_normalize / changewatch (1 core) : {normalize / one.wall:6.1f}x")
    print(
        f"  records/s (1 core) / 150,000 goal     : {records / one.wall / 150_000:6.2f}  (goal >= 1)"
    )
    print(f"  default --jobs: {default_summary['processes_reason']}")
    print(
        f"  kept {summary['kept']:,}, rejected {summary['rejected']:,}, "
        f"duplicates {summary['duplicates']:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--layout", choices=["large", "real", "both"], default="both")
    parser.add_argument("--records", type=int, default=1_000_000, help="records, large layout")
    parser.add_argument("--files", type=int, default=30_000, help="files, real layout")
    parser.add_argument("--runs", type=int, default=1, help="keep the best of N runs")
    parser.add_argument("--stages", action="store_true", help="also CPU by stage, per file")
    parser.add_argument(
        "--jobs-only",
        action="store_true",
        help="only changewatch ingest with --jobs 1, all cores and the default (break-even)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "changewatch-bench"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    layouts = []
    if args.layout in ("large", "both"):
        layouts.append(large_layout(args.workdir, args.records))
    if args.layout in ("real", "both"):
        layouts.append(real_layout(args.workdir, args.files))
    for layout in layouts:
        if args.jobs_only:
            bench_jobs(layout, args.workdir, args.runs)
            continue
        bench_layout(layout, args.workdir, args.runs)
        if args.stages:
            bench_stages(layout, args.workdir, args.runs)


if __name__ == "__main__":
    main()
