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
from collections import Counter
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
_BUILD_ATTEMPTS: Final = 5
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
    ``_building`` (one policy build at a time), ``_writer`` (for write transactions),
    ``_policy`` (``None`` when it opens) and ``max_policy_objects`` (per kind, or ``None``).
    """

    _db: sqlite3.Connection
    _lock: threading.RLock
    _building: threading.Lock
    _writer: WriteLock
    _policy: tuple[int, Policy] | None
    max_policy_objects: int | None

    def version(self, name: str) -> int:
        """Return the shared counter ``name`` (0 before its first increment)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM versions WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def bump(self, name: str) -> int:
        """Increment the shared counter ``name`` and return its new value."""
        with self._writer():
            return int(self._db.execute(_BUMP, (name,)).fetchone()[0])

    def list_objects(
        self, kind: str, *, after: str | None = None, limit: int | None = None
    ) -> list[StoredObject]:
        """Return stored objects of a kind by name: those after ``after``, at most ``limit``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT name, body, updated_us FROM policy_objects WHERE kind = ? AND name > ?"
                " ORDER BY name LIMIT ?",
                (kind, after or "", -1 if limit is None else limit),
            ).fetchall()
        return [self._object(kind, *row) for row in rows]

    def count_objects(self, kind: str) -> int:
        """How many objects of a kind are stored."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM policy_objects WHERE kind = ?", (kind,)
            ).fetchone()
        return int(row[0])

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
        self,
        objects: Iterable[tuple[str, str, Mapping[str, Any]]],
        *,
        replace_all: bool = False,
        remove: Iterable[tuple[str, str]] = (),
    ) -> int:
        """Create or replace objects (``(kind, name, body)``), remove others, in one transaction.

        The resulting policy is built and validated before anything is written, so a
        write that would make the policy unusable (a bad schedule, more than
        ``max_policy_objects`` of a kind) changes nothing. The build runs outside the
        store's lock (scoring goes on with the policy before the write meanwhile); if
        another write commits during it, it is built again. With ``replace_all`` every
        stored object is removed first (an import).

        Raises
        ------
        ConfigurationError
            Naming the object and what is wrong; nothing is written.
        """
        items = [(k, n, orjson.dumps(b).decode()) for k, n, b in objects]
        gone = set(remove)
        for _attempt in range(_BUILD_ATTEMPTS):
            with self._lock:
                version = self.version("policy")
                rows = [] if replace_all else self._rows()
            policy = self._policy_of(_merged(rows, items, gone), self.max_policy_objects)
            with self._writer():
                if self.version("policy") != version:
                    continue  # another write came first: build on top of it
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if replace_all:
                        self._db.execute("DELETE FROM policy_objects")
                    self._db.executemany(
                        "DELETE FROM policy_objects WHERE kind = ? AND name = ?", sorted(gone)
                    )
                    now = time.time_ns() // 1000
                    self._db.executemany(
                        "INSERT OR REPLACE INTO policy_objects VALUES (?, ?, ?, ?)",
                        [(k, n, b, now) for k, n, b in items],
                    )
                    version = int(self._db.execute(_BUMP, ("policy",)).fetchone()[0])
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._policy = (version, policy)
                return len(items)
        raise ConfigurationError(
            f"the policy changed {_BUILD_ATTEMPTS} times while this write was validated; try again"
        )

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
        ``policy`` counter it incremented differs from the cached policy's. The build
        runs outside the store's lock, one thread at a time.
        """
        with self._lock:
            version = self.version("policy")
            if self._policy is not None and self._policy[0] == version:
                return self._policy[1]
        with self._building:
            with self._lock:
                version = self.version("policy")
                if self._policy is not None and self._policy[0] == version:
                    return self._policy[1]
                rows = self._rows()
            policy = self._policy_of(rows, None)
            with self._lock:
                if self._policy is None or self._policy[0] < version:
                    self._policy = (version, policy)
            return policy

    def _rows(self) -> list[tuple[str, str, str]]:
        return list(
            self._db.execute("SELECT kind, name, body FROM policy_objects ORDER BY kind, name")
        )

    @staticmethod
    def _policy_of(rows: Iterable[tuple[str, str, str]], limit: int | None) -> Policy:
        document: dict[str, Any] = {"version": 1, "timezone": "UTC"}
        counts: Counter[str] = Counter()
        for kind, _name, body in rows:
            key, _ = POLICY_KINDS[kind]
            value = orjson.loads(body)
            counts[kind] += 1
            if kind == "organization":
                document[key] = value
            else:
                document.setdefault(key, []).append(value)
        for kind, count in counts.items():
            if limit is not None and count > limit:
                raise ConfigurationError(
                    f"the policy would hold {count} objects of kind {kind!r}; at most "
                    f"{limit} are allowed (CHANGEWATCH_MAX_POLICY_OBJECTS)"
                )
        try:
            return Policy.from_files([PolicyFile.model_validate(document).resolved()])
        except (ValidationError, ValueError) as error:
            raise ConfigurationError(f"stored policy is not valid: {error}") from None


def _merged(
    rows: list[tuple[str, str, str]], items: list[tuple[str, str, str]], gone: set[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """Return the stored rows, ``items`` written over them and ``gone`` removed."""
    merged = {(k, n): b for k, n, b in rows if (k, n) not in gone}
    merged.update({(k, n): b for k, n, b in items})
    return [(k, n, b) for (k, n), b in sorted(merged.items())]
