"""Ingestion: sources -> canonical Parquet table, with rejects and a summary.

Work is split into tasks of whole files; each task normalises its files in chunks
and writes them out as it goes (see :mod:`features._output`), with a rejects file
in a scratch folder beside the output, so memory stays bounded by the chunk size
whatever the input size. Tasks run in parallel with joblib; a single task writes
the output directly. The output keeps the first copy of every event id (CloudTrail
may deliver an event twice).

Accounting invariant: ``records == kept + rejected + duplicates``.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import tempfile
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from joblib import Parallel, delayed

from features._columnar import normalize_batch
from features._exceptions import RecordRejected, SourceError
from features._identity import IdentityKeyRule
from features._network import GeoIP
from features._normalize import Normalizer, TableBuilder
from features._output import (
    DirectOutput,
    ScratchParts,
    assemble_parts,
    finish_direct,
    output_summary,
)
from features._sources import (
    STDIN,
    NotCloudTrail,
    RawChunk,
    SkippedSource,
    discover,
    read_source,
)

__all__ = [
    "IngestOptions",
    "IngestReport",
    "RecordsResult",
    "Rejection",
    "ingest",
    "records_to_table",
]

logger = logging.getLogger(__name__)

_TASK_BYTES: Final = 32 << 20
_BATCH_RECORDS: Final = 4096


@dataclass(frozen=True, slots=True)
class Rejection:
    """One thing that was not kept: a record (with position) or a whole source."""

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
    jobs : int
        Parallel workers; ``1`` runs in this process. ``strict`` forces ``1`` so the
        first problem in input order is the one reported.
    chunk_rows : int
        Rows normalised before a chunk is written out.
    """

    strict: bool = False
    compute_only: bool = False
    geoip: str | None = None
    person_roles: tuple[str, ...] = ()
    person_sessions: tuple[str, ...] = ()
    jobs: int = 1
    chunk_rows: int = 65_536
    named: frozenset[str] = frozenset()
    """Paths named by the caller (set by :func:`ingest`); the rest came from walking folders."""


@dataclass(slots=True)
class IngestReport:
    """What an ingestion read, kept and rejected."""

    records: int = 0
    kept: int = 0
    rejected: int = 0
    duplicates: int = 0
    filtered: int = 0
    files: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    seconds: float = 0.0
    by_resource_type: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    rejected_by_field: dict[str, int] = field(default_factory=dict)
    out: str | None = None
    rejects: str | None = None

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
            "resource_type": self.by_resource_type,
            "action": self.by_action,
            "rejected_by_field": self.rejected_by_field,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(rate, 1),
            "out": self.out,
            "rejects": self.rejects,
        }


@dataclass(slots=True)
class _TaskResult:
    parts: list[str]
    rejects_path: str
    records: int = 0
    rejected: int = 0
    filtered: int = 0
    files: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    rejected_by_field: Counter[str] = field(default_factory=Counter)


def _normalizer(options: IngestOptions) -> Normalizer:
    geoip = GeoIP(options.geoip) if options.geoip else None
    return Normalizer(IdentityKeyRule(options.person_roles, options.person_sessions), geoip)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while parsing.

    Parsed records hold no reference cycles, so reference counting frees them; but
    millions of live containers make every generation-2 collection walk them all,
    which doubled ingestion time in measurements. Collection resumes afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_task(
    index: int,
    sources: Sequence[str],
    scratch: str,
    options: IngestOptions,
    direct: str | None = None,
) -> _TaskResult:
    """Normalise some sources; never raises for bad input unless strict.

    Rows go to scratch parts, or straight into the Parquet file ``direct`` when given.
    """
    with _no_cyclic_gc():
        sink = DirectOutput(direct) if direct else ScratchParts(scratch, index)
        try:
            result = _run_task_body(index, sources, scratch, options, sink)
        finally:
            sink.close()
        result.parts = sink.paths if isinstance(sink, ScratchParts) else []
        return result


