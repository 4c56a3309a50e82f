"""The findings book: every finding the service or ``score --state`` returned, and its verdict.

Findings are kept in the state database (its own tables, its own connection), once per
``finding_id``: a finding reported again refreshes its body and ``last_seen`` but keeps
its status. The status follows OCSF's Detection Finding: ``new``, ``in_progress``,
``suppressed``, ``resolved``; a resolved or suppressed finding also has a resolution
(``benign``, ``malicious`` or ``duplicate``), a note and who gave it.

Beside the findings, the book keeps the audit of suppressions: each rule hit an active
suppression dropped (``silenced``), and each a dry-run suppression would have dropped
(``rehearsed``), once per suppression, rule, identity and start; and each
``Automation.*`` hit a dry-run automation entry would have raised (``armed``, under the
entry's name).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import orjson
import pandas as pd

from features import InputError
from models.scoring import Finding, Hit, severity_rank
from serving._sqlite import WriteLock, open_database

__all__ = [
    "RESOLUTIONS",
    "STATUSES",
    "AuditRow",
    "FindingsBook",
    "StoredFinding",
    "verdict_labels",
]

logger = logging.getLogger(__name__)

STATUSES: Final = ("new", "in_progress", "suppressed", "resolved")
"""OCSF-style statuses of a stored finding."""
RESOLUTIONS: Final = ("benign", "malicious", "duplicate")
"""What an analyst concluded."""
Mode = Literal["silenced", "rehearsed", "armed"]

_US: Final = 1_000_000
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS findings (
    finding_id TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    window_start_us INTEGER NOT NULL,
    first_seen_us INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'new',
    resolution TEXT,
    note TEXT,
    verdict_by TEXT,
    verdict_us INTEGER,
    suppressions TEXT NOT NULL DEFAULT '[]',
    event_names TEXT NOT NULL DEFAULT '{}',
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_page ON findings (window_start_us, finding_id);
CREATE TABLE IF NOT EXISTS suppression_audit (
    suppression TEXT NOT NULL,
    mode TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    identity TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    event_ids TEXT NOT NULL,
    seen_us INTEGER NOT NULL,
    PRIMARY KEY (suppression, mode, rule_id, identity, start_us)
);
"""


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * _US + moment.microsecond


def _moment(us: int | None) -> datetime | None:
    return None if us is None else datetime.fromtimestamp(us / _US, UTC)


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding as kept: the finding, its status and verdict, and when it was seen."""

    finding: Finding
    status: str
    resolution: str | None
    note: str | None
    verdict_by: str | None
    verdict_at: datetime | None
    suppressions: list[str]
    first_seen: datetime
    last_seen: datetime
    source: str
    event_names: dict[str, str]


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One hit a suppression dropped (``silenced``) or would have dropped (``rehearsed``).

    Or one a dry-run automation entry would have raised (``armed``; ``suppression`` is
    then the entry's name).
    """

    suppression: str
    mode: str
    rule_id: str
    identity: str
    start: datetime
    event_ids: list[str]


