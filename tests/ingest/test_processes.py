"""How many processes an ingestion runs in: workers only where they pay for themselves.

Workers cost start-up CPU and the parent joins their parts (ADR 0053, 0064), so the
default ``--jobs`` keeps small inputs in one process; an explicit ``--jobs N`` is kept.
These tests read what the summary says, never the clock.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from changewatch.cli import cli
from features import IngestOptions, ingest
from features._report import WORKER_BYTES
from features._task import Processes, choose_processes, cores_available, in_workers

MIB = 1 << 20
TWO_CORES = pytest.mark.skipif(cores_available() < 2, reason="needs two cores")


def _trail(make: Any, folder: Path, files: int = 4, per_file: int = 50) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        items = [
            make(eventID=f"id-{index}-{n}", eventTime=f"2026-03-02T10:{n % 60:02d}:00Z")
            for n in range(per_file)
        ]
        body = json.dumps({"Records": items}).encode()
        (folder / f"f{index:02d}.json.gz").write_bytes(gzip.compress(body, mtime=0))
    return folder


def _sparse(folder: Path, sizes_mib: list[int]) -> list[str]:
    """Files of the given stored sizes, made in no time (the decision reads sizes only)."""
    paths = []
    for index, size in enumerate(sizes_mib):
        path = folder / f"s{index}.json.gz"
        with open(path, "wb") as file:
            file.truncate(size * MIB)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize(
    ("sizes_mib", "cores", "count", "why"),
    [
        ([1], 2, 1, "under 2 x 64 MiB (a worker's share)"),
        ([60, 60], 2, 1, "under 2 x 64 MiB (a worker's share)"),
        ([64, 64], 2, 2, "2 workers of at least 64 MiB each"),
        ([100] * 4, 2, 2, "2 workers of at least 64 MiB each"),
        ([100] * 4, 4, 4, "4 workers of at least 64 MiB each"),
        ([70] * 3, 4, 3, "3 workers of at least 64 MiB each"),
        ([100] * 4, 1, 1, "1 core"),
        ([300], 2, 1, "1 file"),
    ],
    ids=["tiny", "below", "at", "capped by 2 cores", "4 cores", "3 of 4", "1 core", "1 file"],
)
def test_the_default_starts_a_worker_per_64_mib_up_to_the_cores_and_files(
    tmp_path: Path, sizes_mib: list[int], cores: int, count: int, why: str
) -> None:
    chosen = choose_processes(_sparse(tmp_path, sizes_mib), None, cores=cores)
    size, files = sum(sizes_mib) * MIB / 1e6, len(sizes_mib)
    assert chosen == Processes(
        count, f"default: {size:,.1f} MB in {files} file{'s' * (files > 1)}, {why}"
    )


@pytest.mark.parametrize(
    ("jobs", "strict", "stdin", "count", "reason"),
    [
        (3, False, False, 3, "--jobs 3 asked for"),
        (1, False, False, 1, "--jobs 1 asked for"),
        (None, True, False, 1, "--strict reads in one process, in input order"),
        (2, True, False, 1, "--strict reads in one process, in input order"),
        (2, False, True, 1, "standard input is read in one process"),
    ],
)
def test_an_explicit_jobs_is_kept_and_strict_or_stdin_read_in_one_process(
    tmp_path: Path, jobs: int | None, strict: bool, stdin: bool, count: int, reason: str
) -> None:
    sources = _sparse(tmp_path, [300]) + (["-"] if stdin else [])
    assert choose_processes(sources, jobs, strict=strict, cores=2) == Processes(count, reason)


def test_the_threshold_is_the_one_options_default_to() -> None:
    assert IngestOptions().worker_bytes == WORKER_BYTES == 64 * MIB


def test_a_small_input_runs_in_one_process_by_default(make: Any, tmp_path: Path) -> None:
    report = ingest(
        [_trail(make, tmp_path / "t")], tmp_path / "e.parquet", options=IngestOptions(jobs=None)
    )
    summary = report.to_json()
    assert (summary["processes"], summary["records"]) == (1, 200)
    assert summary["processes_reason"].startswith("default: ")
    assert summary["processes_reason"].endswith("under 2 x 64 MiB (a worker's share)")


@TWO_CORES
def test_an_input_above_the_threshold_runs_in_workers_with_the_same_table(
    make: Any, tmp_path: Path
) -> None:
    trail = _trail(make, tmp_path / "t", files=8)
    small = max(1, sum(p.stat().st_size for p in trail.iterdir()) // 3)
    parallel = ingest(
        [trail], tmp_path / "p.parquet", options=IngestOptions(jobs=None, worker_bytes=small)
    )
    one = ingest([trail], tmp_path / "o.parquet", options=IngestOptions(jobs=1))
    assert parallel.processes == 2
    assert parallel.processes_reason.endswith(f"2 workers of at least {small / MIB:g} MiB each")
    assert (one.processes, one.processes_reason) == (1, "--jobs 1 asked for")
    assert pq.read_table(tmp_path / "p.parquet").equals(pq.read_table(tmp_path / "o.parquet"))


@TWO_CORES
def test_an_explicit_jobs_runs_workers_on_a_small_input(make: Any, tmp_path: Path) -> None:
    report = ingest(
        [_trail(make, tmp_path / "t")], tmp_path / "e.parquet", options=IngestOptions(jobs=2)
    )
    assert (report.processes, report.processes_reason) == (2, "--jobs 2 asked for")


def test_more_jobs_than_tasks_says_so(make: Any, tmp_path: Path) -> None:
    report = ingest(
        [_trail(make, tmp_path / "t", files=1)],
        tmp_path / "e.parquet",
        options=IngestOptions(jobs=4),
    )
    assert (report.processes, report.processes_reason) == (1, "--jobs 4 asked for; 1 task of work")


def _cli(*arguments: str) -> tuple[int, dict[str, Any] | None, str]:
    result = CliRunner().invoke(cli, ["ingest", *arguments])
    lines = result.stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if result.exit_code == 0 and lines else None
    return result.exit_code, summary, result.output


@pytest.mark.parametrize("jobs", [[], ["--jobs", "auto"]], ids=["default", "auto"])
def test_the_cli_default_keeps_a_small_input_in_one_process(
    make: Any, tmp_path: Path, jobs: list[str]
) -> None:
    code, summary, output = _cli(
        str(_trail(make, tmp_path / "t")), "-o", str(tmp_path / "e.parquet"), *jobs
    )
    assert code == 0, output
    assert summary is not None
    assert summary["processes"] == 1
    assert summary["processes_reason"].startswith("default: 0.0 MB in 4 files, under 2 x 64")


@TWO_CORES
def test_the_cli_keeps_an_explicit_jobs(make: Any, tmp_path: Path) -> None:
    code, summary, output = _cli(
        str(_trail(make, tmp_path / "t")), "-o", str(tmp_path / "e.parquet"), "-j", "2"
    )
    assert code == 0, output
    assert summary is not None
    assert (summary["processes"], summary["processes_reason"]) == (2, "--jobs 2 asked for")


@pytest.mark.slow
@TWO_CORES
def test_the_cli_default_runs_a_large_input_in_workers(make: Any, tmp_path: Path) -> None:
    trail = tmp_path / "t"
    trail.mkdir()
    body = json.dumps({"Records": [make(eventID=f"id-{n}") for n in range(20)]}).encode()
    for index in range(2):  # two files of 64 MiB each: JSON padded with whitespace
        (trail / f"big{index}.json").write_bytes(body + b" " * (64 * MIB - len(body)))
    code, summary, output = _cli(str(trail), "-o", str(tmp_path / "e.parquet"))
    assert code == 0, output
    assert summary is not None
    assert (summary["processes"], summary["kept"]) == (2, 20)
    assert summary["processes_reason"] == (
        "default: 134.2 MB in 2 files, 2 workers of at least 64 MiB each"
    )


@pytest.mark.parametrize("value", ["0", "-1", "many", "1.5"])
def test_a_jobs_that_is_neither_auto_nor_a_count_is_a_usage_error(
    tmp_path: Path, value: str
) -> None:
    code, _, output = _cli("x", "-o", str(tmp_path / "e.parquet"), "--jobs", value)
    assert code == 2
    assert "neither 'auto' nor a whole number of at least 1" in output


def test_help_says_what_the_default_decides() -> None:
    result = CliRunner().invoke(cli, ["ingest", "--help"])
    text = " ".join(result.output.split())
    assert "auto: one process below 128 MiB of stored input, then a worker per 64 MiB" in text
    assert "default: auto" in text


def _tasks(make: Any, folder: Path, count: int) -> list[list[str]]:
    trail = _trail(make, folder, files=count, per_file=3)
    return [[str(path)] for path in sorted(trail.iterdir())]


@TWO_CORES
def test_workers_give_results_in_task_order_and_are_reaped(make: Any, tmp_path: Path) -> None:
    tasks = _tasks(make, tmp_path / "t", 6)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    results = list(in_workers(tasks, 2, str(scratch), IngestOptions()))
    assert [result.rejects_path for result in results] == [
        str(scratch / f"rejects-{index:06d}.jsonl") for index in range(6)
    ]
    assert [(result.files, result.records) for result in results] == [(1, 3)] * 6
    assert multiprocessing.active_children() == []


@TWO_CORES
def test_workers_are_reaped_when_the_caller_stops_early(make: Any, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    results = in_workers(_tasks(make, tmp_path / "t", 6), 2, str(scratch), IngestOptions())
    assert next(results).records == 3
    results.close()
    assert multiprocessing.active_children() == []


@TWO_CORES
def test_a_worker_that_dies_mid_task_ends_the_run_with_an_error(make: Any, tmp_path: Path) -> None:
    """A killed worker (``kill -9``, the OOM killer) is an error, not a wait for ever.

    The first task reads a named pipe nobody writes, so its worker is certainly mid-task
    when every worker is killed.
    """
    fifo = tmp_path / "held.json"
    os.mkfifo(fifo)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    tasks = [[str(fifo)], *_tasks(make, tmp_path / "t", 3)]
    outcome: list[BaseException | list[Any]] = []

    def consume() -> None:
        try:
            outcome.append(list(in_workers(tasks, 2, str(scratch), IngestOptions())))
        except BaseException as error:
            outcome.append(error)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    deadline = time.monotonic() + 30
    while len(multiprocessing.active_children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let the first worker open the pipe
    for worker in multiprocessing.active_children():
        os.kill(worker.pid or 0, signal.SIGKILL)
    consumer.join(timeout=60)
    try:
        assert not consumer.is_alive(), "the run waited for a result that never comes"
        assert len(outcome) == 1
        assert isinstance(outcome[0], BrokenProcessPool)
        assert multiprocessing.active_children() == []
    finally:
        with contextlib.suppress(OSError):  # releases a worker still reading it, if any
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