def _run_task_body(
    index: int,
    sources: Sequence[str],
    scratch: str,
    options: IngestOptions,
    sink: DirectOutput | ScratchParts,
) -> _TaskResult:
    normalizer = _normalizer(options)
    result = _TaskResult(parts=[], rejects_path=os.path.join(scratch, f"rejects-{index:06d}.jsonl"))
    tables: list[pa.Table] = []
    pending_rows = 0
    raw: list[Any] = []
    # Where each pending record came from, one entry per chunk: (first index, chunk).
    where: list[tuple[int, RawChunk]] = []

    with open(result.rejects_path, "wb") as rejects:

        def reject(rejection: Rejection) -> None:
            result.rejected += rejection.kind == "record"
            if rejection.field is not None:
                result.rejected_by_field[rejection.field] += 1
            if options.strict and rejection.kind == "record":
                raise RecordRejected(
                    rejection.field or "(record)",
                    rejection.reason,
                    source=rejection.source,
                    position=rejection.position,
                )
            rejects.write(orjson.dumps(rejection.to_json()) + b"\n")

        def write_part() -> None:
            nonlocal tables, pending_rows
            if not tables:
                return
            table = pa.concat_tables(tables)
            tables, pending_rows = [], 0
            if options.compute_only:
                before = table.num_rows
                table = table.filter(pc.is_valid(table["resource_type"]))
                result.filtered += before - table.num_rows
            if table.num_rows:
                sink.write(table)

        def normalize_pending() -> None:
            nonlocal raw, where, pending_rows
            if not raw:
                return
            starts = [start for start, _ in where]

            def raw_of(position: int) -> Any:
                start, chunk = where[bisect_right(starts, position) - 1]
                return chunk.raw(position - start)

            table, rejected = normalize_batch(raw, normalizer, raw_of=raw_of)
            for position, error in rejected:
                start, chunk = where[bisect_right(starts, position) - 1]
                reject(
                    Rejection(
                        chunk.source, chunk.positions[position - start], error.field, error.reason
                    )
                )
            raw, where = [], []
            tables.append(table)
            pending_rows += table.num_rows
            if pending_rows >= options.chunk_rows:
                write_part()

        for source in sources:
            result.files += 1
            try:
                for chunk in read_source(source):
                    result.records += len(chunk.records)
                    where.append((len(raw), chunk))
                    raw.extend(chunk.records)
                    if len(raw) >= _BATCH_RECORDS:
                        normalize_pending()
            except SkippedSource as skipped:
                result.files_skipped += 1
                logger.info("skipped %s", skipped)
            except NotCloudTrail as error:
                if source not in options.named:
                    result.files_skipped += 1
                    logger.info("skipped %s", error)
                elif options.strict:
                    raise
                else:
                    result.files_failed += 1
                    reject(Rejection(source, None, None, error.reason, kind="source"))
            except SourceError as error:
                if options.strict:
                    normalize_pending()  # a bad record read before the break comes first
                    raise
                result.files_failed += 1
                reject(Rejection(source, None, None, error.reason, kind="source"))
            if options.strict:
                normalize_pending()
        normalize_pending()
        write_part()
    return result


