"""A training run as a reviewer reads it, against a real MLflow store (SQLite in a tmp folder)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import models
from features import FEATURISER_INPUT_COLUMNS
from tests.training.conftest import FAST, Labelled
from training import PYFUNC_OUTPUT_COLUMNS, TrainResult
from training._metrics import metric_spec

NAME = "changewatch-test"


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def trained(labelled: Labelled, module_store: str) -> TrainResult:
    from training import train

    return train(
        labelled.events,
        until=labelled.test_start,
        labels=labelled.labels,
        tracking_uri=module_store,
        register_as=NAME,
        run_name="reviewed",
        **FAST,
    )


def test_the_run_holds_parameters_metrics_and_datasets(trained, module_store: str) -> None:
    run = _client(module_store).get_run(trained.run_id)
    params, metrics = run.data.params, run.data.metrics
    for key in ("window", "feature_schema_version", "n_estimators", "max_samples",
                "training_start", "training_end", "data_fingerprint", "threshold"):  # fmt: skip
        assert key in params
    assert params["evaluation"] == "held-out"
    for key in ("events", "windows", "baseline_days", "eval_roc_auc", "eval_pr_auc",
                "eval_alerts_per_day", "eval_scenarios_detected", "eval_pr_auc_low",
                "eval_median_hours_to_detect", "eval_true_positives"):  # fmt: skip
        assert key in metrics
    assert 0.0 <= metrics["eval_roc_auc"] <= 1.0
    assert metrics["eval_pr_auc_low"] <= metrics["eval_pr_auc"] <= metrics["eval_pr_auc_high"]
    inputs = {i.tags[0].value if i.tags else "" for i in run.inputs.dataset_inputs}
    assert {"training", "evaluation"} <= inputs
    tags = run.data.tags
    assert tags["evaluation.start"] == labelled_start(trained)
    assert tags["evaluation.state"] == "continued"
    assert tags["evaluation.in_sample"] == "false"


def labelled_start(trained: TrainResult) -> str:
    assert trained.evaluation is not None
    assert trained.evaluation.period is not None
    return trained.evaluation.period[0].isoformat()


def test_every_logged_metric_is_in_the_catalogue(trained, module_store: str) -> None:
    logged = _client(module_store).get_run(trained.run_id).data.metrics
    assert logged
    assert [name for name in logged if metric_spec(name) is None] == []


def test_the_run_carries_the_reviewers_pack(trained, module_store: str) -> None:
    client = _client(module_store)
    artifacts = {f.path for f in client.list_artifacts(trained.run_id)}
    assert {"model_card.md", "metrics.md", "top_windows.json", "training_vectors.parquet",
            "feature_importance.json", "plots", "evaluation"} <= artifacts  # fmt: skip
    plots = {f.path.split("/")[-1] for f in client.list_artifacts(trained.run_id, "plots")}
    assert plots == {"score_distribution.png", "feature_importance.png", "confusion_matrix.png",
                     "pr_curve.png", "roc_curve.png"}  # fmt: skip
    evaluation = {
        f.path.split("/")[-1] for f in client.list_artifacts(trained.run_id, "evaluation")
    }
    assert {"metrics.json", "scenarios.json", "confusion_matrix.json", "thresholds.json",
            "false_positives_by_identity.json", "intervals.json", "events.parquet",
            "labels.parquet"} <= evaluation  # fmt: skip


def test_the_model_card_explains_the_threshold_and_says_what_cold_start_does(
    trained, module_store: str
) -> None:
    import mlflow

    from training._tracking import tracking

    with tracking(module_store):
        card = mlflow.artifacts.load_text(f"runs:/{trained.run_id}/model_card.md")
    assert "scored but not alerted" not in card
    assert "not scored by the model" in card
    assert "### Why this threshold" in card
    assert "90% interval" in card
    assert "only 11.0 days of baseline" in card  # the short-baseline warning


def test_the_run_says_which_clouds_it_covers(trained, module_store: str) -> None:
    run = _client(module_store).get_run(trained.run_id)
    assert run.data.tags["changewatch.clouds"] == "aws"


def test_a_short_baseline_is_warned_logged_and_tagged(trained, module_store: str) -> None:
    run = _client(module_store).get_run(trained.run_id)
    assert any("days of baseline" in w for w in trained.warnings)
    assert run.data.metrics["baseline_short"] == 1.0
    assert "days of baseline" in run.data.tags["baseline.warning"]


def test_versions_and_the_model_have_descriptions(trained, module_store: str) -> None:
    client = _client(module_store)
    version = client.get_model_version(NAME, trained.version)
    assert version.description.startswith("Trained on ")
    assert "Evaluation (held-out" in version.description
    assert "eval_pr_auc" in version.description
    assert "AN0861" in client.get_registered_model(NAME).description


def test_the_experiment_is_declared_a_machine_learning_one(trained, module_store: str) -> None:
    experiment = _client(module_store).get_experiment(trained.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    run = _client(module_store).get_run(trained.run_id)
    assert run.data.tags["mlflow.note.content"].startswith("Trained on ")


@pytest.fixture(scope="module")
def scorer(trained, module_store: str):
    import mlflow

    from training._tracking import tracking

    with tracking(module_store):
        return mlflow.pyfunc.load_model(f"models:/{NAME}/{trained.version}")


def test_the_pyfunc_scores_a_read_parquet_frame_like_the_detector(
    trained, scorer, labelled: Labelled, module_store: str
) -> None:
    from training import load_model_bundle, pyfunc_input

    frame = pd.read_parquet(labelled.test_path).head(3000)
    predicted = scorer.predict(pyfunc_input(frame))
    assert tuple(predicted.columns) == PYFUNC_OUTPUT_COLUMNS
    detector = models.load_bundle(
        load_model_bundle(f"models:/{NAME}/{trained.version}", tracking_uri=module_store)
    )
    direct = detector.score_windows(frame)
    assert len(predicted) == len(direct) > 0
    np.testing.assert_allclose(predicted["score"].to_numpy(), direct["score"].to_numpy())
    assert (predicted["threshold"] == detector.threshold).all()
    expected = (predicted["percentile"] >= detector.threshold).to_numpy()
    assert (predicted["alert"].to_numpy() == expected).all()
    assert isinstance(json.loads(predicted["explanations"].iloc[0]), list)


def test_the_pyfunc_alert_is_the_evaluation_alert(trained, scorer, labelled: Labelled) -> None:
    from training import pyfunc_input

    assert trained.evaluation is not None
    predicted = scorer.predict(pyfunc_input(labelled.test))
    keys = ["identity", "window_start"]
    merged = predicted.merge(trained.evaluation.windows[[*keys, "alerted"]], on=keys)
    assert merged["alerted"].any()
    assert (merged["alert"] == merged["alerted"]).all()


def test_the_input_example_scores_and_the_signature_says_what_is_required(scorer) -> None:
    example = scorer.input_example
    predicted = scorer.predict(example)
    assert len(predicted) >= 1
    assert predicted["score"].notna().any()
    inputs = scorer.metadata.get_input_schema()
    required = {c.name for c in inputs.inputs if c.required}
    assert required == set(FEATURISER_INPUT_COLUMNS)
    assert len(scorer.predict(example[list(FEATURISER_INPUT_COLUMNS)])) == len(predicted)


def test_evaluate_reports_the_logged_figures(
    trained, labelled: Labelled, module_store: str
) -> None:
    from training import evaluate

    result = evaluate(trained.model_uri, labelled.test, labelled.labels, tracking_uri=module_store)
    assert result.metrics["eval_roc_auc"] == pytest.approx(trained.metrics["eval_roc_auc"])
    whole = evaluate(
        trained.model_uri,
        labelled.events,
        labelled.labels,
        since=labelled.test_start,
        tracking_uri=module_store,
    )
    assert whole.metrics["eval_windows"] == trained.metrics["eval_windows"]
    assert set(result.scenarios["kind"]) <= {"attack", "hard_negative"}


def test_evaluate_refuses_the_training_period_in_words(
    trained, labelled: Labelled, module_store: str
) -> None:
    from changewatch.errors import ConfigurationError
    from training import evaluate

    with pytest.raises(ConfigurationError, match="in-sample"):
        evaluate(trained.model_uri, labelled.events, labelled.labels, tracking_uri=module_store)
