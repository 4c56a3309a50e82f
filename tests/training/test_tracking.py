from __future__ import annotations

from pathlib import Path

import pytest

from training import artifact_root_for, resolve_tracking_uri


def test_explicit_uri_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert resolve_tracking_uri("http://given:5000") == "http://given:5000"


def test_environment_wins_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://u@db/mlflow")
    assert resolve_tracking_uri(None) == "postgresql://u@db/mlflow"


def test_default_is_sqlite_in_working_directory(tmp_path: Path) -> None:
    assert resolve_tracking_uri(None, cwd=tmp_path) == f"sqlite:///{tmp_path}/mlruns.db"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:////srv/cw/mlruns.db", "file:///srv/cw/mlartifacts"),
        ("sqlite:///rel/mlruns.db", "file:///work/rel/mlartifacts"),
        ("postgresql://user@db:5432/mlflow", "file:///work/mlartifacts"),
        ("postgresql+psycopg2://user@db/mlflow", "file:///work/mlartifacts"),
        ("http://mlflow:5000", None),
        ("databricks", None),
    ],
)
def test_artifact_root_of_database_stores_is_local(uri: str, expected: str | None) -> None:
    assert artifact_root_for(uri, cwd="/work") == expected
