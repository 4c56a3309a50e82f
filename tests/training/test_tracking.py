"""Where runs and models go, and that reading a model never creates a store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from changewatch.cli import cli
from changewatch.errors import ConfigurationError
from training import (
    artifact_root_for,
    describe_model,
    load_model_bundle,
    open_model,
    require_store,
    resolve_tracking_uri,
)
from training._tracking import artifact_progress


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


@pytest.mark.parametrize(
    "read",
    [
        lambda uri: load_model_bundle("models:/changewatch@champion", tracking_uri=uri),
        lambda uri: describe_model("models:/changewatch/1", tracking_uri=uri),
        lambda uri: open_model("models:/changewatch@champion", tracking_uri=uri),
        require_store,
    ],
)
def test_reading_a_model_never_creates_the_store_and_names_it(tmp_path: Path, read) -> None:
    missing = tmp_path / "mlruns.db"
    with pytest.raises(ConfigurationError, match=f"no MLflow tracking store at {missing}"):
        read(f"sqlite:///{missing}")
    assert not missing.exists()


def test_the_default_store_is_not_created_by_a_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    labels = tmp_path / "labels.csv"
    labels.write_text("event_id,scenario\ne1,s\n")
    done = CliRunner().invoke(
        cli, ["evaluate", "-m", "models:/x@champion", "-e", str(tmp_path), "--labels", str(labels)]
    )
    assert done.exit_code == 1
    assert "no MLflow tracking store at" in done.output
    assert not (tmp_path / "mlruns.db").exists()


def test_a_model_missing_from_an_existing_store_names_the_store(tracking_uri: str) -> None:
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=tracking_uri).search_experiments()  # creates the store
    with pytest.raises(ConfigurationError, match=f"in the tracking store {tracking_uri}"):
        load_model_bundle("models:/absent@champion", tracking_uri=tracking_uri)


def test_servers_are_not_checked_for_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require_store("http://mlflow:5000") == "http://mlflow:5000"


def test_a_local_directory_is_opened_without_a_store(tmp_path: Path) -> None:
    location = open_model(str(tmp_path))
    assert location.bundle == tmp_path
    assert location.tracking_uri is None
    with pytest.raises(ConfigurationError, match="no model directory"):
        open_model(str(tmp_path / "absent"))


def test_mlflow_progress_bars_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    with artifact_progress():  # pytest captures stderr: not a terminal
        assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    assert "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" not in os.environ
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    with artifact_progress():  # an explicit choice wins
        assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "true"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("http://ui:5000/", "3"),
            "http://ui:5000/#/experiments/3/runs?workflowType=machine_learning",
        ),
        (
            ("http://ui:5000", "3", "r1"),
            "http://ui:5000/#/experiments/3/runs/r1?workflowType=machine_learning",
        ),
    ],
)
def test_ui_links_open_the_model_training_view(args: tuple[str, ...], expected: str) -> None:
    from training import ui_url

    assert ui_url(*args) == expected
