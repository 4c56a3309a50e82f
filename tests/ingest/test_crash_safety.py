"""A killed ingestion leaves the last output whole, no workers, nothing the next run keeps."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from changewatch.errors import ConfigurationError
from features import ingest
from features._scratch import PREFIX, Scratch, _held, remove_stale


def scratch_folders(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob(f"{PREFIX}*"))


def test_a_scratch_folder_in_use_is_kept_and_an_abandoned_one_removed(tmp_path: Path) -> None:
    live = Scratch(str(tmp_path))
    abandoned = Scratch(str(tmp_path))
    os.close(abandoned._lock)  # as when its process dies: the kernel drops the lock
    assert remove_stale(str(tmp_path)) == [abandoned.path]
    assert scratch_folders(tmp_path) == [Path(live.path).name]
    live.close()
    assert scratch_folders(tmp_path) == []


def test_a_scratch_folder_without_a_lock_is_removed_only_when_old(tmp_path: Path) -> None:
    young, old = tmp_path / f"{PREFIX}young", tmp_path / f"{PREFIX}old"
    young.mkdir()
    old.mkdir()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert remove_stale(str(tmp_path)) == [str(old)]
    assert scratch_folders(tmp_path) == [young.name]


def test_ingest_removes_what_killed_runs_left(make: Any, tmp_path: Path) -> None:
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": [make()]}))
    out = tmp_path / "events.parquet"
    left = Scratch(str(tmp_path))
    os.close(left._lock)
    Path(f"{out}.partial").write_bytes(b"PAR1 half a file")  # an older version's leftover
    report = ingest([path], out)
    assert report.kept == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "events.parquet",
        "events.parquet.rejects.jsonl",
        "trail.json",
    ]


def test_rejects_go_beside_their_own_path(make: Any, tmp_path: Path) -> None:
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": [make(eventTime=None)]}))
    elsewhere = tmp_path / "reports"
    elsewhere.mkdir()
    ingest([path], tmp_path / "e.parquet", rejects=elsewhere / "rejects.jsonl")
    assert [p.name for p in elsewhere.iterdir()] == ["rejects.jsonl"]
    assert json.loads((elsewhere / "rejects.jsonl").read_text())["field"] == "eventTime"


def test_an_output_folder_that_does_not_exist_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"the folder .*missing does not exist"):
        ingest([], tmp_path / "missing" / "events.parquet")


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    for child in map(int, children.read().split()):
                        found.add(child)
                        pending.append(child)
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    """Tell whether any thread of ``pid`` still runs (and so may still hold its files).

    The process's own ``stat`` is not enough: its main thread can be a zombie while
    another thread (Arrow's, mid-write) is still exiting with the scratch lock open.
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    return True
        except OSError:
            continue
    return False


def _wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_kill_9_leaves_the_last_output_whole_and_no_workers(make: Any, tmp_path: Path) -> None:
    trail = tmp_path / "trail"
    trail.mkdir()
    records = [
        make(eventID=f"id-{i}", eventTime="bad" if i % 50 == 0 else None) for i in range(4000)
    ]
    for record in records:
        if record["eventTime"] is None:
            record["eventTime"] = "2026-03-02T10:15:00Z"
    body = gzip.compress(json.dumps({"Records": records}).encode(), compresslevel=1)
    for index in range(60):
        (trail / f"f{index:03d}.json.gz").write_bytes(body)
    out = tmp_path / "events.parquet"
    rejects = Path(f"{out}.rejects.jsonl")
    out.write_bytes(b"the previous output")
    rejects.write_bytes(b'{"the": "previous rejects"}\n')
    command = [
        sys.executable,
        "-m",
        "changewatch",
        "ingest",
        str(trail),
        "--out",
        str(out),
        "-j",
        "2",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: len(_descendants(process.pid)) >= 2, 60), "no workers started"
        assert _wait_for(lambda: any(tmp_path.glob(f"{PREFIX}*/part-*")), 60), "no parts written"
        workers = _descendants(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    assert _wait_for(lambda: not any(map(_alive, workers)), 30), "workers outlived the ingestion"
    assert out.read_bytes() == b"the previous output"
    assert rejects.read_bytes() == b'{"the": "previous rejects"}\n'
    assert [p.name for p in tmp_path.glob("*.partial")] == []
    left = [tmp_path / name for name in scratch_folders(tmp_path)]
    assert left != []  # what the killed run left...
    # The kernel drops the lock with the last open copy of it; no process may keep it.
    assert _wait_for(lambda: not any(map(_held, left)), 30), "the killed run's lock is still held"
    report = ingest([trail / "f000.json.gz"], out)
    assert report.kept == 3920
    assert scratch_folders(tmp_path) == []  # ...the next run removed
