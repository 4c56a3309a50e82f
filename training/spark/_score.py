"""Scoring on Spark: vectors against the model's history, then row-wise scores.

Scoring has two halves of different shape:

* vectors (:func:`spark_scoring_vectors`): per identity group, measured against the
  model's profiles and recent events, the same call the live service makes
  (``behaviour_vectors(events, profiles, recent=...)``) with ``org_first_use``
  computed once over the new events and the recent ones;
* scores: one row out per vector in, the shape ``mlflow.pyfunc.spark_udf`` serves
  (:func:`spark_udf_scores`), by the *vector scorer* (``training/_pyfunc_vectors.py``)
  logged beside the event scorer in every training run.

The registered event scorer (``training/_pyfunc.py``) takes canonical events and
returns windows, fewer rows than it is given, which ``spark_udf`` cannot carry; the
vector scorer takes the vectors and returns one row each (ADR 0016).
:func:`spark_udf_scores` checks the model's signature and says what is wrong instead
of failing inside a task.
"""

# ruff: noqa: PLC0415 - pyspark and MLflow are optional: imported where they are used

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import pandas as pd

from features import FEATURE_NAMES, VECTOR_COLUMNS, ConfigurationError, FeatureConfig, Profiles
from features import behaviour_vectors as _behaviour_vectors
from training.spark._features import (
    FEATURE_INPUT_COLUMNS,
    bucket_count,
    org_first_use,
    to_canonical_pandas,
    vector_schema,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["SCORED_WINDOW_KEYS", "SCORE_RESULT_TYPE", "spark_scoring_vectors", "spark_udf_scores"]

logger = logging.getLogger(__name__)

SCORE_RESULT_TYPE: Final = (
    "score double, percentile double, cold_start boolean, explanation string, explanations string"
)
"""Spark result type of the vector scorer (``training._pyfunc_vectors.VECTOR_SCORE_COLUMNS``)."""

SCORED_WINDOW_KEYS: Final = ("identity", "window_start", "window_end")
"""First columns of the scored windows, as ``ChangeDetector.score_windows`` names them."""

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
    org = org_first_use(selected, recent)  # the model's recent events count too
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


def _signature_names(model_uri: str) -> tuple[list[str], list[str]]:
    from mlflow.models import get_model_info

    signature = get_model_info(model_uri).signature
    if signature is None:
        return [], []
    inputs = [] if signature.inputs is None else signature.inputs.input_names()
    outputs = [] if signature.outputs is None else signature.outputs.input_names()
    return [str(n) for n in inputs], [str(n) for n in outputs]


def _field_names(result_type: str) -> list[str]:
    from pyspark.sql.types import StructType, _parse_datatype_string

    parsed = _parse_datatype_string(result_type)
    if not isinstance(parsed, StructType):
        raise ConfigurationError(f"result_type must be a struct, got {result_type!r}")
    return [field.name for field in parsed.fields]


def spark_udf_scores(
    vectors: DataFrame,
    model_uri: str,
    *,
    result_type: str = SCORE_RESULT_TYPE,
    keep: Sequence[str] | None = None,
) -> DataFrame:
    """Score vectors row-wise with a logged vector scorer through ``mlflow.pyfunc.spark_udf``.

    Parameters
    ----------
    vectors : pyspark.sql.DataFrame
        :data:`features.VECTOR_COLUMNS` rows (:func:`spark_scoring_vectors`).
    model_uri : str
        The vector scorer: ``models:/m-...`` (``training.vector_scorer_uri`` finds it
        for a registered version), ``runs:/RUN/vector_scorer`` or a local model
        directory. MLflow URIs are resolved against the global tracking URI.
    result_type : str
        Spark DDL of the scorer's output struct; every field must be a column of the
        model's output signature.
    keep : sequence of str, optional
        Vector columns written after the scores; by default every vector column that
        is not already a key or score column (as ``ChangeDetector.score_windows``).

    Returns
    -------
    pyspark.sql.DataFrame
        ``identity``, ``window_start``, ``window_end``, the fields of ``result_type``,
        then ``keep``: one row per vector.

    Raises
    ------
    ConfigurationError
        When the model does not take behaviour vectors or does not return the fields
        of ``result_type`` (``spark_udf`` needs one output row per input row).
    """
    import mlflow
    from pyspark.sql import functions as F  # noqa: N812

    inputs, outputs = _signature_names(model_uri)
    if not set(FEATURE_NAMES) <= set(inputs):
        raise ConfigurationError(
            f"model {model_uri!r} does not take behaviour vectors (its inputs: "
            f"{inputs[:5] or 'no signature'}...); mlflow.pyfunc.spark_udf needs a model that "
            "returns one row per input row: use the run's vector scorer"
        )
    fields = _field_names(result_type)
    lacking = [name for name in fields if name not in outputs]
    if lacking:
        raise ConfigurationError(
            f"model {model_uri!r} returns {outputs}, not the fields {lacking} of the result type"
        )
    scorer = mlflow.pyfunc.spark_udf(
        vectors.sparkSession, model_uri, result_type=result_type, env_manager="local"
    )
    taken: list[Column] = [F.col(name) for name in inputs]
    scored = vectors.withColumn("_cw_result", scorer(F.struct(*taken)))
    done = {"window_start", "window_end", *fields}
    rest = [c for c in VECTOR_COLUMNS if c not in done] if keep is None else list(keep)
    identity, start, end = SCORED_WINDOW_KEYS
    return scored.select(
        F.col("identity_key").alias(identity),
        F.col("window_start").alias(start),
        F.col("window_end").alias(end),
        *[F.col(f"_cw_result.{name}").alias(name) for name in fields],
        *rest,
    )
