"""The change-policy objects of the state database, and the counters workers share.

Windows, tickets, freezes, automation entries, suppressions and the organisation are
stored as validated JSON documents under a kind and a name; :meth:`PolicyObjects.policy`
builds the :class:`~serving.Policy` they make. Several processes may serve one database
(``changewatch serve --workers N``), so what one of them writes must reach the others:
every policy write increments the ``policy`` counter of the ``versions`` table in its
own transaction, and a process rebuilds its cached policy when the counter moved. The
``model`` counter does the same for model reloads (``serving.api.reloads``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from pydantic import BaseModel, ValidationError

from features import ConfigurationError
from models.scoring import (
    AutomationSpec,
    FreezeSpec,
    OrganizationSpec,
    Policy,
    PolicyFile,
    SuppressionSpec,
    TicketSpec,
    WindowSpec,
)
from serving._sqlite import WriteLock

__all__ = ["POLICY_KINDS", "POLICY_SCHEMA", "PolicyObjects", "StoredObject"]

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

POLICY_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS policy_objects (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS versions (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
"""The policy objects and the shared counters (``policy``, ``model``)."""

_US: Final = 1_000_000
_BUMP: Final = (
    "INSERT INTO versions VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = value + 1"
    " RETURNING value"
)


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One policy object as stored: kind, name, JSON body and when it was last written."""

    kind: str
    name: str
    body: dict[str, Any]
    updated_at: datetime


class PolicyObjects:
    """Policy objects and shared counters over the state's connection (a part of the store).

    The store provides ``_db`` (in autocommit mode), ``_lock`` (for any use of it),
    ``_writer`` (for write transactions) and ``_policy`` (``None`` when it opens).
    """

    _db: sqlite3.Connection
    _lock: threading.RLock
    _writer: WriteLock
    _policy: tuple[int, Policy] | None

    def version(self, name: str) -> int:
        """Return the shared counter ``name`` (0 before its first increment)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM versions WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def bump(self, name: str) -> int:
        """Increment the shared counter ``name`` and return its new value."""
        with self._writer():
            return int(self._db.execute(_BUMP, (name,)).fetchone()[0])

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
        with self._writer():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if replace_all:
                    self._db.execute("DELETE FROM policy_objects")
                now = time.time_ns() // 1000
                self._db.executemany(
                    "INSERT OR REPLACE INTO policy_objects VALUES (?, ?, ?, ?)",
                    [(k, n, orjson.dumps(b).decode(), now) for k, n, b in items],
                )
                policy = self._build_policy()
                version = int(self._db.execute(_BUMP, ("policy",)).fetchone()[0])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._policy = (version, policy)
        return len(items)

    def delete_object(self, kind: str, name: str) -> bool:
        """Remove one object; ``False`` when there was none."""
        with self._writer():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                gone = self._db.execute(
                    "DELETE FROM policy_objects WHERE kind = ? AND name = ?", (kind, name)
                ).rowcount
                self._db.execute(_BUMP, ("policy",)).fetchone()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return bool(gone)

    def policy(self) -> Policy:
        """Return the policy the stored objects make (built once per change, then cached).

        A change written by another process sharing the database is seen at once: the
        ``policy`` counter it incremented differs from the cached policy's.
        """
        with self._lock:
            version = self.version("policy")
            if self._policy is None or self._policy[0] != version:
                self._policy = (version, self._build_policy())
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
