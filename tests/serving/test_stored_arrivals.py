"""An identity's arrivals after a key: the count and the events, read as the store holds them.

``StoredEvents.arrivals`` is what a model state catches up on (ADR 0032). Counting the
identity's events and those after the key in one query was tried and cost more than the
two reads (ADR 0070); this holds the answer to the reads apart, whichever way it is read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa

from features import records_to_table
from serving._state import StateStore
from serving._stored_events import Arrivals, StoredEvents, _decode
from tests.serving.conftest import record


def _reference(db: sqlite3.Connection, identity: str, after: int) -> Arrivals:
    """The two reads apart: every event of the identity counted, those after ``after`` read."""
    total = db.execute("SELECT COUNT(*) FROM events WHERE identity_key = ?", (identity,)).fetchone()
    found = db.execute(
        "SELECT id, row FROM events WHERE identity_key = ? AND id > ? ORDER BY id",
        (identity, after),
    ).fetchall()
    return Arrivals(int(total[0]), tuple(k for k, _ in found), _decode(r for _, r in found))


def _same(found: Arrivals, expected: Arrivals) -> None:
    assert (found.total, found.keys) == (expected.total, expected.keys)
    if expected.rows is None:
        assert found.rows is None
    else:
        assert isinstance(found.rows, pa.Table)
        assert found.rows.equals(expected.rows)


def test_arrivals_after_each_key_are_the_count_and_the_events_after_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(path)
    users = ("alice", "bob")
    for minute in range(6):
        user = users[minute % 2]
        event = record("RunInstances", f"2026-03-17T10:0{minute}:00Z", user=user)
        store.admit(records_to_table([event]).table)
    store.close()
    with sqlite3.connect(path) as db:
        keys = {
            identity: [
                k
                for (k,) in db.execute(
                    "SELECT id FROM events WHERE identity_key = ? ORDER BY id", (identity,)
                )
            ]
            for (identity,) in db.execute("SELECT DISTINCT identity_key FROM events")
        }
        assert len(keys) == 2
        stored = StoredEvents(db, sorted(keys), set())
        for identity, mine in keys.items():
            assert len(mine) == 3
            for after in (-1, mine[0], mine[1], mine[-1], mine[-1] + 100):
                found = stored.arrivals(identity, after)
                _same(found, _reference(db, identity, after))
            assert stored.arrivals(identity, mine[-1]) == Arrivals(3)  # none after
        _same(stored.arrivals("nobody"), Arrivals(0))
