"""``changewatch ingest``: CloudTrail files to the canonical event table."""

from __future__ import annotations

import sys
from typing import Any

import click

from changewatch.cli_support import emit, nothing_usable, progress

__all__ = ["ingest"]


class _Jobs(click.ParamType[int | None, Any]):
    """``auto`` (``None``: decided from the input) or a number of processes, at least 1."""

    name = "auto|N"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | None:
        if value is None or value == "auto":
            return None
        try:
            jobs = int(value)
        except (TypeError, ValueError):
            jobs = 0
        if jobs < 1:
            self.fail(f"{value!r} is neither 'auto' nor a whole number of at least 1", param, ctx)
        return jobs


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--out", "-o", required=True, type=click.Path(dir_okay=False), help="Parquet file to write."
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    help="Rejects report (JSON lines); default OUT.rejects.jsonl.",
)
@click.option("--strict", is_flag=True, help="Stop at the first bad record or file.")
@click.option("--compute-only", is_flag=True, help="Keep only events on compute resources.")
@click.option(
    "--geoip", type=click.Path(exists=True, dir_okay=False), help="MaxMind-format database (.mmdb)."
)
@click.option(
    "--person-role",
    "person_roles",
    multiple=True,
    metavar="ARN_PATTERN",
    help="Role ARN pattern whose sessions are people (repeatable).",
)
@click.option(
    "--person-session",
    "person_sessions",
    multiple=True,
    metavar="REGEX",
    help="Session-name pattern that names a person, e.g. '[a-z]+[.][a-z]+' (repeatable).",
)
@click.option(
    "--jobs",
    "-j",
    type=_Jobs(),
    default="auto",
    show_default=True,
    help="Processes. auto: one process below 128 MiB of stored input, then a worker per "
    "64 MiB, up to the cores available and the number of files (two workers cost 1-2 s more "
    "CPU than one process, ADR 0053, 0064). N: N worker processes (1: this process only). "
    "The summary's processes and processes_reason say how many ran and why.",
)
@click.option(
    "--max-document-mib",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Largest JSON document or NDJSON line read whole (decompressed); larger is rejected.",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Exit 0 even when nothing usable was read (every input rejected, or none found).",
)
def ingest(
    paths: tuple[str, ...],
    out: str,
    rejects: str | None,
    strict: bool,
    compute_only: bool,
    geoip: str | None,
    person_roles: tuple[str, ...],
    person_sessions: tuple[str, ...],
    jobs: int | None,
    max_document_mib: int,
    allow_empty: bool,
) -> None:
    """Read CloudTrail into the canonical event table (Parquet).

    PATHS are files, directories (CloudTrail's S3 layout AWSLogs/<account>/CloudTrail/
    <region>/YYYY/MM/DD/*.json.gz included) or - for standard input. Formats are
    recognised by content: S3 delivery files (.json or .json.gz), JSON arrays,
    NDJSON (Logstash exports too) and EventBridge envelopes. Digest files are skipped.

    Bad records are written to the rejects report with file, position, field and
    reason; the rest is kept. Every file or folder not read is named there and in
    the summary (not_read) with its reason. The last line printed is a JSON summary.
    The exit status is 1 when nothing usable was read (no file found, or every
    record and file rejected), unless --allow-empty.

    \b
    Examples:
      changewatch ingest AWSLogs/ --out events.parquet
      changewatch ingest trail.ndjson.gz --out events.parquet --geoip geo.mmdb
      aws s3 cp s3://trail/file.json.gz - | changewatch ingest - --out events.parquet
    """
    from features import IngestOptions, find_sources, without_pandas
    from features import ingest as run_ingest

    options = IngestOptions(
        strict=strict,
        compute_only=compute_only,
        geoip=geoip,
        person_roles=person_roles,
        person_sessions=person_sessions,
        jobs=jobs,
        max_document_bytes=max_document_mib << 20,
    )
    total = len(find_sources(paths).files) if sys.stderr.isatty() else 0
    update, close = progress(total, "ingest")
    try:
        with without_pandas():  # this process only ingests: 0.3 s less to start (ADR 0061)
            report = run_ingest(paths, out, options=options, rejects=rejects, progress=update)
    finally:
        close()
    problems = report.rejected + report.files_failed + report.paths_unreadable
    if problems:
        click.echo(
            f"{report.rejected} records, {report.files_failed} files and "
            f"{report.paths_unreadable} folders or links not read; see {report.rejects}",
            err=True,
        )
    for entry in report.not_read:
        if entry.failed:
            click.echo(f"  {entry.path}: {entry.reason}", err=True)
    emit(report.to_json())
    if not report.usable and not allow_empty:
        nothing_usable(report.records, report.files, report.rejects)
