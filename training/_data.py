"""Training inputs: canonical events from files, a period of them, and labels."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import pandas as pd

from features import ConfigurationError, IngestOptions, InputError, ingest, read_events

__all__ = [
    "LABEL_KINDS",
    "describe_sources",
    "load_events",
    "period",
    "read_labels",
    "to_timestamp",
]

logger = logging.getLogger(__name__)

LABEL_KINDS: Final = ("attack", "hard_negative")
"""Kinds of labelled events: attacks make a window positive, hard negatives do not."""

_PARQUET_MAGIC: Final = b"PAR1"


def _is_parquet(path: str) -> bool:
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as handle:
        return handle.read(4) == _PARQUET_MAGIC


def to_timestamp(value: str | pd.Timestamp | None, *, name: str) -> pd.Timestamp | None:
    """Parse an ISO time (UTC when naive); ``None`` stays ``None``.

    Raises
    ------
    ConfigurationError
        When the value is not a time.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        moment = pd.Timestamp(value)
    except (ValueError, TypeError) as error:
        raise ConfigurationError(f"{name} must be an ISO 8601 time, got {value!r}") from error
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def load_events(
    paths: Iterable[str | Path], *, rejects: str | Path | None = None, jobs: int = 1
) -> pd.DataFrame:
    """Read canonical Parquet tables and CloudTrail inputs into one canonical frame.

    Parquet is recognised by its magic bytes and read with :func:`features.read_events`;
    anything else goes through :func:`features.ingest` (files, directories), so whatever
    ``changewatch ingest`` reads is read. An event id seen twice keeps its first copy.

    Raises
    ------
    InputError
        When no path is given or nothing could be read.
    """
    names = [str(p) for p in paths]
    if not names:
        raise InputError("no event paths given")
    for name in names:
        if name != "-" and not os.path.exists(name):
            raise InputError(f"{name}: no such file or directory")
    parquet = [p for p in names if _is_parquet(p)]
    trails = [p for p in names if p not in parquet]
    frames = [read_events(p) for p in parquet]
    if trails:
        with tempfile.TemporaryDirectory(prefix="changewatch-train-") as scratch:
            out = os.path.join(scratch, "events.parquet")
            report = ingest(
                trails,
                out,
                options=IngestOptions(jobs=jobs),
                rejects=rejects or os.path.join(scratch, "rejects.jsonl"),
            )
            if report.rejected or report.files_failed:
                logger.warning(
                    "%d records and %d files rejected while reading events",
                    report.rejected,
                    report.files_failed,
                )
            frames.append(read_events(out))
    frames = [f for f in frames if len(f)]
    if not frames:
        raise InputError(f"no events in {', '.join(names)}")
    joined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    joined = joined[~joined["event_id"].duplicated(keep="first")]
    return joined.sort_values("event_time", kind="stable").reset_index(drop=True)


def period(
    events: pd.DataFrame,
    since: pd.Timestamp | None = None,
    until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Return the events with ``since <= event_time < until`` (either bound optional)."""
    keep = pd.Series(True, index=events.index)
    if since is not None:
        keep &= events["event_time"] >= since
    if until is not None:
        keep &= events["event_time"] < until
    return events[keep].reset_index(drop=True)


def read_labels(path: str | Path) -> pd.DataFrame:
    """Read event labels: ``event_id``, ``scenario`` and optionally ``kind``.

    Parquet (the simulator's ``labels.parquet``) or CSV. ``kind`` is ``attack`` or
    ``hard_negative``; when the column is missing every label is an attack.

    Raises
    ------
    InputError
        When the file cannot be read or a column or value is wrong (names the row).
    """
    source = str(path)
    try:
        frame = pd.read_csv(source) if source.endswith(".csv") else pd.read_parquet(source)
    except (OSError, ValueError) as error:
        raise InputError(f"{source}: cannot read labels: {error}") from error
    missing = [c for c in ("event_id", "scenario") if c not in frame.columns]
    if missing:
        raise InputError(
            f"{source}: labels need columns event_id and scenario; missing {', '.join(missing)}"
        )
    labels = pd.DataFrame(
        {
            "event_id": frame["event_id"].astype(str),
            "scenario": frame["scenario"].astype(str),
            "kind": frame["kind"].astype(str) if "kind" in frame.columns else "attack",
        }
    )
    wrong = ~labels["kind"].isin(LABEL_KINDS)
    if wrong.any():
        row = int(wrong.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{source}: row {row + 1}: field 'kind': expected one of {', '.join(LABEL_KINDS)}, "
            f"got {labels['kind'].iloc[row]!r}"
        )
    return labels.drop_duplicates("event_id").reset_index(drop=True)


def describe_sources(paths: Sequence[str | Path]) -> str:
    """Return the input paths as one string for parameters and dataset sources."""
    return ",".join(str(Path(p).resolve()) for p in paths)
