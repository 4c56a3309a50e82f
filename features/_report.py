"""What an ingestion is asked to do and what it tells: options, rejections, the summary."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Final

from features._limits import DEFAULT_LIMITS, Limits
from features._walk import NotRead

__all__ = [
    "FORKED_WORKERS",
    "LISTED_NOT_READ",
    "WORKER_BYTES",
    "IngestOptions",
    "IngestReport",
    "Rejection",
]

logger = logging.getLogger(__name__)

LISTED_NOT_READ: Final = 100
"""Paths not read that the summary lists by name; the rejects report names every one."""


FORKED_WORKERS: Final = sys.platform == "linux"
"""Whether workers are forked (Linux) rather than spawned, which makes them cheap (ADR 0064)."""

WORKER_BYTES: Final = 64 << 20
"""Stored bytes of input a worker needs to pay for its start-up and its share of the join.

Measured on a shared 2-core machine (ADR 0053, 0064): even forked workers, which start
with what the ingestion has imported, lost by the wall clock on 102 MB of 500-record
files and only sometimes won on 48.6 MB of small files, for 0.8-2 s more CPU.
"""


@dataclass(frozen=True, slots=True)
class Rejection:
    """One thing that was not kept: a record (with position), a file, or a path.

    ``kind`` is ``"record"``; ``"source"`` for a file rejected whole; ``"skipped"`` for a
    file or folder left out on purpose (a digest, JSON without CloudTrail in a folder);
    ``"path"`` for a folder or link that could not be read.
    """

    source: str
    position: int | None
    field: str | None
    reason: str
    kind: str = "record"

    def to_json(self) -> dict[str, Any]:
        """Return the rejects-report line of this rejection."""
        return {
            "kind": self.kind,
            "source": self.source,
            "position": self.position,
            "field": self.field,
            "reason": self.reason,
        }

    @property
    def message(self) -> str:
        """The rejection in one line, as ``--strict`` prints it."""
        if self.kind == "record":
            return f"{self.source}: record {self.position}: field {self.field!r}: {self.reason}"
        return f"{self.source}: {self.reason}"

    @classmethod
    def of_path(cls, not_read: NotRead) -> Rejection:
        """Return the rejection of a folder or link passed over while walking."""
        return cls(
            not_read.path, None, None, not_read.reason, "path" if not_read.failed else "skipped"
        )


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """How to ingest.

    Parameters
    ----------
    strict : bool
        Stop at the first rejected record or unreadable source (raises it).
    compute_only : bool
        Keep only events on compute resources (``resource_type`` not null).
    geoip : str, optional
        Path of a MaxMind-format database for country, ASN and AS organisation.
    person_roles : tuple of str
        Role ARN patterns whose sessions are people (see the identity-key ADR 0020).
    person_sessions : tuple of str
        Regular expressions of session names that name people (matched in full).
    jobs : int or None
        Parallel workers; ``1`` runs in this process. ``None`` decides from the input's
        stored size, its file count and the cores available: one process below
        ``2 * worker_bytes``, then a worker per ``worker_bytes`` (ADR 0053, 0064).
        ``strict`` forces ``1`` so the first problem in input order is the one reported.
    worker_bytes : int
        With ``jobs=None``: the stored bytes of input each worker must get before
        workers start (:data:`WORKER_BYTES`, 64 MiB).
    chunk_rows : int
        Rows normalised before a chunk is written out.
    max_document_bytes : int
        Largest JSON document or NDJSON line read whole (decompressed); a larger one
        is rejected with its reason (see :mod:`features._limits`).
    """

    strict: bool = False
    compute_only: bool = False
    geoip: str | None = None
    person_roles: tuple[str, ...] = ()
    person_sessions: tuple[str, ...] = ()
    jobs: int | None = 1
    worker_bytes: int = WORKER_BYTES
    chunk_rows: int = 65_536
    max_document_bytes: int = DEFAULT_LIMITS.document_bytes
    named: frozenset[str] = frozenset()
    """Paths named by the caller (set by :func:`ingest`); the rest came from walking folders."""

    @property
    def limits(self) -> Limits:
        """The bounds reading one source is held to."""
        return Limits(document_bytes=self.max_document_bytes)


@dataclass(slots=True)
class IngestReport:
    """What an ingestion read, kept and rejected, and every path it did not read.

    ``not_read`` names the first :data:`LISTED_NOT_READ` files rejected whole, files
    and folders skipped, and folders or links that could not be read, each with its
    reason; ``not_read_unlisted`` counts the others (the rejects report has them all).
    """

    records: int = 0
    kept: int = 0
    rejected: int = 0
    duplicates: int = 0
    filtered: int = 0
    files: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    paths_unreadable: int = 0
    seconds: float = 0.0
    processes: int = 1
    processes_reason: str = ""
    by_resource_type: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    rejected_by_field: dict[str, int] = field(default_factory=dict)
    not_read: list[NotRead] = field(default_factory=list)
    not_read_unlisted: int = 0
    out: str | None = None
    rejects: str | None = None

    @property
    def usable(self) -> bool:
        """Whether any record was read that was not rejected (kept, a duplicate or filtered)."""
        return self.records > self.rejected

    def name(self, entries: list[NotRead], unlisted: int = 0) -> None:
        """Add paths not read to :attr:`not_read`, keeping the list to its length."""
        room = max(0, LISTED_NOT_READ - len(self.not_read))
        self.not_read.extend(entries[:room])
        self.not_read_unlisted += unlisted + max(0, len(entries) - room)

    def to_json(self) -> dict[str, Any]:
        """Return the summary as JSON-ready data (the CLI's last line)."""
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        return {
            "records": self.records,
            "kept": self.kept,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "filtered": self.filtered,
            "files": self.files,
            "files_failed": self.files_failed,
            "files_skipped": self.files_skipped,
            "paths_unreadable": self.paths_unreadable,
            "not_read": [entry.to_json() for entry in self.not_read],
            "not_read_unlisted": self.not_read_unlisted,
            "resource_type": self.by_resource_type,
            "action": self.by_action,
            "rejected_by_field": self.rejected_by_field,
            "seconds": round(self.seconds, 3),
            "processes": self.processes,
            "processes_reason": self.processes_reason,
            "records_per_second": round(rate, 1),
            "out": self.out,
            "rejects": self.rejects,
        }
