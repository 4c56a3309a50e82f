"""Reading the canonical table back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from changewatch.errors import InputError
from features._schema import CANONICAL_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_KEY

__all__ = ["read_events"]


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
            f"{path}: canonical schema version {SCHEMA_VERSION} expected, got {version or 'none'}"
        )
    missing = [name for name in CANONICAL_SCHEMA.names if name not in schema.names]
    if missing:
        raise InputError(f"{path}: missing canonical columns {missing}")
    frame: pd.DataFrame = pq.read_table(path, columns=columns).to_pandas()
    return frame
