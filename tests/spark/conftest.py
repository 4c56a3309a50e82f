"""One local[2] SparkSession for every Spark test; skipped when Java or pyspark is missing."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from training.spark import missing_spark

WHY_NOT = missing_spark()

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] session: small shuffles, no UI, Arrow on, UTC."""
    if WHY_NOT is not None:
        pytest.skip(f"Spark tests need Java 17 and pyspark: {WHY_NOT}")
    from training.spark import spark_session

    session = spark_session("local[2]", app_name="changewatch-tests", shuffle_partitions=4)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def generated() -> pd.DataFrame:
    """Ten days of 60 identities (about 12,000 canonical events) from bench/_generate.py."""
    sys.path.append(str(BENCH))
    try:
        from _generate import generate
    finally:
        sys.path.remove(str(BENCH))
    events: pd.DataFrame = generate(12_000, 60, seed=5)
    return events
