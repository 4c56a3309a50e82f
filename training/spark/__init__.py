"""changewatch on Apache Spark: the same features and detector, partitioned by identity.

Needs the ``spark`` extra (``pip install 'changewatch[spark]'``) and Java 17. Public
surface::

    spark_session(master=None)                      a session with Arrow on, UTC
    read_events_spark(spark, paths)                 canonical Parquet or raw CloudTrail
    spark_vectors(events, config)                   features.behaviour_vectors per identity group
    fit_detector_spark(events, ChangeDetector())    vectors, profiles on Spark; forest on a sample
    spark_scoring_vectors(events, profiles, recent) vectors against a model's history
    spark_udf_scores(vectors, vector_scorer_uri)    row-wise scores via mlflow.pyfunc.spark_udf
    spark_findings(events, scorer, policy)          findings: the scoring core per identity group
    train_with_spark(...), score_with_spark(...)    what ``--engine spark`` runs
    score_windows_with_spark(uri, paths, out=...)   window scores only, through spark_udf

ADR 0016 records the design; ``docs/scale.md`` how to run it on a cluster.
"""

from __future__ import annotations

from training.spark._cli import score_windows_with_spark, score_with_spark, train_with_spark
from training.spark._features import (
    EVENTS_PER_BUCKET,
    FEATURE_INPUT_COLUMNS,
    bucket_count,
    normalise_vectors,
    org_first_use,
    spark_vectors,
    to_canonical_pandas,
    vector_schema,
    vectors_to_pandas,
)
from training.spark._findings import FINDING_ROWS, spark_findings
from training.spark._io import (
    CLOUDTRAIL_GLOB,
    canonical_spark_schema,
    read_cloudtrail_spark,
    read_events_spark,
)
from training.spark._score import (
    SCORE_RESULT_TYPE,
    SCORED_WINDOW_KEYS,
    spark_scoring_vectors,
    spark_udf_scores,
)
from training.spark._session import SESSION_DEFAULTS, missing_spark, require_spark, spark_session
from training.spark._train import MAX_TRAINING_WINDOWS, SparkFit, fit_detector_spark, spark_profiles

__all__ = [
    "CLOUDTRAIL_GLOB",
    "EVENTS_PER_BUCKET",
    "FEATURE_INPUT_COLUMNS",
    "FINDING_ROWS",
    "MAX_TRAINING_WINDOWS",
    "SCORED_WINDOW_KEYS",
    "SCORE_RESULT_TYPE",
    "SESSION_DEFAULTS",
    "SparkFit",
    "bucket_count",
    "canonical_spark_schema",
    "fit_detector_spark",
    "missing_spark",
    "normalise_vectors",
    "org_first_use",
    "read_cloudtrail_spark",
    "read_events_spark",
    "require_spark",
    "score_windows_with_spark",
    "score_with_spark",
    "spark_findings",
    "spark_profiles",
    "spark_scoring_vectors",
    "spark_session",
    "spark_udf_scores",
    "spark_vectors",
    "to_canonical_pandas",
    "train_with_spark",
    "vector_schema",
    "vectors_to_pandas",
]
