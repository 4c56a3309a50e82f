"""Where normalised rows go: scratch parts or the output itself, then exact deduplication.

Parallel tasks each write Arrow IPC *parts* (LZ4-compressed, a third of their raw
size) into a scratch folder; the parts are then joined into the output in input
order. A single task (``--jobs 1``, standard input, a small input) writes its rows
straight into the output's partial file, which saves writing and reading every row
once more and needs no scratch space.

Either way the output keeps the first copy of every event id: CloudTrail may deliver
an event twice. Duplicates are found exactly with 8 bytes of memory a row (a 64-bit
hash each, and the ids themselves only for rows whose hash repeats). When the direct
output holds any, it is rewritten without them.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features._schema import CANONICAL_SCHEMA

__all__ = [
    "DirectOutput",
    "ScratchParts",
    "assemble_parts",
    "finish_direct",
    "output_summary",
]

logger = logging.getLogger(__name__)

PARQUET_OPTIONS: Final[dict[str, Any]] = {
    "compression": "zstd",
    "compression_level": 1,
    # Event ids are unique (the output keeps one row per id): a dictionary of them is
    # built for nothing and then abandoned. Without it writing costs ~6% less CPU
    # and the file is smaller.
    "use_dictionary": [name for name in CANONICAL_SCHEMA.names if name != "event_id"],
}
ROW_GROUP_ROWS: Final = 128 * 1024
_IPC_OPTIONS: Final = pa.ipc.IpcWriteOptions(compression="lz4")

Mask = np.ndarray[Any, np.dtype[np.bool_]]


class ScratchParts:
    """Arrow IPC parts of one task in the scratch folder, in the order written."""

    def __init__(self, scratch: str, task: int) -> None:
        self._scratch = scratch
        self._task = task
        self.paths: list[str] = []

    def write(self, table: pa.Table) -> None:
        """Write one part."""
        path = os.path.join(self._scratch, f"part-{self._task:06d}-{len(self.paths):04d}.arrow")
        with (
            pa.OSFile(path, "wb") as sink,
            pa.ipc.new_file(sink, table.schema, options=_IPC_OPTIONS) as writer,
        ):
            writer.write_table(table)
        self.paths.append(path)

    def close(self) -> None:
        """Nothing to finish: every part is complete when written."""


class DirectOutput:
    """Rows written straight into the output's partial Parquet file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer = pq.ParquetWriter(path, CANONICAL_SCHEMA, **PARQUET_OPTIONS)

    def write(self, table: pa.Table) -> None:
        """Append rows."""
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def close(self) -> None:
        """Finish the file (its footer); safe to call twice."""
        self._writer.close()


def _part(path: str) -> pa.Table:
    return pa.ipc.open_file(pa.memory_map(path)).read_all()


def _part_ids(path: str) -> Iterator[pa.Array]:
    yield from _part(path)["event_id"].chunks


def _output_ids(path: str) -> Iterator[pa.Array]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS, columns=["event_id"]):
        yield batch.column(0)


def first_occurrences(
    paths: Sequence[str], ids_of: Callable[[str], Iterator[pa.Array]] = _part_ids
) -> Mask:
    """Mask over all rows of all files, in order: ``True`` for the first copy of each event id.

    Exact with little memory: every id is reduced to a 64-bit hash (8 bytes a row,
    in this process, where ``hash`` is consistent), a batch of ids at a time; only
    rows whose hash occurs more than once are compared by their actual ids.
    """
    every = np.fromiter(
        chain.from_iterable(map(hash, ids.to_pylist()) for path in paths for ids in ids_of(path)),
        dtype=np.int64,
    )
    keep = np.ones(len(every), dtype=bool)
    ordered = np.sort(every)  # one more copy, not the several np.unique(return_inverse) makes
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    del ordered
    if len(repeated) == 0:
        return keep
    candidates = set(np.flatnonzero(np.isin(every, repeated)).tolist())
    seen: set[str] = set()
    row = 0
    for path in paths:
        for ids in ids_of(path):
            for event_id in ids.to_pylist():
                if row in candidates:
                    if event_id in seen:
                        keep[row] = False
                    else:
                        seen.add(event_id)
                row += 1
    return keep


def assemble_parts(parts: Sequence[str], partial: str, out: str) -> int:
    """Join scratch parts into ``out`` in order, without duplicate event ids.

    The rows are written to ``partial`` (in the scratch folder) and renamed to ``out``
    when complete.

    Returns
    -------
    int
        The number of duplicates left out.
    """
    keep = first_occurrences(parts)
    offset = 0
    with pq.ParquetWriter(partial, CANONICAL_SCHEMA, **PARQUET_OPTIONS) as writer:
        for path in parts:
            table = _part(path)
            mask = keep[offset : offset + table.num_rows]
            offset += table.num_rows
            if not mask.all():
                table = table.filter(pa.array(mask))
            if table.num_rows:
                writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
    os.replace(partial, out)
    return int(len(keep) - keep.sum())


def finish_direct(partial: str, deduplicated: str, out: str) -> int:
    """Move a direct output into place, rewritten first if it holds duplicate event ids.

    ``deduplicated`` is where the rewrite goes (in the scratch folder, like ``partial``).

    Returns
    -------
    int
        The number of duplicates left out.
    """
    keep = first_occurrences([partial], _output_ids)
    duplicates = int(len(keep) - keep.sum())
    if duplicates:
        logger.debug("rewriting %s without %d duplicate events", out, duplicates)
        offset = 0
        with pq.ParquetWriter(deduplicated, CANONICAL_SCHEMA, **PARQUET_OPTIONS) as writer:
            for batch in pq.ParquetFile(partial).iter_batches(batch_size=ROW_GROUP_ROWS):
                mask = keep[offset : offset + batch.num_rows]
                offset += batch.num_rows
                table = pa.Table.from_batches([batch]).filter(pa.array(mask))
                if table.num_rows:
                    writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        os.replace(deduplicated, partial)
    os.replace(partial, out)
    return duplicates


def output_summary(path: str) -> tuple[int, dict[str, int], dict[str, int]]:
    """Return the output's rows, and its events by ``resource_type`` (or ``none``) and action."""
    counts: dict[str, Counter[str]] = {"resource_type": Counter(), "action": Counter()}
    output = pq.ParquetFile(path)
    for batch in output.iter_batches(batch_size=ROW_GROUP_ROWS, columns=list(counts)):
        for column, counter in counts.items():
            values = pc.value_counts(batch.column(column).fill_null("none"))
            for entry in values.to_pylist():
                counter[entry["values"]] += entry["counts"]
    return (
        output.metadata.num_rows,
        dict(sorted(counts["resource_type"].items())),
        dict(sorted(counts["action"].items())),
    )
