"""What the scoring service keeps between requests, in one SQLite database (WAL).

Two things live here and survive a restart:

* the recent canonical events of each identity, which the sequence, velocity and
  dormancy rules (and the model's open windows) need across requests. An event id is
  stored once, however often it is sent. Retention is bounded by age (relative to the
  newest event stored, never later than the wall clock) and by a count per identity;
* the change-policy objects (windows, tickets, freezes, automation entries,
  suppressions, the organisation), each a validated JSON document under a kind and a
  name, from which :meth:`StateStore.policy` builds the :class:`~serving.Policy`.

One connection is shared by every thread behind a lock; writes are short transactions.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ValidationError

from changewatch.errors import ConfigurationError
from features._schema import CANONICAL_SCHEMA
from serving._policy import Policy
from serving._windows_model import (
    AutomationSpec,
    FreezeSpec,
    OrganizationSpec,
    PolicyFile,
    SuppressionSpec,
    TicketSpec,
    WindowSpec,
)

__all__ = ["POLICY_KINDS", "Admission", "StateStore", "StoredObject"]

logger = logging.getLogger(__name__)

POLICY_KINDS: Final[Mapping[str, tuple[str, type[BaseModel]]]] = {
    "window": ("windows", WindowSpec),
    "ticket": ("tickets", TicketSpec),
    "freeze": ("freezes", FreezeSpec),
    "automation": ("automation", AutomationSpec),
    "suppression": ("suppressions", SuppressionSpec),
    "organization": ("organization", OrganizationSpec),
}
"""Kind of a stored object -> (key of the policy file, its model)."""

_US: Final = 1_000_000
_FUTURE_SLACK: Final = timedelta(days=1)
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    identity_key TEXT NOT NULL,
    event_time_us INTEGER NOT NULL,
    row BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_identity ON events (identity_key, event_time_us);
CREATE INDEX IF NOT EXISTS events_time ON events (event_time_us);
CREATE TABLE IF NOT EXISTS policy_objects (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
"""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One policy object as stored: kind, name, JSON body and when it was last written."""

    kind: str
    name: str
    body: dict[str, Any]
    updated_at: datetime


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
    """

    rows: pa.Table | None
    added: int
    already_seen: int

    @property
    def history(self) -> pd.DataFrame | None:
        """:attr:`rows` as a canonical frame (converted on every access)."""
        if self.rows is None:
            return None
        frame: pd.DataFrame = self.rows.to_pandas()
        return frame


def _now_us() -> int:
    return time.time_ns() // 1000


def _row_bytes(row: dict[str, Any]) -> bytes:
    moment = row["event_time"]
    row["event_time"] = int(moment.timestamp()) * _US + moment.microsecond
    return orjson.dumps(row)


