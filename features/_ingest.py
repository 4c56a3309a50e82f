"""Ingestion: sources -> canonical Parquet table, with rejects and a summary.

Work is split into tasks of whole files (:mod:`features._task`); each task normalises
its files in batches and writes them out as it goes (see :mod:`features._output`),
with a rejects file, so memory stays bounded by the batch size and the limits of
:mod:`features._limits` whatever the input. Tasks run in parallel in a pool of worker
processes (:func:`features._task.in_workers`); a single task writes the output directly.
The output keeps the first copy of every event id (CloudTrail may deliver an event twice).

Nothing unfinished is ever at a final name: the output and the rejects report are
written in a locked scratch folder beside each (:mod:`features._scratch`) and renamed
into place when complete; scratch folders a killed run left behind are removed by
the next run.

Accounting invariant: ``records == kept + rejected + duplicates``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa

from features._exceptions import ConfigurationError, RecordRejected, SourceError
from features._normalize import Normalizer, TableBuilder
from features._output import assemble_parts, finish_direct, output_summary
from features._report import IngestOptions, IngestReport, Rejection
from features._scratch import Scratch, remove_stale
from features._task import TaskResult, choose_processes, in_workers, plan_tasks, run_task
from features._walk import Found, find_sources

__all__ = [
    "IngestOptions",
    "IngestReport",
    "RecordsResult",
    "Rejection",
    "ingest",
    "records_to_table",
]

logger = logging.getLogger(__name__)


def _folder(path: str) -> str:
    """Return the folder a file is written into; it must exist."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConfigurationError(f"cannot write {path}: the folder {folder} does not exist")
    return folder


def _remove_leftovers(out: str, folders: Iterable[str]) -> None:
    """Remove what killed runs left: scratch folders, and an older version's partial files."""
    for folder in folders:
        remove_stale(folder)
    for leftover in (f"{out}.partial", f"{out}.deduplicated"):
        if os.path.isfile(leftover):
            os.remove(leftover)
            logger.info("removed %s, left by an ingestion that did not finish", leftover)


def _results(
    found: Found, scratch: Scratch, options: IngestOptions, partial: str, report: IngestReport
) -> tuple[Iterable[TaskResult], bool]:
    """Run the tasks; return their results (in order) and whether one wrote ``partial``.

    Sets how many processes ran, and why, on ``report``.
    """
    chosen = choose_processes(
        found.files, options.jobs, strict=options.strict, worker_bytes=options.worker_bytes
    )
    tasks = plan_tasks(found.files, chosen.count)
    report.processes = min(chosen.count, max(1, len(tasks)))
    report.processes_reason = chosen.reason
    if report.processes < chosen.count:
        report.processes_reason += f"; {len(tasks)} task{'s' * (len(tasks) != 1)} of work"
    if len(tasks) <= 1:  # one task writes the output itself
        return [run_task(0, tasks[0] if tasks else [], scratch.path, options, partial)], True
    return in_workers(tasks, report.processes, scratch.path, options), False


def _gather(
    results: Iterable[TaskResult],
    report: IngestReport,
    rejects_out: IO[bytes],
    progress: Callable[[int], None] | None,
) -> list[str]:
    """Add up the tasks' counts and rejects, in order; return their scratch parts."""
    parts: list[str] = []
    by_field: Counter[str] = Counter()
    for result in results:
        parts.extend(result.parts)
        report.records += result.records
        report.rejected += result.rejected
        report.filtered += result.filtered
        report.files += result.files
        report.files_failed += result.files_failed
        report.files_skipped += result.files_skipped
        report.name(result.not_read, result.not_read_unlisted)
        by_field.update(result.rejected_by_field)
        with open(result.rejects_path, "rb") as part_rejects:
            shutil.copyfileobj(part_rejects, rejects_out)
        if progress is not None:
            progress(result.files)
    report.rejected_by_field = dict(by_field.most_common())
    return parts


def _walked(found: Found, options: IngestOptions, report: IngestReport, out: IO[bytes]) -> None:
    """Report the folders and links passed over while walking (raise the first, when strict)."""
    failed = [entry for entry in found.not_read if entry.failed]
    if options.strict and failed:
        raise SourceError(failed[0].path, failed[0].reason)
    report.paths_unreadable = len(failed)
    report.name(found.not_read)
    for entry in found.not_read:
        logger.log(
            logging.WARNING if entry.failed else logging.INFO, "%s: %s", entry.path, entry.reason
        )
        out.write(orjson.dumps(Rejection.of_path(entry).to_json()) + b"\n")


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
        Strictness, filtering, GeoIP, parallelism and the document size limit.
    rejects : str or Path, optional
        Where the rejects report goes (JSON lines); default ``<out>.rejects.jsonl``.
    progress : callable, optional
        Called with the number of files each finished task read.

    Returns
    -------
    IngestReport
        Counts, per-taxonomy totals, every path not read and where output and
        rejects went. :attr:`IngestReport.usable` tells whether anything was read.

    Raises
    ------
    SourceError, RecordRejected
        With ``strict``, the first problem met; without it, only for paths named
        that do not exist or cannot be reached.
    ConfigurationError
        When the folder of ``out`` or ``rejects`` does not exist.
    """
    options = options or IngestOptions()
    started = time.perf_counter()
    paths = list(paths)
    found = find_sources(paths)
    options = replace(options, named=frozenset(str(path) for path in paths))
    out = str(out)
    rejects_path = str(rejects) if rejects is not None else f"{out}.rejects.jsonl"
    report = IngestReport(out=out, rejects=rejects_path)
    folders = dict.fromkeys([_folder(out), _folder(rejects_path)])
    _remove_leftovers(out, folders)
    scratch = {folder: Scratch(folder) for folder in folders}
    try:
        outputs, rejects_scratch = scratch[_folder(out)], scratch[_folder(rejects_path)]
        partial, rejects_partial = (
            outputs.file("output.parquet"),
            rejects_scratch.file("rejects.jsonl"),
        )
        with open(rejects_partial, "wb") as rejects_out:
            _walked(found, options, report, rejects_out)
            results, direct = _results(found, outputs, options, partial, report)
            parts = _gather(results, report, rejects_out, progress)
        if direct:
            report.duplicates = finish_direct(partial, outputs.file("deduplicated.parquet"), out)
        else:
            report.duplicates = assemble_parts(parts, partial, out)
        os.replace(rejects_partial, rejects_path)
        report.kept, report.by_resource_type, report.by_action = output_summary(out)
    finally:
        for folder in scratch.values():
            folder.close()
    report.seconds = time.perf_counter() - started
    logger.info(
        "ingested %d records from %d files: %d kept, %d rejected, %d duplicates; %d process%s (%s)",
        report.records,
        report.files,
        report.kept,
        report.rejected,
        report.duplicates,
        report.processes,
        "es" * (report.processes != 1),
        report.processes_reason,
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