class FindingsBook:
    """Stored findings, their verdicts and the suppression audit (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The state database (the service's ``--state``); tables are created when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._writer = WriteLock(self.path, self._lock)
        self._closed = True
        self.open()

    def open(self) -> None:
        """Open the database (again, after :meth:`close`); a no-op when it is open."""
        with self._lock:
            if not self._closed:
                return
            self._db = open_database(
                self.path, self._writer, lambda db: db.executescript(_SCHEMA), "findings in"
            )
            self._closed = False

    def close(self) -> None:
        """Close the connection and the lock file until :meth:`open` is called again."""
        with self._lock:
            if self._closed:
                return
            self._db.close()
            self._writer.close()
            self._closed = True

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._writer():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # --------------------------------------------------------------- writing

    def record(
        self,
        findings: Iterable[Finding],
        *,
        source: str,
        event_names: Mapping[str, str] | None = None,
    ) -> int:
        """Keep findings (new ones as ``new``; known ones keep their status); return how many.

        ``event_names`` (event id -> CloudTrail name) lets a verdict scope a suppression
        to the finding's actions later.
        """
        names = event_names or {}
        now = time.time_ns() // 1000
        rows = [
            (
                f.finding_id,
                f.identity,
                severity_rank(f.severity),
                _us(f.window_start),
                now,
                now,
                source,
                orjson.dumps({i: names[i] for i in f.event_ids if i in names}).decode(),
                f.model_dump_json(),
            )
            for f in findings
        ]
        if not rows:
            return 0
        with self._write():
            self._db.executemany(
                "INSERT INTO findings (finding_id, identity, severity_rank, window_start_us,"
                " first_seen_us, last_seen_us, source, event_names, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (finding_id) DO UPDATE SET"
                " last_seen_us = excluded.last_seen_us, body = excluded.body,"
                " severity_rank = excluded.severity_rank, event_names = json_patch("
                "findings.event_names, excluded.event_names)",
                rows,
            )
        return len(rows)

    def audit(self, mode: Mode, pairs: Iterable[tuple[Hit, str]]) -> int:
        """Keep the hits a suppression (named) dropped or would have dropped; return new ones."""
        now = time.time_ns() // 1000
        rows = [
            (name, mode, h.rule_id, h.identity, _us(h.start), orjson.dumps(list(h.event_ids)), now)
            for h, name in pairs
        ]
        if not rows:
            return 0
        with self._write():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO suppression_audit VALUES (?, ?, ?, ?, ?, ?, ?)", rows
            )
            return int(self._db.total_changes - before)

    def set_verdict(
        self,
        finding_id: str,
        *,
        resolution: str,
        note: str | None,
        by: str,
        suppressions: list[str],
        status: str = "resolved",
    ) -> StoredFinding:
        """Record an analyst's verdict on a stored finding and return it.

        Raises
        ------
        InputError
            When no finding has that id, or the resolution or status is unknown.
        """
        if resolution not in RESOLUTIONS or status not in STATUSES:
            raise InputError(f"finding {finding_id}: unknown verdict {resolution!r}/{status!r}")
        with self._write():
            row = self._db.execute(
                "SELECT suppressions FROM findings WHERE finding_id = ?", (finding_id,)
            ).fetchone()
            if row is None:
                raise InputError(f"no finding {finding_id!r}")
            kept = sorted({*orjson.loads(row[0]), *suppressions})
            self._db.execute(
                "UPDATE findings SET status = ?, resolution = ?, note = ?, verdict_by = ?,"
                " verdict_us = ?, suppressions = ? WHERE finding_id = ?",
                (
                    status,
                    resolution,
                    note,
                    by,
                    time.time_ns() // 1000,
                    orjson.dumps(kept).decode(),
                    finding_id,
                ),
            )
        found = self.get(finding_id)
        assert found is not None  # written in the transaction above
        return found

    def set_status(self, finding_id: str, status: str) -> StoredFinding | None:
        """Move a finding to ``new`` or ``in_progress``; ``None`` when it is unknown."""
        if status not in ("new", "in_progress"):
            raise InputError(f"finding {finding_id}: status {status!r} needs a verdict")
        with self._write():
            changed = self._db.execute(
                "UPDATE findings SET status = ? WHERE finding_id = ?", (status, finding_id)
            ).rowcount
        return self.get(finding_id) if changed else None

    # --------------------------------------------------------------- reading

    _COLUMNS: Final = (
        "body, status, resolution, note, verdict_by, verdict_us, suppressions,"
        " first_seen_us, last_seen_us, source, event_names, window_start_us, finding_id"
    )

    @staticmethod
    def _stored(row: tuple[Any, ...]) -> StoredFinding:
        return StoredFinding(
            finding=Finding.model_validate_json(row[0]),
            status=row[1],
            resolution=row[2],
            note=row[3],
            verdict_by=row[4],
            verdict_at=_moment(row[5]),
            suppressions=orjson.loads(row[6]),
            first_seen=_moment(row[7]) or datetime.now(UTC),
            last_seen=_moment(row[8]) or datetime.now(UTC),
            source=row[9],
            event_names=orjson.loads(row[10]),
        )

    def get(self, finding_id: str) -> StoredFinding | None:
        """Return the stored finding, or ``None``."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLUMNS} FROM findings WHERE finding_id = ?", (finding_id,)
            ).fetchone()
        return None if row is None else self._stored(row)

    def page(
        self,
        *,
        status: str | None = None,
        min_severity: int | None = None,
        identity: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> tuple[list[StoredFinding], tuple[int, str] | None]:
        """Return up to ``limit`` findings in (window start, id) order, and the next cursor."""
        where: list[str] = []
        args: list[Any] = []
        for clause, value in (
            ("status = ?", status),
            ("severity_rank >= ?", min_severity),
            ("identity = ?", identity),
            ("window_start_us >= ?", None if since is None else _us(since)),
            ("window_start_us < ?", None if until is None else _us(until)),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        if after is not None:
            where.append("(window_start_us, finding_id) > (?, ?)")
            args.extend(after)
        sql = f"SELECT {self._COLUMNS} FROM findings"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY window_start_us, finding_id LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit + 1)).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = (int(rows[-1][11]), str(rows[-1][12])) if more else None
        return [self._stored(r) for r in rows], cursor

    def audit_rows(self, suppression: str | None = None, limit: int = 100) -> list[AuditRow]:
        """Return the newest audit rows, of one suppression or of all."""
        sql = "SELECT suppression, mode, rule_id, identity, start_us, event_ids FROM "
        sql += "suppression_audit" + (" WHERE suppression = ?" if suppression else "")
        sql += " ORDER BY seen_us DESC LIMIT ?"
        args = (suppression, limit) if suppression else (limit,)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [
            AuditRow(s, m, r, i, _moment(t) or datetime.now(UTC), orjson.loads(e))
            for s, m, r, i, t, e in rows
        ]

    def audit_counts(self) -> dict[tuple[str, str], int]:
        """Hits silenced, rehearsed and armed, by (suppression or automation entry, mode)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT suppression, mode, COUNT(*) FROM suppression_audit GROUP BY 1, 2"
            ).fetchall()
        return {(s, m): int(n) for s, m, n in rows}

    def status_counts(self) -> dict[str, int]:
        """Count the stored findings by status."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM findings GROUP BY 1").fetchall()
        return {str(s): int(n) for s, n in rows}

    def verdicts(self) -> list[StoredFinding]:
        """Every finding with a verdict (``resolution`` set), oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLUMNS} FROM findings WHERE resolution IS NOT NULL"
                " ORDER BY verdict_us, finding_id"
            ).fetchall()
        return [self._stored(r) for r in rows]


def verdict_labels(verdicts: Iterable[StoredFinding]) -> pd.DataFrame:
    """Return the verdicts as event labels (``event_id``, ``scenario``, ``kind``).

    A malicious finding's events are ``attack`` labels, a benign one's ``hard_negative``
    labels; the scenario is ``verdict:<finding_id>``. Duplicates give no labels (the
    finding they repeat has them). An event in both kinds is an attack.
    """
    kinds = {"malicious": "attack", "benign": "hard_negative"}
    rows = [
        (event_id, f"verdict:{v.finding.finding_id}", kinds[v.resolution])
        for v in verdicts
        if v.resolution in kinds
        for event_id in v.finding.event_ids
    ]
    frame = pd.DataFrame(rows, columns=["event_id", "scenario", "kind"])
    frame = frame.sort_values("kind", kind="stable")  # 'attack' before 'hard_negative'
    return frame.drop_duplicates("event_id").reset_index(drop=True)
