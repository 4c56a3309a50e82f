"""Behavioural vectors on Spark: the same pandas featuriser, run per group of identities.

:func:`spark_vectors` computes the organisation's (identity, event name, first use)
table once, a small aggregate shipped to every task as a broadcast, then shuffles the
events by identity and runs :func:`features.behaviour_vectors` on each group with
``groupBy(...).applyInPandas``. An identity's events always land in one group, and
``org_first_use`` is the only input that crosses identities (ADR 0008), so the vectors
equal the single-machine ones exactly.

A group holds every identity of one hash bucket, not one identity: each call of the
featuriser has a fixed cost (about 40 ms measured with a 4,000-row organisation
table), which would dominate an organisation of many small identities (ADR 0016).
"""

# ruff: noqa: PLC0415 - pyspark and MLflow are optional: imported where they are used

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from features import (
    CANONICAL_SCHEMA,
    FEATURISER_INPUT_COLUMNS,
    KEY_COLUMNS,
    VECTOR_COLUMNS,
    VECTOR_SCHEMA_VERSION,
    FeatureConfig,
    InputError,
)
from features import behaviour_vectors as _behaviour_vectors
from features import org_first_use as first_uses_of

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "EVENTS_PER_BUCKET",
    "FEATURE_INPUT_COLUMNS",
    "bucket_count",
    "normalise_vectors",
    "org_first_use",
    "spark_vectors",
    "to_canonical_pandas",
    "vector_schema",
    "vectors_to_pandas",
]

logger = logging.getLogger(__name__)

EVENTS_PER_BUCKET: Final = 500_000
"""Default events per group: large enough to amortise a call, small enough for one task."""

FEATURE_INPUT_COLUMNS: Final = tuple(FEATURISER_INPUT_COLUMNS)
"""Canonical columns the featuriser reads (:data:`features.FEATURISER_INPUT_COLUMNS`);
only these are shuffled."""

_BUCKET: Final = "_cw_bucket"


def vector_schema() -> StructType:
    """Return the Spark schema of :data:`features.VECTOR_COLUMNS`: keys, then doubles."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampType

    kinds = {
        "identity_key": StringType(),
        "window_start": TimestampType(),
        "window_end": TimestampType(),
        "schema_version": StringType(),
    }
    return StructType(
        [
            StructField(name, kinds.get(name, DoubleType()), nullable=name not in KEY_COLUMNS)
            for name in VECTOR_COLUMNS
        ]
    )


def to_canonical_pandas(frame: pd.DataFrame, session_time_zone: str = "UTC") -> pd.DataFrame:
    """Give a pandas frame that came out of Spark the dtypes :func:`features.read_events` gives.

    Spark hands timestamps over without a zone (wall time of the session zone) and
    nullable integers as floats; the frame goes through the canonical Arrow schema so
    the featuriser sees exactly what it sees on one machine.

    Raises
    ------
    InputError
        When a canonical column is missing.
    """
    missing = [name for name in FEATURE_INPUT_COLUMNS if name not in frame.columns]
    if missing:
        raise InputError(f"canonical event table lacks columns {missing}")
    names = [name for name in CANONICAL_SCHEMA.names if name in frame.columns]
    schema = pa.schema([CANONICAL_SCHEMA.field(name) for name in names])
    frame = frame[names].copy()
    time = pd.to_datetime(frame["event_time"])
    if time.dt.tz is None:
        time = time.dt.tz_localize(session_time_zone)
    frame["event_time"] = time.dt.tz_convert("UTC")
    for name in ("resource_ids", "share_targets"):
        if name in frame.columns:
            frame[name] = [[] if v is None else list(v) for v in frame[name]]
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    canonical: pd.DataFrame = table.to_pandas()
    return canonical


def org_first_use(events: DataFrame, also: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the first use of each event name by each identity of the organisation.

    The Spark side of :func:`features.org_first_use`: one aggregate over the events,
    collected (its size grows with identities times actions, not with events).

    Parameters
    ----------
    events : pyspark.sql.DataFrame
        Canonical events (``identity_key``, ``event_name``, ``event_time`` are read).
    also : pandas.DataFrame, optional
        Canonical events known beside them (a model's recent training events).

    Returns
    -------
    pandas.DataFrame
        ``identity_key``, ``event_name``, ``first_seen`` (UTC), the ``org_first_use``
        argument of :func:`features.behaviour_vectors`; one row per (identity, event name).
    """
    from pyspark.sql import functions as F  # noqa: N812

    pairs = events.groupBy("identity_key", "event_name").agg(
        F.min("event_time").alias("event_time")
    )
    zone = events.sparkSession.conf.get("spark.sql.session.timeZone") or "UTC"
    table = pairs.toPandas()
    time = pd.to_datetime(table["event_time"])
    table["event_time"] = (time.dt.tz_localize(zone) if time.dt.tz is None else time).dt.tz_convert(
        "UTC"
    )
    if also is not None and len(also):
        table = pd.concat([table, also[["identity_key", "event_name", "event_time"]]])
    return first_uses_of(table.astype({"identity_key": object, "event_name": object}))


