"""``changewatch score``: events -> rule hits and model windows -> findings (JSON lines)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import IO, TYPE_CHECKING, Any

import click

from changewatch.cli_support import PathsOption, emit, nothing_usable, progress

if TYPE_CHECKING:
    import pandas as pd

    from models.scoring import Finding, ScoreResult
    from serving import StateStore

__all__ = ["score"]

_SEVERITIES = ("info", "low", "medium", "high", "critical")


def _on_spark(
    scorer: Any,
    events: tuple[str, ...],
    windows: tuple[str, ...],
    options: dict[str, Any],
) -> dict[str, Any]:
    """``--engine spark``: the same findings, written by Spark as a folder of JSON lines.

    ``options`` holds the command's other options (``history``, ``rejects``, ``out``,
    ``output_format``, ``min_severity``, ``master``); returns the JSON summary.
    """
    from features import ConfigurationError
    from models.scoring import PolicyFile, read_yaml_model
    from training.spark import score_with_spark

    refused = {
        "--history": options["history"],
        "--rejects": options["rejects"],
        "--state": options.get("state"),
    }
    why = {
        "--history": "give Spark the earlier events with --events (they are scored too), or "
        "score with --engine local",
        "--rejects": "Spark skips records it cannot read (ingest them with changewatch ingest "
        "--rejects to see why)",
        "--state": "the findings book is a local SQLite store: score with --engine local to "
        "keep findings there",
    }
    for name, given in refused.items():
        if given:
            raise ConfigurationError(f"{name} is not supported with --engine spark: {why[name]}")
    out = options["out"]
    if out == "-":
        raise ConfigurationError("--engine spark writes a folder: give --out a directory")
    policy = [read_yaml_model(PolicyFile, path).resolved() for path in windows]
    summary: dict[str, Any] = score_with_spark(
        scorer,
        list(events),
        out=out,
        policy=policy,
        output=options["output_format"],
        min_severity=options["min_severity"],
        master=options["master"],
    )
    return summary


def _write(lines: list[str], out: str) -> None:
    handle: IO[str]
    if out == "-":
        handle = sys.stdout
        for line in lines:
            handle.write(line + "\n")
        handle.flush()
        return
    with open(out, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")


def _open_state(state: str | None) -> StateStore | None:
    if state is None:
        return None
    from serving import StateStore

    return StateStore(state)


def _keep(
    store: StateStore, result: ScoreResult, kept: list[Finding], events: pd.DataFrame
) -> dict[str, int]:
    """Keep the findings in the state's findings book, as the service does."""
    from serving import FindingsBook, Recorder

    book = FindingsBook(store.path)
    try:
        names = dict(zip(events["event_id"], events["event_name"], strict=True))
        return Recorder(book, store).record(result, kept, source="batch", event_names=names)
    finally:
        book.close()
        store.close()


