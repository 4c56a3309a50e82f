"""Ingestion benchmark: `changewatch ingest` against pandas.json_normalize and plain gzip.

Generates realistic CloudTrail shards in the S3 delivery layout (cached under the work
folder), then measures records per second for

* the floor: ``gzip.decompress`` of every shard and nothing else;
* the baseline: ``json.load`` + ``pandas.json_normalize`` of every record (measured on a
  sample of shards, since it is slow, and reported as a rate);
* ``changewatch ingest`` run as a user runs it (a subprocess, so start-up counts),
  with one worker and with all cores, and its peak memory.

Run: ``python bench/ingest.py`` (``make bench``); ``--records 5000000`` for the
memory goal. Prints one table and the ratios; numbers are for this machine only.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from isal import igzip

sys.path.insert(0, str(Path(__file__).parent))
from _shards import write_shards


def shards(workdir: Path, records: int) -> list[Path]:
    root = workdir / f"shards-{records}"
    marker = root / "DONE"
    if not marker.exists():
        print(f"generating {records:,} records of shards under {root} ...", file=sys.stderr)
        write_shards(root, records)
        marker.write_text("ok")
    return sorted(root.rglob("*.json.gz"))


def rate_gzip(paths: list[Path], records: int) -> float:
    started = time.perf_counter()
    for path in paths:
        gzip.decompress(path.read_bytes())
    return records / (time.perf_counter() - started)


def rate_isal(paths: list[Path], records: int) -> float:
    started = time.perf_counter()
    for path in paths:
        igzip.decompress(path.read_bytes())
    return records / (time.perf_counter() - started)


def rate_json_normalize(paths: list[Path], sample_files: int) -> tuple[float, int]:
    sample = paths[:: max(1, len(paths) // sample_files)][:sample_files]
    count = 0
    started = time.perf_counter()
    for path in sample:
        with gzip.open(path, "rt") as handle:
            items = json.load(handle)["Records"]
        pd.json_normalize(items)
        count += len(items)
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


def rate_changewatch(
    root: Path, records: int, jobs: int, workdir: Path
) -> tuple[float, float, dict[str, object]]:
    out = workdir / f"events-{jobs}.parquet"
    command = [
        sys.executable,
        "-m",
        "changewatch",
        "ingest",
        str(root),
        "--out",
        str(out),
        "--jobs",
        str(jobs),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_kb = 0
    while process.poll() is None:
        peak_kb = max(peak_kb, _tree_rss_kb(process.pid))
        time.sleep(0.1)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"changewatch ingest failed: {stderr}")
    peak_mb = peak_kb / 1024
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["records"] == records, summary
    return records / seconds, peak_mb, summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument(
        "--sample-files", type=int, default=60, help="shards for the json_normalize baseline"
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "changewatch-bench"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    paths = shards(args.workdir, args.records)
    root = paths[0].parents[6]

    floor = rate_gzip(paths, args.records)
    isal_floor = rate_isal(paths, args.records)
    baseline, sampled = rate_json_normalize(paths, args.sample_files)
    one, peak_one, summary = rate_changewatch(root, args.records, 1, args.workdir)
    cores = os.cpu_count() or 1
    many, peak_many, _ = rate_changewatch(root, args.records, cores, args.workdir)

    print(f"\ningestion of {args.records:,} CloudTrail records in {len(paths):,} .json.gz shards")
    print(f"{'what':44s} {'records/s':>12s} {'peak MB':>9s}  (all processes of the run)")
    print(f"{'gzip.decompress only (floor)':44s} {floor:12,.0f} {'':>9s}")
    print(f"{'isal igzip.decompress only (what we use)':44s} {isal_floor:12,.0f} {'':>9s}")
    print(
        f"{'json.load + pandas.json_normalize (baseline)':44s} {baseline:12,.0f} {'':>9s}  ({sampled:,} records sampled)"
    )
    print(f"{'changewatch ingest --jobs 1':44s} {one:12,.0f} {peak_one:9,.0f}")
    print(f"{f'changewatch ingest --jobs {cores}':44s} {many:12,.0f} {peak_many:9,.0f}")
    print("\nratios")
    print(f"  changewatch (1 core) / json_normalize : {one / baseline:6.1f}x")
    print(f"  changewatch (1 core) / gzip floor     : {one / floor:6.2f}  (goal >= 0.5)")
    print(f"  changewatch (1 core) / isal gzip      : {one / isal_floor:6.2f}")
    print(f"  changewatch (1 core) / 150,000 goal   : {one / 150_000:6.2f}  (goal >= 1)")
    print(f"  changewatch ({cores} cores) / (1 core)     : {many / one:6.2f}x")
    print(
        f"  kept {summary['kept']:,}, rejected {summary['rejected']:,}, duplicates {summary['duplicates']:,}"
    )


if __name__ == "__main__":
    main()
