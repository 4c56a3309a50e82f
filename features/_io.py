"""Reading the canonical table back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features._exceptions import InputError
from features._schema import CANONICAL_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_KEY

__all__ = ["read_events", "write_events"]


def read_events(path: str | Path, *, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a canonical event table written by :func:`features.ingest`.

    Parameters
    ----------
    path : str or Path
        The Parquet file.
    columns : list of str, optional
        Read only these columns.

    Returns
    -------
    pandas.DataFrame
        One row per event; ``event_time`` is timezone-aware UTC.

    Raises
    ------
    InputError
        When the file is not a canonical table of this schema version.
    """
    schema = pq.read_schema(path)
    version = (schema.metadata or {}).get(SCHEMA_VERSION_KEY, b"").decode() or None
    if version != SCHEMA_VERSION:
        raise InputError(
            f"{path}: canonical schema version {SCHEMA_VERSION} expected, got {version or 'none'}; "
            "re-ingest the CloudTrail with this version (`changewatch ingest`)"
        )
    missing = [name for name in CANONICAL_SCHEMA.names if name not in schema.names]
    if missing:
        raise InputError(f"{path}: missing canonical columns {missing}")
    frame: pd.DataFrame = pq.read_table(path, columns=columns).to_pandas()
    return frame


def write_events(events: pd.DataFrame, path: str | Path) -> None:
    """Write canonical events (as :func:`read_events` returns them) to a Parquet file.

    The file carries the schema version, so :func:`read_events` and ``changewatch score``
    accept it.

    Raises
    ------
    InputError
        When ``events`` lacks a canonical column or holds values of the wrong type.
    """
    missing = [name for name in CANONICAL_SCHEMA.names if name not in events.columns]
    if missing:
        raise InputError(f"cannot write events: missing canonical columns {missing}")
    try:
        table = pa.Table.from_pandas(
            events[list(CANONICAL_SCHEMA.names)], schema=CANONICAL_SCHEMA, preserve_index=False
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise InputError(f"cannot write events: {error}") from error
    pq.write_table(table, path, compression="zstd")