@click.command()
@click.option(
    "--model",
    "-m",
    "model_uri",
    required=True,
    metavar="URI|PATH|none",
    help="Model to score with: models:/NAME@alias, runs:/ID/model, a bundle directory, "
    "or 'none' (rules only).",
)
@click.option(
    "--tracking-uri",
    "tracking_uri",
    metavar="URI",
    help="MLflow tracking store a models:/ or runs:/ URI is read from "
    "(default: $MLFLOW_TRACKING_URI); reading never creates a store.",
)
@click.option(
    "--events",
    "-e",
    "events",
    cls=PathsOption,
    required=True,
    metavar="PATH...",
    help="CloudTrail files/directories (as for ingest), '-' or canonical Parquet tables.",
)
@click.option(
    "--windows",
    "-w",
    "windows",
    cls=PathsOption,
    metavar="FILE...",
    help="Change-policy YAML: windows, tickets, freezes, organisation, automation, suppressions.",
)
@click.option(
    "--history",
    "history",
    cls=PathsOption,
    metavar="PATH...",
    help="Earlier events (CloudTrail or Parquet) the rules learn each identity's past from.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "ocsf"]),
    default="json",
    show_default=True,
    help="Our finding schema, or OCSF Detection Finding (class 2004).",
)
@click.option(
    "--ocsf-version",
    type=click.Choice(["1.8.0", "1.1.0"]),
    default="1.8.0",
    show_default=True,
    help="OCSF version of --format ocsf: the current one, or 1.1.0 for older consumers.",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(allow_dash=True),
    help="Findings file (JSON lines), or - for standard output; with --engine spark a folder "
    "of part-* files (JSON lines).",
)
@click.option(
    "--min-severity",
    type=click.Choice(_SEVERITIES),
    default="info",
    show_default=True,
    help="Leave out findings below this severity.",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    help="Rejects report of the CloudTrail inputs (JSON lines); not kept by default.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="spark: the same findings, scored on Apache Spark per group of identities; --out is "
    "then a folder of part files, each holding findings as JSON lines (docs/scale.md).",
)
@click.option("--master", metavar="URL", help="Spark master (with --engine spark), e.g. local[2].")
@click.option(
    "--state",
    type=click.Path(dir_okay=False),
    help="State database (as for serve): keep the findings there, with the API's, for "
    "verdicts; without --windows its stored policy (suppressions too) is used.",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Exit 0 even when the events give nothing usable (every input rejected, or none).",
)
def score(
    model_uri: str,
    tracking_uri: str | None,
    events: tuple[str, ...],
    windows: tuple[str, ...],
    history: tuple[str, ...],
    output_format: str,
    ocsf_version: str,
    out: str,
    min_severity: str,
    rejects: str | None,
    engine: str,
    master: str | None,
    allow_empty: bool,
    state: str | None = None,
) -> None:
    """Score changes: rule hits and model windows combined into findings.

    Events are read like `changewatch ingest` reads them, or as canonical Parquet
    tables (recognised by their PAR1 magic bytes). The rules run on every event;
    the model, when given, scores each identity's windows; both are combined with
    the change windows into findings (docs/findings.md, ADR 0012). Findings are
    written as JSON lines; the last line printed is a JSON summary (counts of
    events, rejected records, findings by severity and rules fired). The exit status
    is 1 when the events give nothing usable, unless --allow-empty.

    \b
    Examples:
      changewatch score --model none --events AWSLogs/ --windows change_windows.yaml \\
          --out findings.jsonl
      changewatch score --model none --events events.parquet --history last-90d.parquet \\
          --windows change_windows.yaml policy.yaml --format ocsf --out -
      changewatch score --model none --events trail.json --out - --min-severity high
      changewatch score --model none --events AWSLogs/ --state state.db --out findings.jsonl
      changewatch score --engine spark --master local[2] --model models:/changewatch@champion \\
          --events s3a://trail/AWSLogs/ --windows change_windows.yaml --out findings/
    """
    from models.scoring import load_events, load_policy, score_events, severity_rank, to_ocsf

    store = _open_state(state) if engine == "local" else None
    # a bad policy fails before the model is loaded
    policy = load_policy(*windows) if windows else store.policy() if store else None
    from changewatch.model_uri import load_cli_scorer

    scorer = load_cli_scorer(model_uri, tracking_uri)
    if engine == "spark":
        options = {"history": history, "rejects": rejects, "out": out, "master": master}
        options |= {"output_format": output_format, "min_severity": min_severity}
        options |= {"state": state}
        summary = _on_spark(scorer, events, windows, options)
        emit(summary)
        if not summary["events"] and not allow_empty:
            nothing_usable(0, len(events), rejects)
        return
    update, close = progress(2 if history else 1, "read", unit="input")
    try:
        loaded = load_events(events, rejects=rejects)
        update(1)
        past = load_events(history).events if history else None
        if history:
            update(1)
    finally:
        close()
    result = score_events(loaded.events, policy, scorer, past)
    floor = severity_rank(min_severity)
    kept = [f for f in result.findings if severity_rank(f.severity) >= floor]
    if output_format == "ocsf":
        lines = [json.dumps(to_ocsf(f, version=ocsf_version), separators=(",", ":")) for f in kept]
    else:
        lines = [f.model_dump_json() for f in kept]
    _write(lines, out)
    stored = _keep(store, result, kept, loaded.events) if store is not None else None
    if loaded.rejected or loaded.files_failed:
        where = f"; see {rejects}" if rejects else ""
        click.echo(
            f"{loaded.rejected} records and {loaded.files_failed} files rejected{where}", err=True
        )
    for rule_id, error in result.failed:
        click.echo(f"rule {rule_id} failed and was skipped: {error}", err=True)
    by_severity = Counter(str(f.severity) for f in kept)
    emit(
        {
            "events": result.events,
            "records": loaded.records,
            "rejected": loaded.rejected,
            "duplicates": loaded.duplicates,
            "files_failed": loaded.files_failed,
            "model": str(result.scorer) if result.scorer else None,
            "windows_scored": len(result.windows),
            "hits": len(result.hits),
            "suppressed": len(result.suppressed),
            "would_silence": len(result.rehearsed),
            "would_raise": len(result.armed),
            "rules_failed": sorted(rule_id for rule_id, _ in result.failed),
            "rules_fired": dict(sorted(Counter(h.rule_id for h in result.hits).items())),
            "findings": len(kept),
            "findings_below_min_severity": len(result.findings) - len(kept),
            "findings_by_severity": {s: by_severity.get(s, 0) for s in _SEVERITIES},
            "format": output_format,
            "out": out,
            **({"state": state, "stored": stored} if stored is not None else {}),
        }
    )
    if loaded.events.empty and not allow_empty:
        nothing_usable(loaded.records, loaded.files, rejects)
