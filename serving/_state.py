"""What the scoring service keeps between requests, in one SQLite database (WAL).

Two things live here and survive a restart:

* the recent canonical events of each identity, which the sequence, velocity and
  dormancy rules (and the model's open windows) need across requests. An event id is
  stored once, however often it is sent. Retention is bounded by age (relative to the
  newest event stored, never later than the wall clock) and by a count per identity;
* the change-policy objects (windows, tickets, freezes, automation entries,
  suppressions, the organisation), each a validated JSON document under a kind and a
  name, from which :meth:`StateStore.policy` builds the :class:`~serving.Policy`.

One connection is shared by every thread behind a lock; writes are short transactions,
serialised across threads and processes (``serving._sqlite``), so several worker
processes may share one database.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

import orjson
import pandas as pd
import pyarrow as pa

from features import CANONICAL_SCHEMA, ConfigurationError
from serving._sqlite import Checkpointer, WriteLock, open_database
from serving._stored_events import (
    INSERT,
    StoredEvents,
    light_values,
    migrate_events,
)
from serving._stored_policy import POLICY_KINDS, POLICY_SCHEMA, PolicyObjects, StoredObject

__all__ = ["POLICY_KINDS", "Admission", "Admitted", "StateStore", "StoredObject"]

logger = logging.getLogger(__name__)

_US: Final = 1_000_000
_HOUR_US: Final = 3_600 * _US
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Admission:
    """What :meth:`StateStore.admit` did with a batch.

    Attributes
    ----------
    rows : pyarrow.Table or None
        Stored events of the batch's identities (canonical schema, in time order), the
        batch's own event ids left out; ``None`` when there are none.
    added : int
        Events stored for the first time.
    already_seen : int
        Events of the batch whose id was stored before (counted once).
    seen : frozenset of str
        Their event ids.
    """

    rows: pa.Table | None
    added: int
    already_seen: int
    seen: frozenset[str] = frozenset()

    @property
    def history(self) -> pd.DataFrame | None:
        """:attr:`rows` as a canonical frame (converted on every access)."""
        if self.rows is None:
            return None
        frame: pd.DataFrame = self.rows.to_pandas()
        return frame


@dataclass(frozen=True, slots=True)
class Admitted(Generic[T]):
    """What :meth:`StateStore.admit_reading` did: what the reader read, and the counts.

    Attributes
    ----------
    read : T
        What the reader returned, read in the same transaction that stored the batch.
    added : int
        Events stored for the first time.
    already_seen : int
        Events of the batch whose id was stored before (counted once).
    keys : dict of str to int
        The store's key of each event stored for the first time, by event id (when asked).
    seen : frozenset of str
        The event ids of the batch that were stored before.
    """

    read: T
    added: int
    already_seen: int
    keys: dict[str, int] = field(default_factory=dict)
    seen: frozenset[str] = frozenset()


def _now_us() -> int:
    return time.time_ns() // 1000


def _stored(row: dict[str, Any]) -> tuple[Any, ...]:
    """Return what :data:`INSERT` stores for one canonical row (its time becomes microseconds)."""
    light = light_values(row)
    moment = row["event_time"]
    row["event_time"] = int(moment.timestamp()) * _US + moment.microsecond
    return (row["event_id"], row["identity_key"], row["event_time"], *light, orjson.dumps(row))


def _prepare(db: sqlite3.Connection) -> None:
    """Create the policy tables and create or migrate the events table."""
    db.executescript(POLICY_SCHEMA)
    migrate_events(db)


class StateStore(PolicyObjects):
    """Recent events and policy objects in a SQLite file (see the module docstring).

    Parameters
    ----------
    path : str or Path
        Database file; created with its tables when missing.
    max_age : timedelta
        Events older than this before the newest stored event are dropped.
    max_per_identity : int
        At most this many events are kept per identity (the newest).
    max_future : timedelta
        Events dated more than this after the clock are never stored: the count bound
        keeps the newest events, so they would evict an identity's real history.
    max_policy_objects : int or None
        Policy objects of one kind at most (a write beyond is refused).
    prune_every : int
        Batches between two age prunes (the count bound is kept on every batch).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_age: timedelta = timedelta(days=35),
        max_per_identity: int = 1000,
        max_future: timedelta = timedelta(minutes=15),
        max_policy_objects: int | None = 5000,
        prune_every: int = 64,
    ) -> None:
        if max_age <= timedelta(0) or max_per_identity < 1 or max_future < timedelta(0):
            raise ConfigurationError(
                f"retention must be positive, got {max_age} and {max_per_identity} per identity"
                f" ({max_future} after the clock at most)"
            )
        self.path = str(path)
        self.max_age = max_age
        self.max_per_identity = max_per_identity
        self.max_future = max_future
        self.max_policy_objects = max_policy_objects
        self._prune_every = prune_every
        self._batches = 0
        self._lock = threading.RLock()
        self._building = threading.Lock()
        self._writer = WriteLock(self.path, self._lock)
        self._checkpoints: Checkpointer | None = None
        self._policy = None
        self._closed = True
        self.open()

    def open(self) -> None:
        """Open the database (again, after :meth:`close`); a no-op when it is open."""
        with self._lock:
            if not self._closed:
                return
            self._db = open_database(self.path, self._writer, _prepare, "state database")
            self._closed = False

    def close(self) -> None:
        """Close the database until :meth:`open` is called again."""
        with self._lock:
            if self._checkpoints is not None:
                self._checkpoints.stop()
                self._checkpoints = None
            self._db.close()
            self._writer.close()
            self._closed = True

    def checkpoint_in_background(self, every: float = 1.0) -> None:
        """Checkpoint the log from a thread, not in the commit of some request (until closed)."""
        with self._lock:
            if self._checkpoints is None:
                checkpoints = Checkpointer(self.path, every)
                try:
                    checkpoints.start()
                except sqlite3.Error as error:
                    logger.warning("%s: checkpoints stay in commits: %s", self.path, error)
                    return
                self._db.execute("PRAGMA wal_autocheckpoint=0")
                self._checkpoints = checkpoints

    def check(self) -> None:
        """Raise :class:`sqlite3.Error` when the database cannot be read."""
        with self._lock:
            self._db.execute("SELECT 1 FROM events LIMIT 1").fetchall()

    # ------------------------------------------------------------ recent events

    def latest_us(self) -> int:
        """Return the latest event time stored now, in µs (the clock plus ``max_future``)."""
        return _now_us() + self.max_future // timedelta(microseconds=1)

    def admit(self, events: pd.DataFrame | pa.Table) -> Admission:
        """Return the history of the batch's identities, then store the batch's new events.

        ``events`` is a canonical frame, or a canonical Arrow table (what
        :func:`features.records_to_table` builds; the service passes that, which spares
        a round trip through pandas). The history is every stored event of the batch's
        identities (see :meth:`admit_reading` to read less).
        """
        done = self.admit_reading(events, StoredEvents.everything)
        return Admission(done.read, done.added, done.already_seen, done.seen)

    def admit_reading(
        self,
        events: pd.DataFrame | pa.Table,
        reader: Callable[[StoredEvents], T],
        *,
        keys: bool = False,
    ) -> Admitted[T]:
        """Read what ``reader`` reads of the batch's stored history, then store the batch.

        Both happen in one ``BEGIN IMMEDIATE`` transaction (and under the store's
        lock), so concurrent batches, of this process or another one sharing the file,
        see each other in a serial order, and no event is lost or counted twice. With
        ``keys``, the store's keys of the newly stored events come back too.
        """
        if isinstance(events, pd.DataFrame):
            events = pa.Table.from_pandas(events, schema=CANONICAL_SCHEMA, preserve_index=False)
        elif events.schema != CANONICAL_SCHEMA:
            events = events.cast(CANONICAL_SCHEMA)
        rows = events.to_pylist()
        ids = [str(row["event_id"]) for row in rows]
        identities = sorted({str(row["identity_key"]) for row in rows})
        stored = [_stored(row) for row in rows]  # event_time becomes microseconds
        latest = self.latest_us()
        with self._writer():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seen = self._seen(ids) if ids else set()
                read = reader(StoredEvents(self._db, identities, seen))
                params = [v for v in stored if v[0] not in seen and v[2] <= latest]
                found: dict[str, int] = {}
                if stored:  # an empty batch stores nothing and does not count
                    self._db.executemany(INSERT, params)
                    if keys and params:
                        found = self._keys([values[0] for values in params])
                    self._bound_counts({values[1] for values in params})
                    self._batches += 1
                    if (self._batches - 1) % self._prune_every == 0:
                        self._prune_age()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return Admitted(read, len(params), len(seen), found, frozenset(seen))

    def _keys(self, ids: list[str]) -> dict[str, int]:
        query = "SELECT event_id, id FROM events WHERE event_id IN (SELECT value FROM json_each(?))"
        return dict(self._db.execute(query, (orjson.dumps(ids).decode(),)).fetchall())

    def _seen(self, ids: list[str]) -> set[str]:
        query = "SELECT event_id FROM events WHERE event_id IN (SELECT value FROM json_each(?))"
        return {r[0] for r in self._db.execute(query, (orjson.dumps(ids).decode(),))}

    def _bound_counts(self, identities: Iterable[str]) -> None:
        """Keep the newest ``max_per_identity`` events of each identity over its bound.

        An identity is cut back once it holds an eighth more than the bound, not at every
        event: a model state rebuilds when the store drops events it took in (ADR 0032).
        """
        slack = self.max_per_identity // 8
        for identity in identities:
            count = self._db.execute(
                "SELECT COUNT(*) FROM events WHERE identity_key = ?", (identity,)
            ).fetchone()[0]
            if count <= self.max_per_identity + slack:
                continue
            self._db.execute(
                "DELETE FROM events WHERE event_id IN (SELECT event_id FROM events"
                " WHERE identity_key = ? ORDER BY event_time_us DESC, event_id DESC"
                " LIMIT -1 OFFSET ?)",
                (identity, self.max_per_identity),
            )

    def _prune_age(self) -> int:
        """Drop events older than ``max_age`` before the newest, cut at a whole hour.

        Whole hours, so that an identity loses old events at most once an hour (each loss
        makes its model state rebuild, ADR 0032).
        """
        newest = self._db.execute("SELECT MAX(event_time_us) FROM events").fetchone()[0]
        if newest is None:
            return 0
        cut = min(int(newest), self.latest_us()) - self.max_age // timedelta(microseconds=1)
        cut -= cut % _HOUR_US
        gone = self._db.execute("DELETE FROM events WHERE event_time_us < ?", (cut,)).rowcount
        if gone:
            logger.info("retention dropped %d events older than %d days", gone, self.max_age.days)
        return int(gone)

    def prune(self) -> int:
        """Apply the age bound now; returns how many events were dropped."""
        with self._writer():
            return self._prune_age()

    def event_count(self) -> int:
        """Events stored."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
