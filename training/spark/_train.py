"""Training on Spark: vectors, profiles and usual values distributed; the forest on a sample.

Everything that grows with the events runs per identity group on the executors:
behavioural vectors (:func:`spark_vectors`), the identity profiles
(:func:`features.build_profiles` per group; an identity's rows never depend on another
identity) and each identity's usual values (medians of its windows). Only what the
forest needs reaches the driver: a bounded, seeded sample of the baseline windows
(cold-start windows excluded as on one machine). When the sample holds every eligible
window, the detector equals ``ChangeDetector.fit`` on the same events (the test
checks scores); with a sample it is the same estimator fitted on fewer rows.

The detector is fitted by its own :meth:`models.ChangeDetector.fit_vectors` (the second
half of ``fit``) on the collected sample, with the profiles and usual values learned from
every window.
"""

# ruff: noqa: PLC0415 - pyspark and MLflow are optional: imported where they are used

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.base import clone

from features import (
    CANONICAL_SCHEMA,
    FEATURE_NAMES,
    ConfigurationError,
    FeatureConfig,
    InputError,
    Profiles,
    build_profiles,
)
from models import DEFAULT_FEATURES, ChangeDetector, UsualValues
from training.spark._features import (
    FEATURE_INPUT_COLUMNS,
    normalise_vectors,
    org_first_use,
    spark_vectors,
    to_canonical_pandas,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["MAX_TRAINING_WINDOWS", "SparkFit", "fit_detector_spark", "spark_profiles"]

logger = logging.getLogger(__name__)

MAX_TRAINING_WINDOWS: Final = 500_000
"""Windows collected to the driver for the forest; an isolation tree sees 256 of them."""

_BUCKET: Final = "_cw_bucket"
_PROFILE_TABLES: Final = ("identities", "values", "org_actions")


@dataclass(frozen=True, slots=True)
class SparkFit:
    """A detector trained on Spark, with what it was trained on."""

    detector: ChangeDetector
    n_events: int
    n_windows: int
    n_eligible: int
    n_sampled: int
    buckets: int


def _table_bytes(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def _bytes_table(data: bytes) -> pd.DataFrame:
    frame: pd.DataFrame = pq.read_table(io.BytesIO(data)).to_pandas()
    return frame


def spark_profiles(
    events: DataFrame,
    config: FeatureConfig,
    *,
    since: pd.Timestamp,
    until: pd.Timestamp,
    buckets: int,
) -> Profiles:
    """:func:`features.build_profiles` over ``[since, until)``, one identity group per task.

    Each group returns its three tables as Parquet bytes; the driver concatenates them
    (profiles hold one row per identity and remembered value, not per event).
    """
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import BinaryType, StringType, StructField, StructType

    zone = events.sparkSession.conf.get("spark.sql.session.timeZone") or "UTC"
    settings = config.to_json()

    def run(group: pd.DataFrame) -> pd.DataFrame:
        frame = to_canonical_pandas(group.drop(columns=[_BUCKET]), zone)
        built = build_profiles(frame, FeatureConfig.from_json(settings), since=since, until=until)
        return pd.DataFrame(
            {
                "table": list(_PROFILE_TABLES),
                "data": [_table_bytes(getattr(built, name)) for name in _PROFILE_TABLES],
            }
        )

    schema = StructType(
        [StructField("table", StringType(), False), StructField("data", BinaryType(), False)]
    )
    keyed = events.select(*FEATURE_INPUT_COLUMNS).withColumn(
        _BUCKET, F.pmod(F.xxhash64("identity_key"), F.lit(buckets))
    )
    rows = keyed.groupBy(_BUCKET).applyInPandas(run, schema=schema).collect()
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in _PROFILE_TABLES}
    for row in rows:
        parts[str(row["table"])].append(_bytes_table(bytes(row["data"])))
    empty = Profiles.empty(config)
    tables: dict[str, pd.DataFrame] = {}
    for name in _PROFILE_TABLES:
        frames = [f for f in parts[name] if len(f)]
        tables[name] = pd.concat(frames, ignore_index=True) if frames else getattr(empty, name)
    order = {"identities": ["identity_key"], "values": ["identity_key", "dimension", "value"]}
    order["org_actions"] = ["event_name", "identity_key"]
    for name, keys in order.items():
        tables[name] = tables[name].sort_values(keys, kind="stable").reset_index(drop=True)
    return Profiles(
        config=config,
        since=since,
        until=until,
        identities=tables["identities"],
        values=tables["values"],
        org_actions=tables["org_actions"],
    )


def _usual_spark(vectors: DataFrame, names: tuple[str, ...], buckets: int) -> UsualValues:
    """Per-identity medians of every window, computed per identity group; org median exact."""
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    def run(group: pd.DataFrame) -> pd.DataFrame:
        values = group[list(names)].astype(np.float64)
        grouped = values.groupby(group["identity_key"].to_numpy(dtype=object), sort=True)
        table = grouped.median()
        table.insert(0, "n_windows", grouped.size().astype(np.int64))
        table.insert(0, "identity_key", table.index.astype(str))
        return table.reset_index(drop=True)

    schema = StructType(
        [StructField("identity_key", StringType()), StructField("n_windows", LongType())]
        + [StructField(n, DoubleType()) for n in names]
    )
    keyed = vectors.select("identity_key", *names).withColumn(
        _BUCKET, F.pmod(F.xxhash64("identity_key"), F.lit(buckets))
    )
    body = keyed.groupBy(_BUCKET).applyInPandas(run, schema=schema).toPandas()
    body = body.sort_values("identity_key", kind="stable")
    medians = vectors.select(*[F.percentile(F.col(n), 0.5).alias(n) for n in names]).first()
    if medians is None:
        raise InputError("cannot learn usual values from no windows")
    table = body.set_index(pd.Index(body["identity_key"].to_numpy(dtype=object)))[list(names)]
    table = table.astype(np.float64)
    table.index.name = "identity_key"
    org = pd.Series([float(medians[n]) for n in names], index=list(names), dtype=np.float64)
    windows = pd.Series(body["n_windows"].to_numpy(dtype=np.int64), index=table.index, name=None)
    return UsualValues(table, org, windows)


def _fingerprint(events: DataFrame, sample: pd.DataFrame) -> str:
    """SHA-256 of the event count, an order-free digest of the event ids and the sample.

    Not :func:`models.data_fingerprint` (which hashes every sorted event id on one
    machine): the same data on Spark always gives the same value, but not the
    single-machine one.
    """
    from pyspark.sql import functions as F  # noqa: N812

    row = events.select(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.xxhash64("event_id").cast("decimal(38,0)")).alias("ids"),
    ).first()
    digest = hashlib.sha256(b"changewatch-spark-training-data/1\n")
    digest.update(f"{row['n'] if row else 0}\n{row['ids'] if row else 0}\n".encode())
    matrix = np.ascontiguousarray(sample[list(FEATURE_NAMES)].to_numpy(dtype="<f8"))
    digest.update(matrix.tobytes())
    return digest.hexdigest()


