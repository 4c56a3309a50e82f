"""OCSF in Parquet (Amazon Security Lake's layout): records read a row group at a time.

A Parquet file is recognised by its magic bytes (``PAR1``). Only files whose schema has
OCSF's ``class_uid`` and ``metadata`` columns hold records changewatch reads; any other
Parquet file (a label table, a canonical table) holds none and is named as such,
before a row is read. Rows come as Python objects in runs of :data:`BATCH_ROWS`, read
one row group at a time; a row group whose data is larger than a document may be
(:attr:`~features._limits.Limits.document_bytes`) is not read, so what one file may
cost stays bounded as a JSON document's does (ADR 0028). Parquet needs to seek, so it is
read from files and bytes, not from standard input.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from features._exceptions import SourceError
from features._limits import Limits, size_text

__all__ = ["BATCH_ROWS", "PARQUET_MAGIC", "parquet_records"]

logger = logging.getLogger(__name__)

PARQUET_MAGIC: Final = b"PAR1"
"""The first (and last) four bytes of a Parquet file."""
BATCH_ROWS: Final = 4096
"""Rows turned into Python objects at once."""
_REQUIRED: Final = ("class_uid", "metadata")


def parquet_records(
    source: str, content: str | bytes, limits: Limits
) -> Iterator[tuple[range, list[dict[str, Any]]]]:
    """Yield ``(1-based row numbers, rows as dicts)`` of an OCSF Parquet file, in runs.

    Parameters
    ----------
    source : str
        The file's name, for errors.
    content : str or bytes
        The file's path, or its bytes.
    limits : Limits
        Bounds a row group must keep.

    Raises
    ------
    SourceError
        When the file is not readable Parquet, holds no OCSF columns (a
        :class:`~features._sources.NotCloudTrail`, raised by the caller's type), or has
        a row group larger than a document may be.
    """
    try:
        handle = pq.ParquetFile(io.BytesIO(content) if isinstance(content, bytes) else content)
    except (pa.ArrowException, OSError) as error:
        raise SourceError(source, f"not readable Parquet: {error}") from None
    names = handle.schema_arrow.names
    missing = [name for name in _REQUIRED if name not in names]
    if missing:
        raise NotOcsf(source, f"Parquet without OCSF columns ({', '.join(missing)}): no records")
    metadata = handle.metadata
    for group in range(metadata.num_row_groups):
        size = metadata.row_group(group).total_byte_size
        if size > limits.document_bytes:
            raise SourceError(
                source,
                f"Parquet row group {group + 1} holds {size_text(size)}, more than the "
                f"{size_text(limits.document_bytes)} read at once",
            )
    first = 1
    try:
        for group in range(metadata.num_row_groups):
            for batch in handle.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
                rows = batch.to_pylist()
                yield range(first, first + len(rows)), rows
                first += len(rows)
    except (pa.ArrowException, OSError) as error:
        raise SourceError(source, f"corrupt Parquet after row {first - 1}: {error}") from None


class NotOcsf(SourceError):
    """A Parquet file that holds no OCSF records (raised as the caller's ``NotCloudTrail``)."""
