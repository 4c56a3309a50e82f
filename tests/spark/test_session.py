"""What is missing is said in one sentence (these tests need no Spark)."""

from __future__ import annotations

import pytest

from changewatch.errors import ConfigurationError
from training.spark import missing_spark, require_spark


def test_missing_java_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    reason = missing_spark()
    assert reason is not None
    assert "Java" in reason or "pyspark" in reason
    with pytest.raises(ConfigurationError, match="--engine spark needs Spark"):
        require_spark()


def test_training_spark_imports_without_starting_spark() -> None:
    import training.spark as package

    assert set(package.__all__) <= set(dir(package))
