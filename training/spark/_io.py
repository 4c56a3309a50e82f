"""Reading CloudTrail into a Spark DataFrame of canonical events.

Two inputs, told apart by content as on one machine:

* canonical Parquet (``changewatch ingest`` output, or a data lake table of it): read
  with ``spark.read.parquet``;
* raw CloudTrail (S3 delivery files ``{"Records": [...]}``, gzip or not, JSON arrays,
  NDJSON): read as whole files with the ``binaryFile`` source and normalised inside
  ``mapInArrow`` by the same reader and normaliser as ``changewatch ingest``
  (:func:`features.read_records`, :func:`features.records_to_table`), so a record
  becomes the same canonical row on either engine. Bad records are dropped and
  counted, never fatal.

Paths may be local or any Hadoop-compatible URI (``s3a://``, ``abfss://``, ``gs://``,
``hdfs://``, ``dbfs:/``).
"""

# ruff: noqa: PLC0415 - pyspark and MLflow are optional: imported where they are used

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

import pandas as pd
import pyarrow as pa

from features import (
    CANONICAL_SCHEMA,
    ChangewatchError,
    GeoIP,
    IdentityKeyRule,
    InputError,
    Normalizer,
    NotCloudTrail,
    read_records,
    records_to_table,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "CLOUDTRAIL_GLOB",
    "canonical_spark_schema",
    "read_cloudtrail_spark",
    "read_events_spark",
]

logger = logging.getLogger(__name__)

CLOUDTRAIL_GLOB: Final = "*.{json,json.gz,jsonl,ndjson,gz,jsonl.gz,ndjson.gz}"
"""File names read from directories (as ``changewatch ingest`` does)."""

_PARQUET_MAGIC: Final = b"PAR1"


def canonical_spark_schema() -> StructType:
    """Return the canonical table (:data:`features.CANONICAL_SCHEMA`) as a Spark schema."""
    from pyspark.sql.pandas.types import from_arrow_schema

    schema: StructType = from_arrow_schema(CANONICAL_SCHEMA)
    return schema


_CHUNK_RECORDS: Final = 50_000


def _normalise_files(
    geoip: str | None, person_roles: tuple[str, ...]
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pa.RecordBatch]]:
    """Return the ``mapInArrow`` function: (path, content) rows -> canonical Arrow batches."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pa.RecordBatch]:
        normalizer = Normalizer(IdentityKeyRule(person_roles), GeoIP(geoip) if geoip else None)
        records: list[Any] = []

        def flush() -> Iterator[pa.RecordBatch]:
            result = records_to_table(records, source="<spark>", normalizer=normalizer)
            records.clear()
            if result.rejections:
                first = result.rejections[0]
                logger.warning(
                    "%d records rejected (first: field %s, %s)",
                    len(result.rejections),
                    first.field,
                    first.reason,
                )
            return iter(result.table.to_batches())

        for batch in batches:
            for path, content in zip(batch["path"], batch["content"], strict=True):
                try:
                    records.extend(read_records(bytes(content), str(path)))
                except NotCloudTrail as error:
                    logger.info("skipped %s", error)
                except ChangewatchError as error:  # one bad file never sinks a batch
                    logger.warning("file %s not read: %s", path, error)
                if len(records) >= _CHUNK_RECORDS:
                    yield from flush()
        if records:
            yield from flush()

    return run


def read_cloudtrail_spark(
    spark: SparkSession,
    paths: Sequence[str],
    *,
    geoip: str | None = None,
    person_roles: Sequence[str] = (),
) -> DataFrame:
    """Read raw CloudTrail files (or directories of them) as canonical events.

    Parameters
    ----------
    spark : SparkSession
        The session.
    paths : sequence of str
        Files or directories, local or Hadoop-compatible URIs; directories are walked
        recursively for CloudTrail file names.
    geoip : str, optional
        MaxMind database, at a path every executor can read (``--files`` on a cluster).
    person_roles : sequence of str
        Role ARN patterns whose sessions are people (as ``changewatch ingest``).

    Returns
    -------
    pyspark.sql.DataFrame
        The canonical columns; an event id seen twice keeps one copy.
    """
    if not paths:
        raise InputError("no event paths given")
    reader = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", CLOUDTRAIL_GLOB)
    )
    files = reader.load(list(paths)).select("path", "content")
    run = _arrow(_normalise_files(geoip, tuple(person_roles)))
    return files.mapInArrow(run, schema=canonical_spark_schema()).dropDuplicates(["event_id"])


def _arrow(
    fn: Callable[[Iterator[pd.DataFrame]], Iterator[pa.RecordBatch]],
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """Adapt a pandas-in, Arrow-out function to ``mapInArrow`` (binary stays bytes)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return fn(batch.to_pandas() for batch in batches)

    return run


def _is_parquet_path(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` is a Parquet file or a directory of Parquet files (Spark output)."""
    if path.endswith(".parquet"):
        return True
    try:
        head = spark.read.format("binaryFile").load(path).select("path").limit(1).collect()
    except Exception:
        return False
    if not head:
        return False
    first = str(head[0]["path"])
    return first.endswith(".parquet") or _starts_with_magic(spark, first)


def _starts_with_magic(spark: SparkSession, path: str) -> bool:
    row = spark.read.format("binaryFile").load(path).select("content").first()
    return row is not None and bytes(row["content"][:4]) == _PARQUET_MAGIC


def read_events_spark(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """Read canonical events from canonical Parquet and/or raw CloudTrail paths.

    A path ending in ``.parquet`` (or holding Parquet files) is read as the canonical
    table; anything else as raw CloudTrail. Both are brought to the canonical columns.

    Raises
    ------
    InputError
        When no path is given or a Parquet input lacks canonical columns.
    """
    if not paths:
        raise InputError("no event paths given")
    parquet = [p for p in paths if _is_parquet_path(spark, p)]
    raw = [p for p in paths if p not in parquet]
    frames: list[DataFrame] = []
    if parquet:
        table = spark.read.parquet(*parquet)
        missing = [n for n in CANONICAL_SCHEMA.names if n not in table.columns]
        if missing:
            raise InputError(f"{', '.join(parquet)}: missing canonical columns {missing}")
        frames.append(table.select(*CANONICAL_SCHEMA.names))
    if raw:
        frames.append(read_cloudtrail_spark(spark, raw))
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out
