"""Scoring on Spark: vectors against the model's history, then row-wise scores.

Scoring has two halves of different shape:

* vectors (:func:`spark_scoring_vectors`): per identity group, measured against the
  model's profiles and recent events, the same call the live service makes
  (``behaviour_vectors(events, profiles, recent=...)``) with ``org_first_use``
  computed once over the new events and the recent ones;
* scores: one row out per vector in, the shape ``mlflow.pyfunc.spark_udf`` serves
  (:func:`spark_udf_scores`).

The registered pyfunc (``training/_pyfunc.py``) takes canonical events and returns
windows, fewer rows than it is given, which ``spark_udf`` cannot carry; it has to
accept vectors for the second half (ADR 0016, gap 1). :func:`spark_udf_scores`
checks the model's input signature and says so instead of failing inside a task.
"""

# ruff: noqa: PLC0415 - pyspark and MLflow are optional: imported where they are used

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import pandas as pd

from changewatch.errors import ConfigurationError
from features import FEATURE_NAMES, VECTOR_COLUMNS, FeatureConfig, Profiles
from features import behaviour_vectors as _behaviour_vectors
from training.spark._features import (
    FEATURE_INPUT_COLUMNS,
    bucket_count,
    to_canonical_pandas,
    vector_schema,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["SCORE_RESULT_TYPE", "spark_scoring_vectors", "spark_udf_scores"]

logger = logging.getLogger(__name__)

SCORE_RESULT_TYPE: Final = (
    "score double, percentile double, cold_start boolean, explanations string"
)
"""Spark result type of the row-wise scorer."""

_BUCKET: Final = "_cw_bucket"


def spark_scoring_vectors(
    events: DataFrame,
    profiles: Profiles,
    recent: pd.DataFrame,
    *,
    buckets: int | None = None,
) -> DataFrame:
    """Vectors of the windows ``events`` touch, measured against a model's history.

    Parameters
    ----------
    events : pyspark.sql.DataFrame
        Canonical events after the model's training period.
    profiles : Profiles
        The model's profiles (``ChangeDetector.profiles_``), broadcast to the executors.
    recent : pandas.DataFrame
        The model's recent events (``ChangeDetector.recent_``): sequence look-back.
    buckets : int, optional
        Identity groups (see :func:`spark_vectors`).

    Returns
    -------
    pyspark.sql.DataFrame
        :data:`features.VECTOR_COLUMNS`; equal to ``FeatureState(profiles,
        recent).vectors(events)`` on one machine, row order aside.
    """
    from pyspark.sql import functions as F  # noqa: N812

    spark = events.sparkSession
    selected = events.select(*FEATURE_INPUT_COLUMNS)
    if buckets is None:
        partitions = int(spark.conf.get("spark.sql.shuffle.partitions") or 200)
        buckets = bucket_count(selected.count(), partitions, 500_000)
    zone = spark.conf.get("spark.sql.session.timeZone") or "UTC"
    firsts = selected.groupBy("identity_key", "event_name").agg(
        F.min("event_time").alias("first_seen")
    )
    org = firsts.toPandas()
    first = pd.to_datetime(org["first_seen"])
    org["first_seen"] = (
        first.dt.tz_localize(zone) if first.dt.tz is None else first
    ).dt.tz_convert("UTC")
    if len(recent):
        grouped = recent.groupby(["identity_key", "event_name"], as_index=False)
        past = pd.DataFrame(grouped["event_time"].min()).rename(
            columns={"event_time": "first_seen"}
        )
        org = pd.concat([org, past], ignore_index=True)
        org = pd.DataFrame(
            org.groupby(["identity_key", "event_name"], as_index=False)["first_seen"].min()
        )
    org = org.astype({"identity_key": object, "event_name": object})
    shipped = spark.sparkContext.broadcast((profiles, recent[list(FEATURE_INPUT_COLUMNS)], org))
    settings = profiles.config.to_json()

    def run(group: pd.DataFrame) -> pd.DataFrame:
        state_profiles, state_recent, org_table = shipped.value
        frame = to_canonical_pandas(group.drop(columns=[_BUCKET]), zone)
        mine = state_recent[state_recent["identity_key"].isin(frame["identity_key"].unique())]
        if state_profiles.config != FeatureConfig.from_json(settings):  # pragma: no cover
            raise ConfigurationError("profiles changed in transit")
        vectors = _behaviour_vectors(
            frame, state_profiles, recent=mine if len(mine) else None, org_first_use=org_table
        )
        return vectors[list(VECTOR_COLUMNS)]

    keyed = selected.withColumn(_BUCKET, F.pmod(F.xxhash64("identity_key"), F.lit(buckets)))
    return keyed.groupBy(_BUCKET).applyInPandas(run, schema=vector_schema())


def _input_names(model_uri: str) -> list[str]:
    from mlflow.models import get_model_info

    signature = get_model_info(model_uri).signature
    if signature is None or signature.inputs is None:
        return []
    return [str(name) for name in signature.inputs.input_names()]


def spark_udf_scores(
    vectors: DataFrame, model_uri: str, *, result_type: str = SCORE_RESULT_TYPE
) -> DataFrame:
    """Score vectors row-wise with a registered model through ``mlflow.pyfunc.spark_udf``.

    Parameters
    ----------
    vectors : pyspark.sql.DataFrame
        :data:`features.VECTOR_COLUMNS` rows (:func:`spark_scoring_vectors`).
    model_uri : str
        ``models:/NAME@alias``, ``runs:/...`` or a local model directory.
    result_type : str
        Spark DDL of the scorer's output struct.

    Returns
    -------
    pyspark.sql.DataFrame
        The key columns of the vectors, then the fields of ``result_type``.

    Raises
    ------
    ConfigurationError
        When the model's input signature does not take vectors (one output row per
        input row is what ``spark_udf`` requires).
    """
    import mlflow
    from pyspark.sql import functions as F  # noqa: N812

    names = _input_names(model_uri)
    if names and not set(FEATURE_NAMES) <= set(names):
        raise ConfigurationError(
            f"model {model_uri!r} takes {len(names)} inputs that are not behavioural vectors "
            "(it scores canonical events into windows); mlflow.pyfunc.spark_udf needs a model "
            "that returns one row per input row: log the scorer with a vector signature"
        )
    scorer = mlflow.pyfunc.spark_udf(
        vectors.sparkSession, model_uri, result_type=result_type, env_manager="local"
    )
    inputs: list[Column] = [F.col(name) for name in (names or list(VECTOR_COLUMNS))]
    scored = vectors.withColumn("_cw_result", scorer(F.struct(*inputs)))
    return scored.select("identity_key", "window_start", "window_end", "_cw_result.*")
