"""``changewatch serve --workers 2``: two real processes on 127.0.0.1 sharing one state.

Requests on fresh connections land on either process (each answers ``GET /v1/model``
with the moment its model was installed, which tells them apart). Events sent to both
at once are stored once and counted once; a policy written through one process and a
model reloaded through one reach the other.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from serving._state import StateStore
from serving.api import free_port as _free_port
from tests.conftest import make_record

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Served:
    url: str
    state: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``changewatch serve --workers 2`` on loopback, stopped at the end."""
    state = tmp_path_factory.mktemp("workers") / "state.db"
    port = _free_port()
    command = [sys.executable, "-m", "changewatch", "serve", "--workers", "2"]
    command += ["--port", str(port), "--state", str(state)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHANGEWATCH_RELOAD_POLL_SECONDS": "0.2"}
    env.pop("CHANGEWATCH_API_KEYS", None)
    server = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while len(_installed(url, 20)) < 2:  # both processes up
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("changewatch serve --workers 2 did not start")
            time.sleep(0.2)
        yield Served(url, state)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _fresh(url: str, call: Callable[[httpx.Client], Any]) -> Any:
    with httpx.Client(base_url=url, timeout=30) as client:  # a new connection: either process
        return call(client)


def _installed(url: str, tries: int) -> set[str]:
    """When each process answering installed its model (one value per process)."""
    found: set[str] = set()
    for _ in range(tries):
        with contextlib.suppress(httpx.TransportError):
            found.add(_fresh(url, lambda c: c.get("/v1/model").json()["loaded_at"]))
    return found


def _seen_both(url: str, seconds: float = 30) -> set[str]:
    """Ask on fresh connections until both processes have answered (the kernel picks which)."""
    found: set[str] = set()
    deadline = time.monotonic() + seconds
    while len(found) < 2 and time.monotonic() < deadline:
        found |= _installed(url, 20)
    return found


def test_two_processes_answer(served: Served) -> None:
    assert len(_seen_both(served.url)) == 2


def test_events_sent_to_both_are_stored_and_counted_once(served: Served) -> None:
    def send(n: int) -> tuple[int, int]:
        records = [  # every id is sent by four requests at once
            make_record(eventID=f"w{n % 8}-{i}", eventTime=f"2026-03-03T{n % 8:02d}:{i:02d}:00Z")
            for i in range(5)
        ]
        answer = _fresh(served.url, lambda c: c.post("/v1/score", json=records))
        assert answer.status_code == 200
        return answer.json()["scored"], answer.json()["already_seen"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(32)))
    assert sum(scored - seen for scored, seen in answers) == 8 * 5
    assert sum(seen for _, seen in answers) == 32 * 5 - 8 * 5
    assert StateStore(served.state).event_count() >= 8 * 5


def _outside_hits(served: Served, n: int) -> list[int]:
    def send(i: int) -> int:
        record = make_record(eventID=f"policy-{n}-{i}", eventTime="2026-03-04T10:00:00Z")
        answer = _fresh(served.url, lambda c: c.post("/v1/score", json=[record])).json()
        return sum(h["rule_id"] == "ChangeWindow.OutsideApproved" for h in answer["hits"])

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(send, range(24)))


def test_a_policy_written_through_one_reaches_both(served: Served) -> None:
    assert all(_outside_hits(served, 1))  # a snapshot outside every window, everywhere
    suppression = {
        "rule": "ChangeWindow.OutsideApproved",
        "scope": {"accounts": ["111122223333"]},
        "reason": "maintenance",
        "owner": "soc@example.com",
        "expires": "2999-01-01T00:00:00Z",
    }
    created = _fresh(served.url, lambda c: c.post("/v1/suppressions", json=suppression))
    assert created.status_code == 201
    assert not any(_outside_hits(served, 2))  # suppressed by whichever process answers


def test_a_reload_in_rules_only_mode_changes_neither_process(served: Served) -> None:
    # rules only: a reload has nothing to load, says so, and tells no other process to
    # reload (ADR 0043)
    before = _seen_both(served.url)
    assert len(before) == 2
    reloaded = _fresh(served.url, lambda c: c.post("/v1/model/reload"))
    assert reloaded.status_code == 200
    assert reloaded.json()["outcome"] == "rules_only"
    time.sleep(1.0)  # five poll intervals of the other process
    assert _installed(served.url, 40) == before
