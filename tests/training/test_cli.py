"""The train and evaluate commands, and sweeps: options a data scientist reaches for."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from changewatch.cli import cli
from tests.training.conftest import FAST, Labelled

NAME = "changewatch-test"


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _last_line(output: str) -> dict:
    summary: dict = json.loads(output.strip().splitlines()[-1])
    return summary


@pytest.mark.slow
def test_train_takes_run_name_tags_max_samples_and_leaves_out_what_a_sweep_needs_not(
    labelled: Labelled, tracking_uri: str
) -> None:
    done = CliRunner().invoke(
        cli,
        [
            "train", "-e", str(labelled.events_path), "--until", str(labelled.test_start),
            "--labels", str(labelled.labels_path), "--tracking-uri", tracking_uri,
            "--register", NAME, "--trees", "20", "--max-samples", "64",
            "--run-name", "narrow", "--tags", "sweep=a,owner=ds", "--tags", "note=x",
            "--no-log-eval-events", "--no-vector-scorer",
        ],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = _last_line(done.stdout)
    assert summary["model_uri"] == f"models:/{NAME}/1"
    assert summary["metrics"]["eval_windows"] > 0
    client = _client(tracking_uri)
    run = client.get_run(summary["run_id"])
    assert run.info.run_name == "narrow"
    assert run.data.params["max_samples"] == "64"
    assert {"sweep": "a", "owner": "ds", "note": "x"}.items() <= run.data.tags.items()
    assert "changewatch.vector_scorer" not in run.data.tags
    stored = {f.path for f in client.list_artifacts(summary["run_id"], "evaluation")}
    assert "evaluation/events.parquet" not in stored
    assert "evaluation/thresholds.json" in stored

    evaluated = CliRunner().invoke(
        cli,
        [
            "evaluate", "-m", f"models:/{NAME}@challenger", "-e", str(labelled.test_path),
            "--labels", str(labelled.labels_path), "--tracking-uri", tracking_uri,
        ],
    )  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    result = _last_line(evaluated.stdout)
    assert result["metrics"]["eval_windows"] == summary["metrics"]["eval_windows"]
    assert result["period"]["start"] == labelled.test_start.isoformat()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--tags", "novalue", "expected KEY=VALUE"), ("--max-samples", "many", "expected 'auto'")],
)
def test_bad_run_options_are_named(
    labelled: Labelled, option: str, value: str, message: str
) -> None:
    done = CliRunner().invoke(cli, ["train", "-e", str(labelled.events_path), option, value])
    assert done.exit_code == 2
    assert message in done.output


def test_evaluate_on_recordings_older_than_the_model_says_why_it_judges_nothing(
    labelled: Labelled, tracking_uri: str, tmp_path
) -> None:
    from changewatch.errors import InputError
    from tests.training.conftest import write_events
    from training import evaluate, train

    first_day = labelled.events["event_time"].min() + pd.Timedelta(days=1)
    trained = train(
        labelled.events[labelled.events["event_time"] >= first_day],
        until=labelled.test_start,
        tracking_uri=tracking_uri,
        log_vector_scorer=False,
        **FAST,
    )
    older = write_events(
        labelled.events[labelled.events["event_time"] < first_day], tmp_path / "old.parquet"
    )
    with pytest.raises(InputError, match="cold start") as error:
        evaluate(trained.model_uri, [older], labelled.labels, tracking_uri=tracking_uri)
    assert "older than the model's profiles" in str(error.value)


@pytest.mark.slow
def test_a_sweep_logs_one_child_run_per_setting_and_train_nests_in_an_active_run(
    labelled: Labelled, tracking_uri: str
) -> None:
    import mlflow

    from training import sweep, train
    from training._tracking import tracking

    results = sweep(
        labelled.events,
        [{"n_estimators": 10}, {"n_estimators": 20, "max_samples": 64}],
        until=labelled.test_start,
        labels=labelled.labels,
        tracking_uri=tracking_uri,
    )
    client = _client(tracking_uri)
    parents = {client.get_run(r.run_id).data.tags["mlflow.parentRunId"] for r in results}
    assert len(parents) == 1
    (parent,) = parents
    assert {f.path for f in client.list_artifacts(parent)} == {"sweep.json"}
    names = [client.get_run(r.run_id).info.run_name for r in results]
    assert names == ["n_estimators=10", "n_estimators=20, max_samples=64"]

    with tracking(tracking_uri), mlflow.start_run() as outer:
        inner = train(labelled.events, until=labelled.test_start, tracking_uri=tracking_uri,
                      log_vector_scorer=False, **FAST)  # fmt: skip
    assert client.get_run(inner.run_id).data.tags["mlflow.parentRunId"] == outer.info.run_id