def fit_detector_spark(
    events: DataFrame,
    estimator: ChangeDetector | None = None,
    *,
    max_windows: int = MAX_TRAINING_WINDOWS,
    seed: int = 0,
    buckets: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> SparkFit:
    """Train a :class:`models.ChangeDetector` on the baseline ``events`` with Spark.

    Parameters
    ----------
    events : pyspark.sql.DataFrame
        Canonical events of the baseline period.
    estimator : ChangeDetector, optional
        Unfitted detector whose parameters are used; ``ChangeDetector()`` by default.
    max_windows : int
        At most this many eligible baseline windows are collected for the forest
        (a seeded Bernoulli sample when there are more).
    seed : int
        Seed of the sample.
    buckets : int, optional
        Identity groups (see :func:`spark_vectors`).
    progress : callable, optional
        Called with a short message after each stage.

    Returns
    -------
    SparkFit
        The fitted detector and counts.

    Raises
    ------
    InputError
        When the events leave fewer than two windows to train on.
    ConfigurationError
        When the estimator names features outside the catalogue.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812

    say = progress or (lambda message: logger.info("%s", message))
    estimator = estimator if estimator is not None else ChangeDetector()
    params: dict[str, Any] = estimator.get_params()
    config = params["feature_config"] or FeatureConfig()
    names = _feature_names(params["features"])
    spark = events.sparkSession
    if buckets is None:
        partitions = int(spark.conf.get("spark.sql.shuffle.partitions") or 200)
        n_events = events.count()
        buckets = max(1, partitions, -(-n_events // 500_000))
    else:
        n_events = events.count()
    if n_events == 0:
        raise InputError("cannot train on no events")
    org = org_first_use(events.select("identity_key", "event_name", "event_time"))
    vectors = spark_vectors(events, config, buckets=buckets, org=org).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        span = vectors.agg(F.min("window_start").alias("a"), F.max("window_end").alias("b"))
        bounds = span.toPandas()
        if bounds["a"].isna().all():
            raise InputError("need at least 2 baseline windows to train on, got 0")
        zone = spark.conf.get("spark.sql.session.timeZone") or "UTC"
        start = _utc(bounds["a"].iloc[0], zone)
        end = _utc(bounds["b"].iloc[0], zone)
        n_windows = vectors.count()
        say(f"vectors: {n_windows} windows of {n_events} events, {start} to {end}")
        profiles = spark_profiles(events, config, since=start, until=end, buckets=buckets)
        say(f"profiles: {len(profiles.identities)} identities")
        horizon_start = end - pd.Timedelta(config.horizon)
        recent_rows = events.where(F.col("event_time") >= F.lit(horizon_start.to_pydatetime()))
        recent = to_canonical_pandas(recent_rows.toPandas(), zone)
        recent = recent[list(CANONICAL_SCHEMA.names)].sort_values(
            ["event_time", "event_id"], kind="stable"
        )
        usual = _usual_spark(vectors, names, buckets)
        eligible = vectors
        if params["exclude_cold_start"]:
            eligible = eligible.where(F.col("cold_start") == 0)
        if params["only_change_windows"]:
            eligible = eligible.where(F.col("n_changes") > 0)
        n_eligible = eligible.count()
        if n_eligible < 2:
            raise InputError(
                f"need at least 2 baseline windows to train on, got {n_eligible} of {n_windows}"
            )
        if n_eligible > max_windows:
            fraction = min(1.0, 1.1 * max_windows / n_eligible)
            eligible = eligible.sample(fraction=fraction, seed=seed).limit(max_windows)
        sample = normalise_vectors(eligible.toPandas(), zone)
        say(f"forest: {len(sample)} of {n_eligible} eligible windows")
        detector = clone(estimator).fit_vectors(
            sample,
            profiles=profiles,
            recent=recent.reset_index(drop=True),
            training_period=(start, end),
            fingerprint=_fingerprint(events, sample),
            usual=usual,
        )
    finally:
        vectors.unpersist()
    return SparkFit(detector, n_events, n_windows, n_eligible, len(sample), buckets)


def _feature_names(chosen: Any) -> tuple[str, ...]:
    """Return the forest's features, checked before any Spark work (``fit_vectors`` again)."""
    names = tuple(str(n) for n in (chosen if chosen is not None else DEFAULT_FEATURES))
    unknown = [n for n in names if n not in FEATURE_NAMES]
    if unknown or not names or len(set(names)) != len(names):
        raise ConfigurationError(
            f"features must be distinct names of the feature catalogue, got {list(names)}"
        )
    return names


def _utc(value: Any, zone: str) -> pd.Timestamp:
    moment = pd.Timestamp(value)
    return moment.tz_localize(zone) if moment.tzinfo is None else moment.tz_convert("UTC")
