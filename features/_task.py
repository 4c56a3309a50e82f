"""One ingestion task: some whole files read, normalised in batches and written out.

A task never raises for bad input (unless strict): a bad record, file or path becomes a
line of its rejects file. Tasks run in this process or in the worker processes of
:func:`worker_pool` (forked where the platform allows, so a worker starts with what this
process has already imported: ADR 0064); a worker watches the process that started it
and ends itself when that one is gone, so no worker outlives a killed ingestion.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from features._columnar import normalize_batch
from features._exceptions import RecordRejected, SourceError
from features._identity import IdentityKeyRule
from features._network import GeoIP
from features._normalize import Normalizer
from features._output import DirectOutput, ScratchParts
from features._report import (
    FORKED_WORKERS,
    LISTED_NOT_READ,
    WORKER_BYTES,
    IngestOptions,
    Rejection,
)
from features._sources import NotCloudTrail, RawChunk, SkippedSource, read_source
from features._walk import STDIN, NotRead

__all__ = [
    "Processes",
    "TaskResult",
    "choose_processes",
    "in_workers",
    "plan_tasks",
    "run_task",
]

logger = logging.getLogger(__name__)

_TASK_BYTES: Final = 32 << 20
BATCH_RECORDS: Final = 4096
_WATCH_SECONDS: Final = 0.5


@dataclass(slots=True)
class TaskResult:
    """What one task read, and where its rows and rejects went."""

    parts: list[str]
    rejects_path: str
    records: int = 0
    rejected: int = 0
    filtered: int = 0
    files: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    rejected_by_field: Counter[str] = field(default_factory=Counter)
    not_read: list[NotRead] = field(default_factory=list)
    not_read_unlisted: int = 0


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


_watching: set[int] = set()


def _watch(parent: int) -> None:
    """In a worker process: end this process soon after ``parent`` is gone.

    The pool's initializer: a worker whose ingestion was killed (``kill -9``) would
    otherwise finish its task and wait for more work for ever, since it holds its pool's
    pipes open itself. A daemon thread polls the parent's id, which changes when the
    parent dies and the worker is handed to init.
    """
    if parent == os.getpid() or parent in _watching:
        return
    _watching.add(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCH_SECONDS)
        logger.warning("the ingestion that started this worker is gone; stopping")
        os._exit(1)

    threading.Thread(target=watch, name="changewatch-parent-watch", daemon=True).start()


def run_task(
    index: int,
    sources: Sequence[str],
    scratch: str,
    options: IngestOptions,
    direct: str | None = None,
) -> TaskResult:
    """Normalise some sources; never raises for bad input unless strict.

    Rows go to scratch parts, or straight into the Parquet file ``direct`` when given.
    """
    with _no_cyclic_gc():
        sink = DirectOutput(direct) if direct else ScratchParts(scratch, index)
        result = TaskResult([], os.path.join(scratch, f"rejects-{index:06d}.jsonl"))
        try:
            with open(result.rejects_path, "wb") as rejects:
                _Task(result, options, sink, rejects).run(sources)
        finally:
            sink.close()
        result.parts = sink.paths if isinstance(sink, ScratchParts) else []
        return result


def _run_numbered(scratch: str, options: IngestOptions, task: tuple[int, list[str]]) -> TaskResult:
    """:func:`run_task` of one numbered task, in a worker (what the pool maps over)."""
    index, sources = task
    return run_task(index, sources, scratch, options)


def in_workers(
    tasks: Sequence[list[str]], processes: int, scratch: str, options: IngestOptions
) -> Generator[TaskResult, None, None]:
    """Run the tasks in ``processes`` worker processes; yield their results in input order.

    The workers are forked on Linux: each starts with the modules this process has
    already loaded, instead of starting an interpreter and importing them again (about
    0.7 s of CPU a worker with joblib's loky, ADR 0064). Elsewhere they are spawned.
    Each worker watches this process from the start and ends itself when it is gone.
    A worker that dies (killed, out of memory) ends the run with
    :class:`~concurrent.futures.process.BrokenProcessPool` rather than a wait for a result
    that never comes. The workers are reaped when the last result is in, and terminated
    first if the caller stops early or an error is raised.

    Raises
    ------
    concurrent.futures.process.BrokenProcessPool
        When a worker ended before its task did.
    """
    context = multiprocessing.get_context("fork" if FORKED_WORKERS else None)
    executor = ProcessPoolExecutor(
        processes, mp_context=context, initializer=_watch, initargs=(os.getpid(),)
    )
    finished = False
    try:
        yield from executor.map(partial(_run_numbered, scratch, options), enumerate(tasks))
        finished = True
    finally:
        if not finished:
            _terminate(executor)
        executor.shutdown(wait=True, cancel_futures=True)


def _terminate(executor: ProcessPoolExecutor) -> None:
    """End an executor's workers now, mid-task (Python 3.14 has ``terminate_workers``)."""
    processes: dict[int, multiprocessing.process.BaseProcess] = (
        getattr(executor, "_processes", None) or {}
    )
    for process in list(processes.values()):
        process.terminate()


class _Task:
    """The state of one task while it runs: pending records and where each came from."""

    def __init__(
        self,
        result: TaskResult,
        options: IngestOptions,
        sink: DirectOutput | ScratchParts,
        rejects: IO[bytes],
    ) -> None:
        self.result = result
        self.options = options
        self.limits = options.limits
        self.sink = sink
        self.rejects = rejects
        self.normalizer = _normalizer(options)
        self.tables: list[pa.Table] = []
        self.pending_rows = 0
        self.raw: list[Any] = []
        # Where each pending record came from: (first index in raw, chunk, offset in chunk).
        self.where: list[tuple[int, RawChunk, int]] = []

    def run(self, sources: Sequence[str]) -> None:
        """Read, normalise and write every source, in order."""
        for source in sources:
            self.result.files += 1
            try:
                for chunk in read_source(source, self.limits):
                    self.take(chunk)
            except SkippedSource as skipped:
                self.not_read(source, skipped.reason, "skipped")
            except NotCloudTrail as error:
                if source not in self.options.named:
                    self.not_read(source, error.reason, "skipped")
                elif self.options.strict:
                    raise
                else:
                    self.not_read(source, error.reason, "source")
            except SourceError as error:
                if self.options.strict:
                    self.normalize_pending()  # a bad record read before the break comes first
                    raise
                self.not_read(source, error.reason, "source")
            if self.options.strict:
                self.normalize_pending()
        self.normalize_pending()
        self.write_part()

    def take(self, chunk: RawChunk) -> None:
        """Add a chunk's records to the pending batch, normalising each full batch."""
        records = chunk.records
        count = len(records)
        self.result.records += count
        for offset in range(0, count, BATCH_RECORDS):
            self.where.append((len(self.raw), chunk, offset))
            self.raw.extend(
                records if count <= BATCH_RECORDS else records[offset : offset + BATCH_RECORDS]
            )
            if len(self.raw) >= BATCH_RECORDS:
                self.normalize_pending()

    def not_read(self, source: str, reason: str, kind: str) -> None:
        """Count and name a file not read (rejected whole, or skipped on purpose)."""
        result = self.result
        if kind == "skipped":
            result.files_skipped += 1
            logger.info("skipped %s: %s", source, reason)
        else:
            result.files_failed += 1
        if len(result.not_read) < LISTED_NOT_READ:
            result.not_read.append(NotRead(source, reason, kind != "skipped"))
        else:
            result.not_read_unlisted += 1
        self.reject(Rejection(source, None, None, reason, kind=kind))

    def reject(self, rejection: Rejection) -> None:
        """Count a rejection and write its line (raise it for a record, when strict)."""
        self.result.rejected += rejection.kind == "record"
        if rejection.field is not None:
            self.result.rejected_by_field[rejection.field] += 1
        if self.options.strict and rejection.kind == "record":
            raise RecordRejected(
                rejection.field or "(record)",
                rejection.reason,
                source=rejection.source,
                position=rejection.position,
            )
        self.rejects.write(orjson.dumps(rejection.to_json()) + b"\n")

    def write_part(self) -> None:
        """Write the normalised rows held so far."""
        if not self.tables:
            return
        table = pa.concat_tables(self.tables)
        self.tables, self.pending_rows = [], 0
        if self.options.compute_only:
            before = table.num_rows
            table = table.filter(pc.is_valid(table["resource_type"]))
            self.result.filtered += before - table.num_rows
        if table.num_rows:
            self.sink.write(table)

    def normalize_pending(self) -> None:
        """Normalise the pending records into a table; write out when enough rows wait."""
        if not self.raw:
            return
        where = self.where
        starts = [start for start, _, _ in where]

        def located(position: int) -> tuple[RawChunk, int]:
            start, chunk, offset = where[bisect_right(starts, position) - 1]
            return chunk, position - start + offset

        def raw_of(position: int) -> Any:
            chunk, index = located(position)
            return chunk.raw(index)

        table, rejected = normalize_batch(self.raw, self.normalizer, raw_of=raw_of)
        for position, error in rejected:
            chunk, index = located(position)
            self.reject(Rejection(chunk.source, chunk.positions[index], error.field, error.reason))
        self.raw, self.where = [], []
        self.tables.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= self.options.chunk_rows:
            self.write_part()


@dataclass(frozen=True, slots=True)
class Processes:
    """How many processes an ingestion runs in, and why (the summary says both)."""

    count: int
    reason: str


def cores_available() -> int:
    """Return the cores this process may run on (its CPU affinity, else every core)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def choose_processes(
    sources: Sequence[str],
    jobs: int | None,
    *,
    strict: bool = False,
    cores: int | None = None,
    worker_bytes: int = WORKER_BYTES,
) -> Processes:
    """Decide how many processes ingest ``sources``: ``jobs``, or from the input when ``None``.

    Workers cost CPU: their start-up, their parts, and the parent joining them. Forked
    workers (Linux) cost 0.3-0.8 s more in all on 2 cores (ADR 0064); spawned ones 1.7-3.0 s
    (ADR 0053). Ingestion costs about 0.08-0.11 µs of CPU a stored byte, whether the files
    are small or large, so the stored size is the measure of the work. The default
    (``jobs=None``) starts workers only when each gets at least ``worker_bytes``
    (:data:`WORKER_BYTES` unless told): never more workers than ``cores`` (default: the
    cores available) or than files. An explicit ``jobs`` is
    kept (standard input and ``strict`` still run in one process).
    """
    if strict:
        return Processes(1, "--strict reads in one process, in input order")
    if STDIN in sources:
        return Processes(1, "standard input is read in one process")
    if jobs is not None:
        count = max(1, jobs)
        return Processes(count, f"--jobs {count} asked for")
    cores = cores or cores_available()
    stored = sum(_size(source) for source in sources)
    count = max(1, min(cores, len(sources), stored // worker_bytes))
    files = f"{len(sources):,} file{'s' * (len(sources) != 1)}"
    size, limit = f"{stored / 1e6:,.1f} MB in {files}", f"{worker_bytes / (1 << 20):g} MiB"
    if count > 1:
        return Processes(count, f"default: {size}, {count} workers of at least {limit} each")
    if stored < 2 * worker_bytes:
        return Processes(1, f"default: {size}, under 2 x {limit} (a worker's share)")
    return Processes(1, f"default: {size}, {'1 core' if cores == 1 else files}")


def plan_tasks(sources: Sequence[str], jobs: int) -> list[list[str]]:
    """Group sources into tasks of about ``_TASK_BYTES``, enough to keep workers busy."""
    if jobs <= 1:
        return [list(sources)] if sources else []
    sizes = [0 if s == STDIN else _size(s) for s in sources]
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


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # unreadable: its task reports it
