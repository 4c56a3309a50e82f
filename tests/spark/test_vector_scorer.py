"""The vector scorer logged by ``training.train``: one row per vector, on pandas and on Spark.

One model is trained, logged and registered into a SQLite tracking store in a temporary
directory; ``changewatch score --engine spark`` (``score_with_spark``) then scores the
following days with it through ``mlflow.pyfunc.spark_udf`` in ``local[2]``, and the scores
must equal ``ChangeDetector.score_vectors`` on one machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import features
from features import FEATURE_NAMES
from training.spark import missing_spark

CUT = pd.Timestamp("2024-05-21", tz="UTC")
NAME = "changewatch-spark-test"
KEYS = ["identity", "window_start"]

# Both tests share the module's trained model, so they run on one xdist worker; only
# the second one needs Spark.
pytestmark = pytest.mark.xdist_group("spark")
needs_spark = pytest.mark.skipif(
    missing_spark() is not None, reason=f"Spark tests need Java 17 and pyspark: {missing_spark()}"
)


@dataclass(frozen=True)
class Registered:
    """A model trained on the days before ``CUT``, registered as ``NAME@challenger``."""

    tracking_uri: str
    run_id: str
    later: pd.DataFrame
    later_path: Path

    @property
    def uri(self) -> str:
        return f"models:/{NAME}@challenger"


@pytest.fixture(scope="module")
def registered(generated: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from training import train

    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlruns.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHANGEWATCH_CACHE", str(root / "cache"))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = train(
            generated,
            until=CUT,
            tracking_uri=uri,
            register_as=NAME,
            n_estimators=40,
            random_state=3,
        )
        later = generated[generated["event_time"] >= CUT].reset_index(drop=True)
        features.write_events(later, root / "later.parquet")
        yield Registered(uri, result.run_id, later, root / "later.parquet")


def _single_machine(registered: Registered) -> tuple[Any, pd.DataFrame]:
    """The registered bundle's detector and its vectors of the later events."""
    from models import load_bundle
    from training import load_model_bundle

    detector = load_bundle(load_model_bundle(registered.uri, tracking_uri=registered.tracking_uri))
    return detector, detector.vectors(registered.later)


def test_the_vector_scorer_returns_one_row_per_vector(registered: Registered) -> None:
    import mlflow

    from training._pyfunc_vectors import VECTOR_SCORE_COLUMNS, to_vector_input
    from training._registry import vector_scorer_uri
    from training._tracking import tracking

    linked = vector_scorer_uri(registered.uri, tracking_uri=registered.tracking_uri)
    assert linked is not None
    assert linked.startswith("models:/m-")
    by_run = vector_scorer_uri(
        f"runs:/{registered.run_id}/scorer", tracking_uri=registered.tracking_uri
    )
    assert by_run == linked
    detector, vectors = _single_machine(registered)
    with tracking(registered.tracking_uri):
        model = mlflow.pyfunc.load_model(linked)
    got = model.predict(to_vector_input(vectors))
    want = detector.score_vectors(vectors)
    assert list(got.columns) == list(VECTOR_SCORE_COLUMNS)
    assert len(got) == len(vectors) > 100
    np.testing.assert_array_equal(got["score"], want["score"])
    np.testing.assert_array_equal(got["percentile"], want["percentile"])


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
@needs_spark
def test_spark_udf_scores_equal_the_single_machine_detector(
    spark: Any, registered: Registered, tmp_path: Path
) -> None:
    from training.spark import score_windows_with_spark

    out = tmp_path / "scored"
    summary = score_windows_with_spark(
        registered.uri,
        [str(registered.later_path)],
        out=str(out),
        tracking_uri=registered.tracking_uri,
    )
    assert summary["vector_scorer"].startswith("models:/m-")
    detector, vectors = _single_machine(registered)
    want = detector.score_vectors(vectors).sort_values(KEYS, kind="stable").reset_index(drop=True)
    got = pd.read_parquet(out).sort_values(KEYS, kind="stable").reset_index(drop=True)
    assert summary["windows"] == len(got) == len(want)
    assert summary["scored"] == int(want["score"].notna().sum()) > 100
    assert (got["identity"] == want["identity"]).all()
    pd.testing.assert_series_equal(
        pd.to_datetime(got["window_start"], utc=True), want["window_start"], check_names=False
    )
    np.testing.assert_allclose(got["score"], want["score"], rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(
        got["percentile"], want["percentile"], rtol=0, atol=1e-9, equal_nan=True
    )
    assert (got["cold_start"] == want["cold_start"]).all()
    tops = [e[0]["text"] if e else "" for e in want["explanations"]]
    assert got["explanation"].tolist() == tops
    assert [json.loads(e) for e in got["explanations"]] == json.loads(
        json.dumps([list(e) for e in want["explanations"]])
    )
    np.testing.assert_array_equal(
        got[list(FEATURE_NAMES)].to_numpy(dtype=np.float64),
        want[list(FEATURE_NAMES)].to_numpy(dtype=np.float64),
    )