class StateStore:
    """Recent events and policy objects in a SQLite file (see the module docstring).

    Parameters
    ----------
    path : str or Path
        Database file; created with its tables when missing.
    max_age : timedelta
        Events older than this before the newest stored event are dropped.
    max_per_identity : int
        At most this many events are kept per identity (the newest).
    prune_every : int
        Batches between two age prunes (the count bound is kept on every batch).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_age: timedelta = timedelta(days=35),
        max_per_identity: int = 1000,
        prune_every: int = 64,
    ) -> None:
        if max_age <= timedelta(0) or max_per_identity < 1:
            raise ConfigurationError(
                f"retention must be positive, got {max_age} and {max_per_identity} per identity"
            )
        self.path = str(path)
        self.max_age = max_age
        self.max_per_identity = max_per_identity
        self._prune_every = prune_every
        self._batches = 0
        self._lock = threading.RLock()
        self._generation = 0
        self._policy: tuple[int, Policy] | None = None
        self._closed = True
        self.open()

    def open(self) -> None:
        """Open the database (again, after :meth:`close`); a no-op when it is open."""
        with self._lock:
            if not self._closed:
                return
            try:
                self._db = sqlite3.connect(
                    self.path, check_same_thread=False, isolation_level=None, timeout=30.0
                )
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
            except sqlite3.Error as error:
                raise ConfigurationError(
                    f"cannot open state database {self.path}: {error}"
                ) from None
            self._closed = False

    def close(self) -> None:
        """Close the database until :meth:`open` is called again."""
        with self._lock:
            self._db.close()
            self._closed = True

    def check(self) -> None:
        """Raise :class:`sqlite3.Error` when the database cannot be read."""
        with self._lock:
            self._db.execute("SELECT 1 FROM events LIMIT 1").fetchall()

    # ------------------------------------------------------------ recent events

    def admit(self, events: pd.DataFrame | pa.Table) -> Admission:
        """Return the history of the batch's identities, then store the batch's new events.

        ``events`` is a canonical frame, or a canonical Arrow table (what
        :func:`features.records_to_table` builds; the service passes that, which spares
        a round trip through pandas). Done under one lock and in one write transaction,
        so concurrent batches see each other in a serial order and nothing is lost or
        counted twice.
        """
        if isinstance(events, pd.DataFrame):
            events = pa.Table.from_pandas(events, schema=CANONICAL_SCHEMA, preserve_index=False)
        elif events.schema != CANONICAL_SCHEMA:
            events = events.cast(CANONICAL_SCHEMA)
        if not events.num_rows:
            return Admission(None, 0, 0)
        rows = events.to_pylist()
        ids = [str(row["event_id"]) for row in rows]
        identities = sorted({str(row["identity_key"]) for row in rows})
        with self._lock:
            seen = self._seen(ids)
            history = self._history(identities, set(ids))
            params: list[tuple[str, str, int, bytes]] = []
            for row in rows:
                if row["event_id"] not in seen:
                    blob = _row_bytes(row)  # event_time becomes microseconds
                    params.append((row["event_id"], row["identity_key"], row["event_time"], blob))
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?)", params)
                self._bound_counts({k for _, k, _, _ in params})
                self._batches += 1
                if (self._batches - 1) % self._prune_every == 0:
                    self._prune_age()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return Admission(history, len(params), len(seen))

    def _seen(self, ids: list[str]) -> set[str]:
        seen: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT event_id FROM events WHERE event_id IN ({marks})"
            seen.update(r[0] for r in self._db.execute(query, chunk))
        return seen

    def _history(self, identities: list[str], exclude: set[str]) -> pa.Table | None:
        blobs: list[bytes] = []
        for start in range(0, len(identities), 500):
            chunk = identities[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = (
                f"SELECT event_id, row FROM events WHERE identity_key IN ({marks})"
                " ORDER BY event_time_us"
            )
            blobs += [b for i, b in self._db.execute(query, chunk) if i not in exclude]
        if not blobs:
            return None
        return pa.Table.from_pylist([orjson.loads(b) for b in blobs], schema=CANONICAL_SCHEMA)

    def _bound_counts(self, identities: Iterable[str]) -> None:
        for identity in identities:
            self._db.execute(
                "DELETE FROM events WHERE event_id IN (SELECT event_id FROM events"
                " WHERE identity_key = ? ORDER BY event_time_us DESC LIMIT -1 OFFSET ?)",
                (identity, self.max_per_identity),
            )

    def _prune_age(self) -> int:
        newest = self._db.execute("SELECT MAX(event_time_us) FROM events").fetchone()[0]
        if newest is None:
            return 0
        ceiling = _now_us() + _FUTURE_SLACK // timedelta(microseconds=1)
        cut = min(int(newest), ceiling) - self.max_age // timedelta(microseconds=1)
        gone = self._db.execute("DELETE FROM events WHERE event_time_us < ?", (cut,)).rowcount
        if gone:
            logger.info("retention dropped %d events older than %d days", gone, self.max_age.days)
        return int(gone)

    def prune(self) -> int:
        """Apply the age bound now; returns how many events were dropped."""
        with self._lock:
            return self._prune_age()

    def event_count(self) -> int:
        """Events stored."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    # ------------------------------------------------------------ policy objects

    def list_objects(self, kind: str) -> list[StoredObject]:
        """Every stored object of a kind, by name."""
        with self._lock:
            rows = self._db.execute(
                "SELECT name, body, updated_us FROM policy_objects WHERE kind = ? ORDER BY name",
                (kind,),
            ).fetchall()
        return [self._object(kind, *row) for row in rows]

    def get_object(self, kind: str, name: str) -> StoredObject | None:
        """Return the object of that kind and name, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT name, body, updated_us FROM policy_objects WHERE kind = ? AND name = ?",
                (kind, name),
            ).fetchone()
        return self._object(kind, *row) if row else None

    @staticmethod
    def _object(kind: str, name: str, body: str, updated: int) -> StoredObject:
        return StoredObject(
            kind, name, orjson.loads(body), datetime.fromtimestamp(updated / _US, UTC)
        )

    def put_objects(
        self, objects: Iterable[tuple[str, str, Mapping[str, Any]]], *, replace_all: bool = False
    ) -> int:
        """Create or replace objects (``(kind, name, body)``) in one transaction.

        The resulting policy is validated before it is committed, so a write that
        would make the policy unusable (a name twice, a bad schedule) changes nothing.
        With ``replace_all`` every stored object is removed first (an import).

        Raises
        ------
        ConfigurationError
            Naming the object and what is wrong; nothing is written.
        """
        items = list(objects)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if replace_all:
                    self._db.execute("DELETE FROM policy_objects")
                now = _now_us()
                self._db.executemany(
                    "INSERT OR REPLACE INTO policy_objects VALUES (?, ?, ?, ?)",
                    [(k, n, orjson.dumps(b).decode(), now) for k, n, b in items],
                )
                policy = self._build_policy()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._generation += 1
            self._policy = (self._generation, policy)
        return len(items)

    def delete_object(self, kind: str, name: str) -> bool:
        """Remove one object; ``False`` when there was none."""
        with self._lock:
            gone = self._db.execute(
                "DELETE FROM policy_objects WHERE kind = ? AND name = ?", (kind, name)
            ).rowcount
            self._generation += 1
            self._policy = None
        return bool(gone)

    def policy(self) -> Policy:
        """Return the policy the stored objects make (built once per change, then cached)."""
        with self._lock:
            if self._policy is None or self._policy[0] != self._generation:
                self._policy = (self._generation, self._build_policy())
            return self._policy[1]

    def _build_policy(self) -> Policy:
        document: dict[str, Any] = {"version": 1, "timezone": "UTC"}
        for kind, _name, body in self._db.execute(
            "SELECT kind, name, body FROM policy_objects ORDER BY kind, name"
        ):
            key, _ = POLICY_KINDS[kind]
            value = orjson.loads(body)
            if kind == "organization":
                document[key] = value
            else:
                document.setdefault(key, []).append(value)
        try:
            return Policy.from_files([PolicyFile.model_validate(document).resolved()])
        except (ValidationError, ValueError) as error:
            raise ConfigurationError(f"stored policy is not valid: {error}") from None
