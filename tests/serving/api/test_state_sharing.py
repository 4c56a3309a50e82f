"""One state database shared: by two processes, across versions, checkpointed in the background."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from features import records_to_table
from models.scoring._rules._reads import row_flags
from serving._state import StateStore
from serving._stored_events import StoredEvents
from tests.conftest import make_record

ROOT = Path(__file__).resolve().parents[3]
V0_SCHEMA = """
CREATE TABLE events (
    event_id TEXT PRIMARY KEY,
    identity_key TEXT NOT NULL,
    event_time_us INTEGER NOT NULL,
    row BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX events_identity ON events (identity_key, event_time_us);
CREATE INDEX events_time ON events (event_time_us);
CREATE TABLE policy_objects (
    kind TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, updated_us INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
"""


def _batch(prefix: str, count: int, user: str = "alice", minute: int = 0) -> Any:
    records = [
        make_record(
            eventID=f"{prefix}{i}",
            eventTime=f"2026-03-02T10:{(minute + i) % 60:02d}:00Z",
            userIdentity={
                "type": "IAMUser",
                "arn": f"arn:aws:iam::111122223333:user/{user}",
                "accountId": "111122223333",
            },
        )
        for i in range(count)
    ]
    return records_to_table(records).table


def test_a_database_of_the_first_version_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    rows = _batch("e", 5).to_pylist()
    with sqlite3.connect(path) as db:
        db.executescript(V0_SCHEMA)
        for row in rows:  # as the first version stored them: the time in microseconds
            row["event_time"] = int(row["event_time"].timestamp() * 1_000_000)
            blob = orjson.dumps(row)
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?)",
                (row["event_id"], row["identity_key"], row["event_time"], blob),
            )
    store = StateStore(path)
    assert store.event_count() == 5
    flags = dict(store._db.execute("SELECT event_id, flags FROM events").fetchall())
    assert flags == {row["event_id"]: row_flags(row) for row in rows}
    kept = StoredEvents(store._db, [rows[0]["identity_key"]], ()).everything()
    assert kept is not None
    assert kept.column("event_id").to_pylist() == [f"e{i}" for i in range(5)]
    again = store.admit(_batch("e", 6))
    assert (again.added, again.already_seen) == (1, 5)
    store.close()
    assert StateStore(path).event_count() == 6  # a migrated database opens as it is


def _web_identity_batch(prefix: str, sessions: list[str]) -> Any:
    provider = "token.actions.githubusercontent.com"
    records = [
        make_record(
            eventID=f"{prefix}{i}",
            eventTime=f"2026-03-02T11:{i:02d}:00Z",
            userIdentity={
                "type": "AssumedRole",
                "arn": f"arn:aws:sts::111122223333:assumed-role/deploy/{session}",
                "accountId": "111122223333",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "arn": "arn:aws:iam::111122223333:role/deploy",
                        "userName": "deploy",
                    },
                    "webIdFederationData": {"federatedProvider": provider},
                },
            },
        )
        for i, session in enumerate(sessions)
    ]
    return records_to_table(records).table


def test_a_state_keyed_per_web_identity_session_is_keyed_again_by_role(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    StateStore(path).close()
    batch = _web_identity_batch("w", ["gh-actions-1", "gh-actions-2", "gh-actions-3"])
    rows = batch.to_pylist()
    role = "arn:aws:iam::111122223333:role/deploy"
    with sqlite3.connect(path) as db:  # as version 1 stored them: keyed per session
        for row in rows:
            row["identity_key"] = f"{role}/{row['session_name']}"
            row["event_time"] = int(row["event_time"].timestamp() * 1_000_000)
            db.execute(
                "INSERT INTO events (event_id, identity_key, event_time_us, flags, row)"
                " VALUES (?, ?, ?, ?, ?)",
                (row["event_id"], row["identity_key"], row["event_time"], 1, orjson.dumps(row)),
            )
        db.execute("PRAGMA user_version = 1")
    store = StateStore(path)
    keys = {k for (k,) in store._db.execute("SELECT identity_key FROM events").fetchall()}
    assert keys == {role}
    kept = StoredEvents(store._db, [role], ()).everything()
    assert kept is not None
    assert set(kept.column("identity_key").to_pylist()) == {role}
    assert kept.column("session_name").to_pylist() == [
        "gh-actions-1",
        "gh-actions-2",
        "gh-actions-3",
    ]
    again = store.admit(_web_identity_batch("x", ["gh-actions-9"]))  # a new run of the role
    assert (again.added, again.already_seen) == (1, 0)
    assert again.rows is not None
    assert again.rows.num_rows == 3
    store.close()


ADMIT_MANY = """
import json, sys, time
from pathlib import Path
from features import records_to_table
from serving._state import StateStore

path, worker, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])


def batch(prefix, count, user, minute):
    return records_to_table([
        {
            "eventVersion": "1.09", "eventID": f"{prefix}{i}", "eventName": "CreateSnapshot",
            "eventTime": f"2026-03-02T10:{(minute + i) % 60:02d}:00Z",
            "eventSource": "ec2.amazonaws.com", "awsRegion": "eu-central-1",
            "sourceIPAddress": "203.0.113.10", "userAgent": "aws-cli/2.15.30",
            "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "accountId": "111122223333",
                             "arn": f"arn:aws:iam::111122223333:user/{user}"},
        }
        for i in range(count)
    ]).table


store = StateStore(path, max_per_identity=100_000)
while not go.exists():
    time.sleep(0.01)
added = seen = 0
for b in range(30):  # both processes send the shared batches 0..29, and their own
    for prefix, count in ((f"shared-{b}-", 5), (f"w{worker}-{b}-", 3)):
        done = store.admit(batch(prefix, count, f"u{b % 3}", b))
        added, seen = added + done.added, seen + done.already_seen
print(json.dumps([added, seen]))
"""


def test_two_processes_store_each_event_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    StateStore(path).close()
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", ADMIT_MANY, str(path), str(w), str(go)],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for w in (1, 2)
    ]
    go.touch()
    results = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]
    unique = 30 * 5 + 2 * 30 * 3
    sent = 2 * 30 * (5 + 3)
    assert StateStore(path).event_count() == unique
    assert sum(added for added, _ in results) == unique
    assert sum(seen for _, seen in results) == sent - unique


def test_a_policy_written_by_one_store_reaches_another(tmp_path: Path) -> None:
    one, other = StateStore(tmp_path / "s.db"), StateStore(tmp_path / "s.db")
    assert not other.policy().calendar.windows
    window = {"name": "tue", "rrule": "FREQ=WEEKLY;BYDAY=TU;BYHOUR=22", "duration": "PT4H"}
    one.put_objects([("window", "tue", window)])
    assert [w.name for w in other.policy().calendar.windows] == ["tue"]
    one.delete_object("window", "tue")
    assert not other.policy().calendar.windows
    assert (one.bump("model"), other.version("model")) == (1, 1)


def test_the_log_is_checkpointed_in_the_background(tmp_path: Path) -> None:
    """Commits go to the log only; a thread copies them into the database file."""
    store = StateStore(tmp_path / "s.db")
    store.checkpoint_in_background(every=0.05)
    assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    database = tmp_path / "s.db"
    time.sleep(0.2)  # what opening wrote is checkpointed by now
    before = database.stat().st_size
    store.admit(_batch("e", 200))
    deadline = time.monotonic() + 10
    while database.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert database.stat().st_size > before
    store.close()
