"""The state database's write-ahead log is cut back after a burst (issue #16, item 6)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from serving._sqlite import WAL_LIMIT_BYTES, Checkpointer, WriteLock, connect, open_database

MIB = 1024 * 1024


def _wal_size(database: Path) -> int:
    wal = database.with_name(database.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _burst(db: sqlite3.Connection, megabytes: int) -> None:
    """One transaction of ``megabytes`` 1 MiB blobs: the log grows past them."""
    db.execute("BEGIN")
    for _ in range(megabytes):
        db.execute("INSERT INTO t VALUES (?)", (b"x" * MIB,))
    db.execute("COMMIT")


@pytest.mark.parametrize("limit_mib", [1, 2])
def test_a_log_grown_by_a_burst_is_cut_back_after_the_next_checkpoint(
    tmp_path: Path, limit_mib: int
) -> None:
    database = tmp_path / "state.db"
    db = connect(str(database), wal_limit=limit_mib * MIB)
    db.execute("CREATE TABLE t (b BLOB)")
    _burst(db, 8)
    assert _wal_size(database) > 8 * MIB  # the burst is in the log

    checkpoints = Checkpointer(str(database), every=3600.0)
    checkpoints.start()
    checkpoints.stop()  # the service's checkpoint thread: its last round checkpoints (PASSIVE)
    db.execute("INSERT INTO t VALUES (x'00')")  # the next write restarts the log

    assert _wal_size(database) <= limit_mib * MIB
    assert db.execute("SELECT count(*) FROM t").fetchone() == (9,)  # nothing lost
    db.close()


def test_a_log_under_the_limit_is_left_as_it_is(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    db = connect(str(database), wal_limit=64 * MIB)
    db.execute("CREATE TABLE t (b BLOB)")
    _burst(db, 3)
    grown = _wal_size(database)
    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    db.execute("INSERT INTO t VALUES (x'00')")
    assert _wal_size(database) == grown  # restarted in place, not truncated and regrown
    db.close()


def test_every_store_connection_carries_the_limit(tmp_path: Path) -> None:
    database = tmp_path / "state.db"
    writer = WriteLock(str(database), threading.RLock())
    db = open_database(str(database), writer, lambda d: d.execute("SELECT 1"), "state database")
    assert db.execute("PRAGMA journal_size_limit").fetchone() == (WAL_LIMIT_BYTES,)
    assert 0 < WAL_LIMIT_BYTES <= 256 * MIB
    db.close()
    writer.close()