def _tasks(sources: Sequence[str], jobs: int) -> list[list[str]]:
    """Group sources into tasks of about :data:`_TASK_BYTES`, enough to keep workers busy."""
    if jobs <= 1:
        return [list(sources)] if sources else []
    sizes = [0 if s == STDIN else os.path.getsize(s) for s in sources]
    budget = max(1, min(_TASK_BYTES, sum(sizes) // (jobs * 4) + 1))
    tasks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for source, size in zip(sources, sizes, strict=True):
        current.append(source)
        used += size
        if used >= budget:
            tasks.append(current)
            current, used = [], 0
    if current:
        tasks.append(current)
    return tasks


def ingest(
    paths: Iterable[str | Path],
    out: str | Path,
    *,
    options: IngestOptions | None = None,
    rejects: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Read CloudTrail from files, directories or standard input into the canonical table.

    Parameters
    ----------
    paths : iterable of str or Path
        Files, directories (walked, S3 delivery layout included) or ``"-"``.
    out : str or Path
        The Parquet file to write.
    options : IngestOptions, optional
        Strictness, filtering, GeoIP and parallelism.
    rejects : str or Path, optional
        Where the rejects report goes (JSON lines); default ``<out>.rejects.jsonl``.
    progress : callable, optional
        Called with the number of files each finished task read.

    Returns
    -------
    IngestReport
        Counts, per-taxonomy totals and where output and rejects went.

    Raises
    ------
    SourceError, RecordRejected
        With ``strict``, the first problem met; without it, only for paths that do
        not exist.
    """
    options = options or IngestOptions()
    started = time.perf_counter()
    paths = list(paths)
    sources = discover(paths)
    options = replace(options, named=frozenset(str(path) for path in paths))
    out = str(out)
    rejects_path = str(rejects) if rejects is not None else f"{out}.rejects.jsonl"
    jobs = 1 if options.strict or STDIN in sources else max(1, options.jobs)
    report = IngestReport(out=out, rejects=rejects_path)
    scratch = tempfile.mkdtemp(
        prefix=".changewatch-ingest-", dir=os.path.dirname(os.path.abspath(out))
    )
    partial = f"{out}.partial"
    try:
        tasks = _tasks(sources, jobs)
        direct = len(tasks) <= 1  # one task writes the output itself
        if direct:
            results: Iterable[_TaskResult] = [
                _run_task(0, tasks[0] if tasks else [], scratch, options, direct=partial)
            ]
        else:
            parallel = Parallel(n_jobs=min(jobs, len(tasks)), return_as="generator")
            results = parallel(
                delayed(_run_task)(i, task, scratch, options) for i, task in enumerate(tasks)
            )
        parts: list[str] = []
        by_field: Counter[str] = Counter()
        with open(rejects_path, "wb") as rejects_out:
            for result in results:
                parts.extend(result.parts)
                report.records += result.records
                report.rejected += result.rejected
                report.filtered += result.filtered
                report.files += result.files
                report.files_failed += result.files_failed
                report.files_skipped += result.files_skipped
                by_field.update(result.rejected_by_field)
                with open(result.rejects_path, "rb") as part_rejects:
                    shutil.copyfileobj(part_rejects, rejects_out)
                if progress is not None:
                    progress(result.files)
        report.rejected_by_field = dict(by_field.most_common())
        if direct:
            report.duplicates = finish_direct(partial, out)
        else:
            report.duplicates = assemble_parts(parts, out)
        report.kept, report.by_resource_type, report.by_action = output_summary(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if os.path.exists(partial):
            os.remove(partial)
    report.seconds = time.perf_counter() - started
    logger.info(
        "ingested %d records from %d files: %d kept, %d rejected, %d duplicates",
        report.records,
        report.files,
        report.kept,
        report.rejected,
        report.duplicates,
    )
    return report


@dataclass(frozen=True, slots=True)
class RecordsResult:
    """Canonical table of in-memory records, with what was not kept."""

    table: pa.Table
    rejections: list[Rejection]
    duplicates: int


def records_to_table(
    records: Iterable[Any], *, source: str = "<request>", normalizer: Normalizer | None = None
) -> RecordsResult:
    """Normalise in-memory records (an API request, a test) into a canonical table.

    Duplicated event ids keep their first copy and are counted. Nothing raises for
    bad records: each comes back as a :class:`Rejection` with its 1-based position.
    """
    normalizer = normalizer or Normalizer()
    builder = TableBuilder()
    rejected: list[Rejection] = []
    seen: set[str] = set()
    duplicates = 0
    for position, raw in enumerate(records, 1):
        try:
            row = normalizer(raw)
        except RecordRejected as error:
            rejected.append(Rejection(source, position, error.field, error.reason))
            continue
        if row[0] in seen:
            duplicates += 1
            continue
        seen.add(row[0])
        builder.append(row)
    return RecordsResult(builder.build(), rejected, duplicates)
