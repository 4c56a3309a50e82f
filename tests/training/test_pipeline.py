"""train / evaluate / promote / retrain against a real MLflow store (SQLite in tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import models
from tests.training.conftest import FAST, Labelled

NAME = "changewatch-test"


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture
def trained(labelled: Labelled, tracking_uri: str):
    from training import train

    return train(
        labelled.events,
        until=labelled.test_start,
        labels=labelled.labels,
        tracking_uri=tracking_uri,
        register_as=NAME,
        **FAST,
    )


def test_train_logs_a_reviewable_run_and_registers_challenger(trained, tracking_uri: str) -> None:
    client = _client(tracking_uri)
    run = client.get_run(trained.run_id)
    params, metrics = run.data.params, run.data.metrics
    for key in (
        "window",
        "feature_schema_version",
        "n_estimators",
        "training_start",
        "training_end",
        "data_fingerprint",
        "threshold",
    ):
        assert key in params
    assert params["evaluation"] == "held-out"
    for key in (
        "events",
        "identities",
        "windows",
        "fit_seconds",
        "score_p99",
        "eval_roc_auc",
        "eval_pr_auc",
        "eval_recall_at_1pct_fpr",
        "eval_alerts_per_day",
        "eval_scenarios_detected",
    ):
        assert key in metrics
    assert 0.0 <= metrics["eval_roc_auc"] <= 1.0
    assert any(k.startswith("scenario.") for k in metrics)
    inputs = {i.tags[0].value if i.tags else "" for i in run.inputs.dataset_inputs}
    assert {"training", "evaluation"} <= inputs
    artifacts = {f.path for f in client.list_artifacts(trained.run_id)}
    assert {
        "model_card.md",
        "top_windows.json",
        "training_vectors.parquet",
        "plots",
        "evaluation",
        "feature_importance.json",
    } <= artifacts
    plots = {f.path for f in client.list_artifacts(trained.run_id, "plots")}
    assert plots == {"plots/score_distribution.png", "plots/feature_importance.png"}
    version = client.get_model_version_by_alias(NAME, "challenger")
    assert trained.model_uri == f"models:/{NAME}/{version.version}"
    assert version.run_id == trained.run_id


def test_logged_pyfunc_scores_like_the_detector(
    trained, labelled: Labelled, tracking_uri: str
) -> None:
    import mlflow

    from training import load_model_bundle
    from training._pyfunc import to_pyfunc_input
    from training._tracking import tracking

    with tracking(tracking_uri):
        scorer = mlflow.pyfunc.load_model(f"models:/{NAME}@challenger")
    batch = labelled.test.head(3000)
    predicted = scorer.predict(to_pyfunc_input(batch))
    detector = models.load_bundle(
        load_model_bundle(f"models:/{NAME}@challenger", tracking_uri=tracking_uri)
    )
    direct = detector.score_windows(batch)
    assert len(predicted) == len(direct) > 0
    np.testing.assert_allclose(predicted["score"].to_numpy(), direct["score"].to_numpy())
    first = json.loads(predicted["explanations"].iloc[0])
    assert isinstance(first, list)
    assert not first or "text" in first[0]


def test_evaluate_reports_the_logged_figures(
    trained, labelled: Labelled, tracking_uri: str
) -> None:
    from training import evaluate

    result = evaluate(trained.model_uri, labelled.test, labelled.labels, tracking_uri=tracking_uri)
    assert result.metrics["roc_auc"] == pytest.approx(trained.metrics["eval_roc_auc"])
    assert set(result.scenarios["kind"]) <= {"attack", "hard_negative"}
    assert result.metrics["scenarios_total"] >= 5


def test_promotion_first_model_then_refuses_a_worse_challenger(
    trained, labelled: Labelled, tracking_uri: str
) -> None:
    from training import promote, train

    first = promote(NAME, tracking_uri=tracking_uri)
    assert first.decision == "first"
    client = _client(tracking_uri)
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == trained.version

    # A weak challenger: same baseline and labels, but one tree grown on two windows
    # (too little data to isolate anything), compared on the labelled test period
    # recorded with its own run.
    worse = train(
        labelled.events,
        until=labelled.test_start,
        labels=labelled.labels,
        tracking_uri=tracking_uri,
        register_as=NAME,
        n_estimators=1,
        max_samples=2,
    )
    decision = promote(NAME, tracking_uri=tracking_uri)
    assert decision.evaluated_on == f"runs:/{worse.run_id}/evaluation"
    assert decision.challenger_value is not None
    assert decision.champion_value is not None
    assert decision.challenger_value < decision.champion_value
    expected = "rejected"
    assert decision.decision == expected
    tags = client.get_model_version(NAME, worse.version).tags
    assert tags["promotion.decision"] == expected
    assert float(tags["promotion.challenger.pr_auc"]) == pytest.approx(decision.challenger_value)
    assert float(tags["promotion.champion.pr_auc"]) == pytest.approx(decision.champion_value)
    champion = str(client.get_model_version_by_alias(NAME, "champion").version)
    assert champion == (worse.version if expected == "promoted" else trained.version)


def test_retrain_merges_history_logs_drift_and_promotes(
    labelled: Labelled, tracking_uri: str
) -> None:
    from training import TRAINING_VECTORS, retrain

    first = retrain(
        labelled.baseline,
        name=NAME,
        days=10,
        labels=labelled.labels,
        evaluation_events=labelled.test,
        tracking_uri=tracking_uri,
        **FAST,
    )
    assert first.promotion is not None
    assert first.promotion.decision == "first"
    assert first.max_psi is None  # nothing to compare with yet
    second = retrain(
        labelled.baseline,
        name=NAME,
        days=9,
        labels=labelled.labels,
        evaluation_events=labelled.test,
        tracking_uri=tracking_uri,
        **FAST,
    )
    client = _client(tracking_uri)
    run = client.get_run(second.train.run_id)
    assert run.data.params["profile_merge"] == "True"
    assert "drift_max_psi" in run.data.metrics
    drift = {f.path for f in client.list_artifacts(second.train.run_id, "drift")}
    assert drift == {"drift/psi.json"}
    assert second.promotion is not None
    assert second.promotion.decision in {"promoted", "rejected"}
    assert TRAINING_VECTORS in {f.path for f in client.list_artifacts(second.train.run_id)}


def test_cli_train_prints_run_and_model_as_last_line(
    labelled: Labelled, tracking_uri: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from changewatch.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--events",
            str(labelled.events_path),
            "--until",
            str(labelled.test_start),
            "--labels",
            str(labelled.labels_path),
            "--tracking-uri",
            tracking_uri,
            "--register",
            NAME,
            "--trees",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["model_uri"] == f"models:/{NAME}/1"
    assert summary["run_id"]
    evaluated = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "-m",
            f"models:/{NAME}@challenger",
            "-e",
            str(labelled.test_path),
            "--labels",
            str(labelled.labels_path),
            "--tracking-uri",
            tracking_uri,
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "roc_auc" in json.loads(evaluated.stdout.strip().splitlines()[-1])["metrics"]
