"""Spark local mode gives the single-machine vectors, profiles-based vectors and scores."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import features
from features import CANONICAL_COLUMNS, behaviour_vectors
from training.spark import missing_spark

pytestmark = [
    pytest.mark.spark,
    pytest.mark.xdist_group("spark"),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.skipif(
        missing_spark() is not None,
        reason=f"Spark tests need Java 17 and pyspark: {missing_spark()}",
    ),
]

CUT = pd.Timestamp("2024-05-21", tz="UTC")


def _frame(spark: Any, events: pd.DataFrame) -> Any:
    return spark.createDataFrame(events[list(CANONICAL_COLUMNS)].reset_index(drop=True))


@pytest.fixture(scope="module")
def baseline(generated: pd.DataFrame) -> pd.DataFrame:
    return generated[generated["event_time"] < CUT].reset_index(drop=True)


@pytest.fixture(scope="module")
def later(generated: pd.DataFrame) -> pd.DataFrame:
    return generated[generated["event_time"] >= CUT].reset_index(drop=True)


@pytest.mark.parametrize("buckets", [1, 5])
def test_vectors_equal_the_single_machine_ones(
    spark: Any, generated: pd.DataFrame, buckets: int
) -> None:
    from training.spark import spark_vectors, vectors_to_pandas

    got = vectors_to_pandas(spark_vectors(_frame(spark, generated), buckets=buckets))
    want = behaviour_vectors(generated)
    assert len(want) > 1000
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_exact=True)


def test_raw_cloudtrail_reads_as_changewatch_ingest(spark: Any, make: Any, tmp_path: Path) -> None:
    from training.spark import read_events_spark, to_canonical_pandas

    records = [
        make(eventID=f"id-{i}", eventTime=f"2026-03-02T10:{i:02d}:00Z", awsRegion=region)
        for i, region in enumerate(["eu-central-1", "us-east-1", "eu-west-1"] * 4)
    ]
    trail = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail"
    trail.mkdir(parents=True)
    (trail / "a.json.gz").write_bytes(gzip.compress(json.dumps({"Records": records[:6]}).encode()))
    bad = {"eventVersion": "1.09", "eventName": 7}
    (trail / "b.json").write_text(json.dumps({"Records": [*records[6:], records[0], bad]}))
    (trail / "notes.txt").write_text("not a trail")
    report = features.ingest([str(tmp_path / "AWSLogs")], tmp_path / "events.parquet")
    assert report.rejected == 1
    want = features.read_events(tmp_path / "events.parquet")
    got = to_canonical_pandas(read_events_spark(spark, [str(tmp_path / "AWSLogs")]).toPandas())
    key = ["event_id"]
    pd.testing.assert_frame_equal(
        got.sort_values(key).reset_index(drop=True), want.sort_values(key).reset_index(drop=True)
    )
    from_parquet = read_events_spark(spark, [str(tmp_path / "events.parquet")])
    assert from_parquet.count() == len(want) == 12


@pytest.fixture(scope="module")
def detectors(spark: Any, baseline: pd.DataFrame) -> tuple[Any, Any]:
    from models import ChangeDetector
    from training.spark import fit_detector_spark

    params = {"n_estimators": 40, "random_state": 3}
    single = ChangeDetector(**params).fit(baseline)
    fit = fit_detector_spark(_frame(spark, baseline), ChangeDetector(**params), buckets=3)
    assert fit.n_sampled == fit.n_eligible == single.n_training_windows_
    return single, fit.detector


def test_training_on_spark_scores_like_the_single_machine(
    detectors: tuple[Any, Any], later: pd.DataFrame
) -> None:
    single, distributed = detectors
    assert distributed.training_period_ == single.training_period_
    want = single.score_windows(later)
    got = distributed.score_windows(later)
    assert want["score"].notna().sum() > 100
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(got["percentile"], want["percentile"], rtol=1e-12, equal_nan=True)


def test_scoring_vectors_on_spark_equal_the_live_state(
    spark: Any, detectors: tuple[Any, Any], later: pd.DataFrame
) -> None:
    from training.spark import spark_scoring_vectors, vectors_to_pandas

    single, _ = detectors
    vectors = spark_scoring_vectors(
        _frame(spark, later), single.profiles_, single.recent_, buckets=3
    )
    got = vectors_to_pandas(vectors)
    want = single.vectors(later).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_sampling_bounds_the_windows_the_forest_sees(spark: Any, baseline: pd.DataFrame) -> None:
    from models import ChangeDetector
    from training.spark import fit_detector_spark

    fit = fit_detector_spark(
        _frame(spark, baseline), ChangeDetector(n_estimators=10), max_windows=300, buckets=2
    )
    assert fit.n_eligible > 300
    assert 0 < fit.n_sampled <= 300
    assert fit.detector.n_training_windows_ == fit.n_sampled
