"""The events table of the state database: what is kept of each event, and how it is read.

Each event is stored once (its id is unique) as its canonical row (JSON), beside the
columns reads select on: the identity, the time, the event's row classes
(:func:`features.row_flags`) and the values the automation rules judge
(principal, client family and version, source address, network). One covering index
holds all of these, so every read except that of the rows themselves is answered from
the index without touching the JSON.

:class:`StoredEvents` is what a reader sees of the table for one batch: the stored
events of the batch's identities, the batch's own ids left out. Rows come back in
time order, ties by event id.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import pyarrow as pa

from features import (
    ATTEMPTED_CHANGE,
    CANONICAL_SCHEMA,
    COMPUTE_INPUTS,
    DELETION,
    EBS_DIRECT_READ,
    OWN_CALL,
    rekey_row,
    row_flags,
)
from models.scoring import HistoryDigest

__all__ = [
    "EVENTS_SCHEMA",
    "Arrivals",
    "Call",
    "StoredEvents",
    "StoredRow",
    "light_values",
    "migrate_events",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 6
"""``PRAGMA user_version`` of the state: 0 kept no classes; 1 had them; 2 keys identities as
ADR 0020 says (1 keyed web-identity sessions per session, ADR 0002); 3 keeps each call's
autonomous system (the automation rules accept a new network of a known one); 4 has the
classes of the compute rule inputs (bits 11-22, ADR 0035); 5 classes chain steps, attachments
and user-data changes of every cloud (ADR 0048); 6 classes Google ``instances.get`` as a
user-data read and Azure serial console connections as key pushes (ADR 0056)."""
_TABLE: Final = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    identity_key TEXT NOT NULL,
    event_time_us INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    principal_arn TEXT,
    client_family TEXT,
    client_version TEXT,
    source_ip TEXT,
    network TEXT,
    asn INTEGER,
    row BLOB NOT NULL
)
"""
EVENTS_SCHEMA: Final = (
    _TABLE.format(name="events")
    + """;
CREATE INDEX IF NOT EXISTS events_reads ON events (identity_key, event_time_us, event_id, flags,
    principal_arn, client_family, client_version, source_ip, network, asn);
CREATE INDEX IF NOT EXISTS events_time ON events (event_time_us);
CREATE INDEX IF NOT EXISTS events_arrival ON events (identity_key, id);
"""
)
"""The events table and its indexes (a database of version 0 is migrated first)."""
_ARRIVAL: Final = "CREATE INDEX IF NOT EXISTS events_arrival ON events (identity_key, id)"
"""Each identity's events in the order they were stored (the model state catches up on it)."""
_COLUMNS: Final = (
    "event_id, identity_key, event_time_us, flags, principal_arn, client_family,"
    " client_version, source_ip, network, asn, row"
)
INSERT: Final = (
    f"INSERT OR IGNORE INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
"""Stores one event: id, identity, time, :func:`light_values`, then the JSON row."""

Light = tuple[int, str | None, str | None, str | None, str | None, str | None, int | None]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def light_values(row: Mapping[str, Any]) -> Light:
    """Return the flags, principal, client, source address, network and AS of a canonical row."""
    return (
        row_flags(row),
        _text(row.get("principal_arn")),
        _text(row.get("client_family")),
        _text(row.get("client_version")),
        _text(row.get("source_ip")),
        _text(row.get("network")),
        _int(row.get("asn")),
    )


def migrate_events(db: sqlite3.Connection) -> None:
    """Create the events table, or bring an older one to :data:`SCHEMA_VERSION`.

    Version 0 kept only id, identity, time and row in a ``WITHOUT ROWID`` table (whose
    large rows made every read by index slow); its events are copied into the new
    table with their classes. Older versions get, from each stored row's JSON, the classes
    of the rule inputs added since (:func:`features.row_flags`), the call's autonomous system,
    and their role sessions keyed as ADR 0020 says (:func:`features.rekey_row`). Runs in its
    own write transaction, and a database already migrated is left alone, so several
    processes may open one file at once.
    """
    if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        db.execute(_ARRIVAL)  # added after version 1: an index, so no new version
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            columns = {info[1] for info in db.execute("PRAGMA table_info(events)")}
            if columns and "flags" not in columns:
                _copy_version_0(db)
            elif columns:
                if "asn" not in columns:
                    _add_asn(db)
                _reclassify(db)
            if columns:
                _rekey(db)
            for statement in EVENTS_SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _copy_version_0(db: sqlite3.Connection) -> None:
    db.execute(_TABLE.format(name="events_v1"))
    old = db.cursor().execute("SELECT event_id, identity_key, event_time_us, row FROM events")
    while chunk := old.fetchmany(4096):
        db.executemany(
            f"INSERT INTO events_v1 ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(i, k, t, *light_values(orjson.loads(b)), b) for i, k, t, b in chunk],
        )
    db.execute("DROP TABLE events")
    db.execute("ALTER TABLE events_v1 RENAME TO events")


def _add_asn(db: sqlite3.Connection) -> None:
    """Version 1 and 2 tables: add each call's autonomous system, read from its stored row."""
    db.execute("DROP INDEX IF EXISTS events_reads")
    db.execute("ALTER TABLE events ADD COLUMN asn INTEGER")
    rows = db.cursor().execute("SELECT id, row FROM events")
    while chunk := rows.fetchmany(4096):
        found = [(_int(orjson.loads(blob).get("asn")), key) for key, blob in chunk]
        db.executemany("UPDATE events SET asn = ? WHERE id = ?", [f for f in found if f[0]])


def _rekey(db: sqlite3.Connection) -> int:
    """Key stored role sessions as ADR 0020 says; returns how many events changed key."""
    changed: list[tuple[str, bytes, int]] = []
    rows = db.cursor().execute(
        "SELECT id, identity_key, row FROM events WHERE identity_key LIKE '%:role/%/%'"
    )
    while chunk := rows.fetchmany(4096):
        for key, identity, blob in chunk:
            row = orjson.loads(blob)
            new = rekey_row(
                row.get("identity_type"),
                identity,
                row.get("principal_arn"),
                row.get("session_name"),
                row.get("source_identity"),
            )
            if new != identity:
                row["identity_key"] = new
                changed.append((new, orjson.dumps(row), key))
    db.executemany("UPDATE events SET identity_key = ?, row = ? WHERE id = ?", changed)
    if changed:
        logger.info("state migration: %d stored events keyed again (ADR 0020)", len(changed))
    return len(changed)


def _reclassify(db: sqlite3.Connection) -> None:
    """Compute every stored row's classes again from its JSON (a version-1 database)."""
    rows = db.cursor().execute("SELECT id, row FROM events")
    while chunk := rows.fetchmany(4096):
        db.executemany(
            "UPDATE events SET flags = ? WHERE id = ?",
            [(row_flags(orjson.loads(blob)), key) for key, blob in chunk],
        )


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One stored event as the index tells it: id, identity, time (microseconds), classes.

    ``key`` is the row's number in the table: never given to another row, so whatever
    is computed from a stored event's content can be remembered under it.
    """

    key: int
    event_id: str
    identity: str
    time: int
    flags: int


@dataclass(frozen=True, slots=True)
class Arrivals:
    """One identity's stored events after a key, in the order they were stored.

    Attributes
    ----------
    total : int
        Events of the identity in the store.
    keys : tuple of int
        Keys of the events read, ascending.
    rows : pyarrow.Table or None
        Those events (canonical), in the same order.
    """

    total: int
    keys: tuple[int, ...] = ()
    rows: pa.Table | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """Distinct own calls of one identity: who, with which client, from where, and when first."""

    identity: str
    principal_arn: str | None
    client_family: str | None
    client_version: str | None
    source_ip: str | None
    network: str | None
    asn: int | None
    first: int


def _decode(blobs: Iterable[bytes]) -> pa.Table | None:
    decoded = [orjson.loads(blob) for blob in blobs]
    if not decoded:
        return None
    return pa.Table.from_pylist(decoded, schema=CANONICAL_SCHEMA)


_ROW: Final = "id, event_id, identity_key, event_time_us, flags"


class StoredEvents:
    """The stored events of a batch's identities, its own event ids left out.

    Parameters
    ----------
    db : sqlite3.Connection
        The state database, inside the transaction that admits the batch.
    identities : sequence of str
        The batch's identity keys.
    exclude : collection of str
        Event ids to leave out (the batch's ids that are stored already).
    """

    def __init__(
        self, db: sqlite3.Connection, identities: Sequence[str], exclude: Collection[str]
    ) -> None:
        self._db = db
        self._scope = "identity_key IN (SELECT value FROM json_each(?))"
        self._params: list[Any] = [orjson.dumps(list(identities)).decode()]
        if exclude:
            self._scope += " AND event_id NOT IN (SELECT value FROM json_each(?))"
            self._params.append(orjson.dumps(sorted(exclude)).decode())

    def _select(self, columns: str, where: str, *params: Any, tail: str = "") -> list[Any]:
        """Run a query over the batch's scope; ``params`` belong to ``where`` alone."""
        query = f"SELECT {columns} FROM events WHERE {self._scope} AND {where} {tail}"
        return self._db.execute(query, (*self._params, *params)).fetchall()

    def _rows(self, where: str, *params: Any, tail: str = "") -> list[StoredRow]:
        return [StoredRow(*r) for r in self._select(_ROW, where, *params, tail=tail)]

    def everything(self) -> pa.Table | None:
        """Every stored event of the identities, as a canonical table in time order."""
        found = self._select("row", "1", tail="ORDER BY event_time_us, event_id")
        return _decode(r[0] for r in found)

    def arrivals(self, identity: str, after: int = -1) -> Arrivals:
        """Return the identity's events stored after key ``after`` (all of them for ``-1``).

        Unlike the other reads, the batch's own ids are not left out: this is what the
        model state of the identity has not taken in yet (``serving._model_states``).
        """
        total = self._db.execute(
            "SELECT COUNT(*) FROM events WHERE identity_key = ?", (identity,)
        ).fetchone()[0]
        found = self._db.execute(
            "SELECT id, row FROM events WHERE identity_key = ? AND id > ? ORDER BY id",
            (identity, after),
        ).fetchall()
        return Arrivals(int(total), tuple(k for k, _ in found), _decode(r for _, r in found))

    def last_key(self) -> int:
        """Return the newest key given so far (``-1`` for an empty store)."""
        found = self._db.execute("SELECT MAX(id) FROM events").fetchone()[0]
        return -1 if found is None else int(found)

    def events(self, keys: Iterable[int]) -> pa.Table | None:
        """Return the stored events with these keys, as a canonical table in time order."""
        query = (
            "SELECT row FROM events WHERE id IN (SELECT value FROM json_each(?))"
            " ORDER BY event_time_us, event_id"
        )
        found = self._db.execute(query, (orjson.dumps(list(keys)).decode(),))
        return _decode(r[0] for r in found)

    def digest(self, before: int) -> HistoryDigest:
        """Return what an IdentityHistory needs of the events before ``before`` (microseconds)."""
        did = "".join(f", MAX(flags & {one.bit})" for one in COMPUTE_INPUTS)
        spans = self._select(
            "identity_key, MIN(event_time_us), MAX(event_time_us),"
            f" MAX(flags & {EBS_DIRECT_READ.bit}){did}",
            "event_time_us < ?",
            before,
            tail="GROUP BY identity_key",
        )
        if not spans:
            return HistoryDigest()
        clients: dict[str, set[str]] = {}
        networks: dict[str, set[str]] = {}
        asns: dict[str, set[int]] = {}
        for identity, family, network, asn in self._select(
            "DISTINCT identity_key, client_family, network, asn",
            "event_time_us < ? AND flags & ?",
            before,
            OWN_CALL.bit,
        ):
            if family is not None:
                clients.setdefault(identity, set()).add(family)
            if network is not None:
                networks.setdefault(identity, set()).add(network)
            if asn is not None:
                asns.setdefault(identity, set()).add(int(asn))
        changes: dict[str, list[int]] = {}
        deletions: dict[str, list[int]] = {}
        for identity, moment, deletion in self._select(
            f"identity_key, event_time_us, flags & {DELETION.bit}",
            "event_time_us < ? AND flags & ?",
            before,
            ATTEMPTED_CHANGE.bit,
        ):
            changes.setdefault(identity, []).append(moment)
            if deletion:
                deletions.setdefault(identity, []).append(moment)
        return HistoryDigest(
            first=min(s[1] for s in spans),
            last=max(s[2] for s in spans),
            last_seen={s[0]: s[2] for s in spans},
            clients={k: frozenset(v) for k, v in clients.items()},
            networks={k: frozenset(v) for k, v in networks.items()},
            asns={k: frozenset(v) for k, v in asns.items()},
            changes=changes,
            deletions=deletions,
            ebs_direct_readers=frozenset(s[0] for s in spans if s[3]),
            actors={
                one.name: frozenset(s[0] for s in spans if s[4 + position])
                for position, one in enumerate(COMPUTE_INPUTS)
            },
        )

    def older(self, before: int, flags: int) -> list[StoredRow]:
        """Every stored event before ``before`` (us) with any of the row classes in ``flags``.

        From the index alone, in time order (ties by id): :meth:`events` decodes them.
        """
        return self._rows(
            "event_time_us < ? AND flags & ?",
            before,
            flags,
            tail="ORDER BY event_time_us, event_id",
        )

    def flagged(self, since: int, flags: int) -> list[StoredRow]:
        """Events at or after ``since`` (us) with any of the row classes in ``flags``."""
        return self._rows("event_time_us >= ? AND flags & ?", since, flags)

    def firsts(self, since: int) -> dict[str, int]:
        """Time of each identity's first event at or after ``since`` (us)."""
        found = self._select(
            "identity_key, MIN(event_time_us)",
            "event_time_us >= ?",
            since,
            tail="GROUP BY identity_key",
        )
        return {str(identity): int(moment) for identity, moment in found}

    def at(self, moments: Iterable[tuple[str, int]]) -> list[StoredRow]:
        """Every event of the given identities at the given times (us)."""
        pairs = sorted(set(moments))
        if not pairs:
            return []
        return self._rows(
            "(identity_key, event_time_us) IN "
            # json_extract, not ->>: the operator needs SQLite 3.38, Ubuntu 22.04 has 3.37.
            "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))",
            orjson.dumps(pairs).decode(),
        )

    def calls(self, since: int) -> list[Call]:
        """Distinct own calls at or after ``since`` (us), with the first time of each."""
        found = self._select(
            "identity_key, principal_arn, client_family, client_version, source_ip, network, asn,"
            " MIN(event_time_us)",
            "event_time_us >= ? AND flags & ?",
            since,
            OWN_CALL.bit,
            tail="GROUP BY 1, 2, 3, 4, 5, 6, 7",
        )
        return [Call(*row) for row in found]

    def calls_like(self, since: int, calls: Iterable[Call]) -> list[StoredRow]:
        """Own events at or after ``since`` (us) made exactly as one of ``calls``."""
        rows: list[StoredRow] = []
        for call in calls:
            rows += self._rows(
                "event_time_us >= ? AND flags & ? AND identity_key = ? AND principal_arn IS ?"
                " AND client_family IS ? AND client_version IS ? AND source_ip IS ?"
                " AND network IS ? AND asn IS ?",
                since,
                OWN_CALL.bit,
                call.identity,
                call.principal_arn,
                call.client_family,
                call.client_version,
                call.source_ip,
                call.network,
                call.asn,
            )
        return rows
