"""How the state database is opened, written and checkpointed, by threads and processes.

* Every write transaction runs under :class:`WriteLock`: the store's thread lock and,
  across processes sharing the file (``changewatch serve --workers N``), an exclusive
  ``flock`` on ``<database>.lock``. SQLite alone would make a second writer wait in its
  busy handler, which sleeps 1, 2, 5, 10 ... ms between tries; the file lock wakes the
  next writer as soon as the first is done.
* In WAL mode a commit that finds the log over ``wal_autocheckpoint`` pages copies it
  into the database first, a pause of several milliseconds in some unlucky request.
  :class:`Checkpointer` turns that off and checkpoints from a thread of its own instead
  (``PASSIVE``: it never waits for, nor blocks, readers and writers).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Final

from features import ConfigurationError
from serving._periodic import Periodic

try:
    import fcntl as _fcntl

    fcntl: ModuleType | None = _fcntl
except ImportError:  # pragma: no cover - not POSIX: one process per database
    fcntl = None

__all__ = ["WAL_LIMIT_BYTES", "Checkpointer", "WriteLock", "connect", "open_database"]

logger = logging.getLogger(__name__)

BUSY_TIMEOUT: Final = 30.0
"""Seconds a statement waits for a lock another connection holds."""

WAL_LIMIT_BYTES: Final = 64 * 1024 * 1024
"""What the write-ahead log is cut back to when it restarts after a checkpoint.

Without a limit (SQLite's default) the log file keeps the size of its largest burst for
ever: a burst of large requests between two checkpoints left a 174 MB log beside the
database (issue #16). With it, the first write after a complete checkpoint truncates the
file to this size; a log that never grows past it is never truncated (no churn).
"""


def connect(path: str, *, wal_limit: int = WAL_LIMIT_BYTES) -> sqlite3.Connection:
    """Open the state database: autocommit (transactions are explicit), WAL, ``NORMAL`` sync.

    ``wal_limit`` (bytes) is the log's ``journal_size_limit`` (:data:`WAL_LIMIT_BYTES`).
    """
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA journal_size_limit={int(wal_limit)}")
    return db


def open_database(
    path: str,
    writer: WriteLock,
    prepare: Callable[[sqlite3.Connection], object],
    what: str,
) -> sqlite3.Connection:
    """Open the state database and create or migrate its tables under the write lock.

    Parameters
    ----------
    path : str
        The database file.
    writer : WriteLock
        The store's write lock; ``prepare`` runs while it is held.
    prepare : callable
        Creates the store's tables or migrates them (``executescript`` of its schema).
    what : str
        What the store is, for the error message (``"state database"``, ``"findings in"``).

    Returns
    -------
    sqlite3.Connection
        The open connection (:func:`connect`).

    Raises
    ------
    ConfigurationError
        The file cannot be opened or its tables cannot be prepared; nothing is left open.
    """
    db: sqlite3.Connection | None = None
    try:
        db = connect(path)
        with writer():
            prepare(db)
    except sqlite3.Error as error:
        if db is not None:
            db.close()
        raise ConfigurationError(f"cannot open {what} {path}: {error}") from None
    return db


class WriteLock:
    """Serialises writers: threads through a lock, processes through ``flock``."""

    def __init__(self, path: str, lock: threading.RLock) -> None:
        self._path = f"{path}.lock"
        self._lock = lock
        self._depth = 0
        self._file: int | None = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        """Hold the lock for one write transaction (re-entrant in the holding thread)."""
        with self._lock:
            self._depth += 1
            try:
                if self._depth == 1 and fcntl is not None:
                    if self._file is None:
                        self._file = _open_lock_file(self._path)
                    fcntl.flock(self._file, fcntl.LOCK_EX)
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and fcntl is not None and self._file is not None:
                    fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release the lock file."""
        with self._lock:
            if self._file is not None:
                os.close(self._file)
                self._file = None


def _open_lock_file(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


class Checkpointer(Periodic):
    """Checkpoints a WAL database every ``every`` seconds from a thread of its own."""

    def __init__(self, path: str, every: float) -> None:
        super().__init__("wal-checkpoints", every, tick_on_stop=True)
        self._path = path
        self._db: sqlite3.Connection

    def start(self) -> None:
        """Open the thread's own connection, then start checkpointing.

        Raises
        ------
        sqlite3.Error
            When the connection cannot be opened: the caller keeps SQLite's own
            checkpoints then, since nothing else would ever copy the log back.
        """
        self._db = connect(self._path)
        super().start()

    def tick(self) -> None:
        """Copy what the log holds back into the database, if no reader is in the way."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as error:  # busy or gone: the next round tries again
            logger.debug("checkpoint of %s skipped: %s", self._path, error)

    def finish(self) -> None:
        """Close the thread's connection."""
        self._db.close()
