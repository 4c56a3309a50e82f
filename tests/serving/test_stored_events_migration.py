"""A state database of an older schema is brought to the current one, keeping every event."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

import features
from features import COMPUTE_INPUTS, USER_DATA_CHANGE, records_to_table
from serving._state import StateStore
from serving._stored_events import SCHEMA_VERSION, StoredEvents
from tests.serving.conftest import stratus_records

OLD_BITS = (1 << 11) - 1  # the classes a version-1 database knew


def _version_1(path: Path) -> int:
    """Store the Stratus user-data detonation, then make the file what version 1 wrote."""
    store = StateStore(path)
    store.admit(records_to_table(stratus_records("aws.execution.ec2-user-data")).table)
    store.close()
    db = sqlite3.connect(path)
    db.execute(f"UPDATE events SET flags = flags & {OLD_BITS}")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    count = int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    db.close()
    return count


def test_a_version_1_database_gets_the_compute_classes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    count = _version_1(path)
    StateStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    rows = db.execute("SELECT flags, row FROM events").fetchall()
    assert len(rows) == count
    assert sum(bool(flags & USER_DATA_CHANGE.bit) for flags, _ in rows) == 1
    for flags, row in rows:
        assert flags == features.row_flags(orjson.loads(row))


def test_the_digest_names_who_did_each_compute_action(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _version_1(path)
    store = StateStore(path)
    identity = "arn:aws:iam::309303190113:user/christophe"
    with sqlite3.connect(path) as db:
        digest = StoredEvents(db, [identity], set()).digest(2**62)
    store.close()
    assert digest.actors[USER_DATA_CHANGE.name] == frozenset({identity})
    assert set(digest.actors) == {one.name for one in COMPUTE_INPUTS}