def _featurise(
    config: dict[str, Any], org: Callable[[], pd.DataFrame], zone: str
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return what each group runs: canonical dtypes in, the featuriser, vectors out."""

    def run(group: pd.DataFrame) -> pd.DataFrame:
        events = to_canonical_pandas(group.drop(columns=[_BUCKET], errors="ignore"), zone)
        vectors = _behaviour_vectors(
            events, config=FeatureConfig.from_json(config), org_first_use=org()
        )
        return vectors[list(VECTOR_COLUMNS)]

    return run


def _shipped(spark: SparkSession, table: pd.DataFrame) -> Callable[[], pd.DataFrame]:
    """Ship ``table`` to the executors once (a broadcast), or in the closure (Spark Connect)."""
    try:
        handle = spark.sparkContext.broadcast(table)
    except Exception:
        logger.info("no SparkContext (Spark Connect?): org_first_use travels in the closure")
        return lambda: table

    def value() -> pd.DataFrame:
        shipped: pd.DataFrame = handle.value
        return shipped

    return value


def bucket_count(n_events: int, shuffle_partitions: int, per_bucket: int) -> int:
    """Return the groups for ``n_events``: one per shuffle partition, ``per_bucket`` at most."""
    return max(1, shuffle_partitions, math.ceil(n_events / max(per_bucket, 1)))


def spark_vectors(
    events: DataFrame,
    config: FeatureConfig | None = None,
    *,
    buckets: int | None = None,
    events_per_bucket: int = EVENTS_PER_BUCKET,
    org: pd.DataFrame | None = None,
) -> DataFrame:
    """Compute the behavioural vectors of canonical events on Spark.

    Parameters
    ----------
    events : pyspark.sql.DataFrame
        Canonical events (:func:`read_events_spark` or any frame with the canonical
        columns the featuriser reads).
    config : FeatureConfig, optional
        Feature settings; the defaults when omitted.
    buckets : int, optional
        Number of identity groups. By default enough for ``events_per_bucket`` events
        each and never fewer than ``spark.sql.shuffle.partitions`` (this counts the
        events once).
    events_per_bucket : int
        Target size of a group when ``buckets`` is not given.
    org : pandas.DataFrame, optional
        A precomputed :func:`org_first_use` table (it is computed otherwise).

    Returns
    -------
    pyspark.sql.DataFrame
        Columns :data:`features.VECTOR_COLUMNS`, one row per identity and window; equal
        to :func:`features.behaviour_vectors` over the same events, row order aside.
    """
    from pyspark.sql import functions as F  # noqa: N812

    config = config or FeatureConfig()
    spark = events.sparkSession
    missing = [name for name in FEATURE_INPUT_COLUMNS if name not in events.columns]
    if missing:
        raise InputError(f"canonical event table lacks columns {missing}")
    selected = events.select(*FEATURE_INPUT_COLUMNS)
    if buckets is None:
        partitions = int(spark.conf.get("spark.sql.shuffle.partitions") or 200)
        buckets = bucket_count(selected.count(), partitions, events_per_bucket)
    if buckets < 1:
        raise InputError(f"buckets must be >= 1, got {buckets}")
    table = org if org is not None else org_first_use(selected)
    logger.info(
        "org_first_use: %d (identity, action) pairs; %d identity groups", len(table), buckets
    )
    zone = spark.conf.get("spark.sql.session.timeZone") or "UTC"
    run = _featurise(config.to_json(), _shipped(spark, table), zone)
    keyed = selected.withColumn(_BUCKET, F.pmod(F.xxhash64("identity_key"), F.lit(buckets)))
    return keyed.groupBy(_BUCKET).applyInPandas(run, schema=vector_schema())


def vectors_to_pandas(vectors: DataFrame) -> pd.DataFrame:
    """Collect Spark vectors in the single-machine layout: sorted, UTC, the same dtypes."""
    frame = vectors.toPandas()
    zone = vectors.sparkSession.conf.get("spark.sql.session.timeZone") or "UTC"
    return normalise_vectors(frame, zone)


def normalise_vectors(frame: pd.DataFrame, zone: str = "UTC") -> pd.DataFrame:
    """Return vectors from Spark as :func:`features.behaviour_vectors` returns them.

    Sorted by identity and window, times in UTC, columns built the way the featuriser
    builds them, so ``pandas.testing.assert_frame_equal`` holds between the two.
    """
    frame = frame.sort_values(["identity_key", "window_start"], kind="stable")
    columns: dict[str, Any] = {}
    for name in VECTOR_COLUMNS:
        column = frame[name]
        if name in ("window_start", "window_end"):
            times = pd.to_datetime(column)
            if times.dt.tz is None:
                times = times.dt.tz_localize(zone)
            columns[name] = times.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").to_numpy()
            columns[name] = pd.to_datetime(columns[name], utc=True)
        elif name in ("identity_key", "schema_version"):
            columns[name] = column.to_numpy(dtype=object)
        else:
            columns[name] = column.to_numpy(dtype=np.float64)
    out = pd.DataFrame(columns, columns=list(VECTOR_COLUMNS))
    out.attrs["schema_version"] = VECTOR_SCHEMA_VERSION
    return out
