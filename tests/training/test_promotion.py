"""Promotion against a real MLflow store: floor, same windows, appended decisions, reuse."""

from __future__ import annotations

import json

import pytest

from tests.training.conftest import FAST, WEAK, Labelled

NAME = "changewatch-test"


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _train(labelled: Labelled, uri: str, **settings):
    from training import train

    return train(
        labelled.events,
        until=labelled.test_start,
        labels=labelled.labels,
        tracking_uri=uri,
        register_as=NAME,
        log_vector_scorer=False,
        **settings,
    )


def _records(uri: str, run_id: str) -> list[dict]:
    import mlflow

    from training._tracking import tracking

    client = _client(uri)
    with tracking(uri):
        return [
            json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/{f.path}"))
            for f in client.list_artifacts(run_id, "promotion")
        ]


@pytest.mark.slow
def test_a_worse_challenger_is_rejected_on_the_same_windows_and_every_decision_is_kept(
    labelled: Labelled, tracking_uri: str
) -> None:
    from training import promote

    good = _train(labelled, tracking_uri, **FAST)
    first = promote(NAME, tracking_uri=tracking_uri)
    assert first.decision == "first"
    assert "passes the floor" in first.reason

    worse = _train(labelled, tracking_uri, **WEAK)
    assert worse.comparison is not None
    assert worse.comparison.same_windows
    decision = promote(NAME, tracking_uri=tracking_uri)
    assert decision.evaluated_on == f"runs:/{worse.run_id}/evaluation/comparison.json"
    assert decision.decision == "rejected"
    assert decision.challenger_value < decision.champion_value - 0.02
    periods = decision.details["periods"]
    assert periods["challenger"]["windows"] == periods["champion"]["windows"] > 0
    assert periods["challenger"]["start"] == periods["champion"]["start"]

    again = promote(NAME, tracking_uri=tracking_uri)  # re-running keeps the first decision
    assert again.decision == "rejected"
    records = _records(tracking_uri, worse.run_id)
    assert [r["decision"] for r in records] == ["rejected", "rejected"]
    client = _client(tracking_uri)
    version = client.get_model_version(NAME, worse.version)
    assert version.tags["promotion.decisions"] == "2"
    assert version.tags["promotion.record"].endswith("promotion/0002.json")
    assert version.tags["promotion.challenger.eval_pr_auc"] != "none"
    assert version.tags["promotion.challenger.events_dropped"] == "0"
    windows = version.tags["promotion.champion.windows"]
    assert windows == version.tags["promotion.challenger.windows"] != "0"
    assert version.tags["promotion.champion.period"] == version.tags["promotion.challenger.period"]
    assert version.description.count("rejected") == 2
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == good.version

    by_version = promote(NAME, version=good.version, tracking_uri=tracking_uri)
    assert by_version.decision == "unchanged"


def test_an_identical_retrain_reuses_the_version(labelled: Labelled, tracking_uri: str) -> None:
    once = _train(labelled, tracking_uri, **FAST)
    twice = _train(labelled, tracking_uri, **FAST)
    assert not once.reused
    assert twice.reused
    assert twice.version == once.version
    versions = _client(tracking_uri).search_model_versions(f"name = '{NAME}'")
    assert len(versions) == 1
    assert "retrained identically" in versions[0].description


def test_the_first_model_needs_a_held_out_evaluation(labelled: Labelled, tracking_uri: str) -> None:
    from training import promote, train

    train(labelled.events, tracking_uri=tracking_uri, register_as=NAME, **FAST)  # no labels
    decision = promote(NAME, tracking_uri=tracking_uri)
    assert decision.decision == "rejected"
    assert decision.champion_version is None
    assert "no eval_pr_auc" in decision.reason


@pytest.mark.slow
def test_promote_can_compare_on_labelled_events_given_now(
    labelled: Labelled, tracking_uri: str
) -> None:
    from training import promote

    _train(labelled, tracking_uri, **WEAK)
    assert promote(NAME, tracking_uri=tracking_uri, floor=0.0).decision == "first"
    _train(labelled, tracking_uri, **FAST)
    decision = promote(
        NAME,
        events=labelled.events,
        labels=labelled.labels,
        since=labelled.test_start,
        metric="roc_auc",  # the old name is read as eval_roc_auc
        tracking_uri=tracking_uri,
    )
    assert decision.metric == "eval_roc_auc"
    assert decision.decision == "promoted"
    assert "beats" in decision.reason


@pytest.mark.slow
def test_a_champion_with_another_window_is_compared_on_window_invariant_metrics(
    labelled: Labelled, tracking_uri: str
) -> None:
    from features import FeatureConfig
    from training import promote, retrain

    _train(labelled, tracking_uri, feature_config=FeatureConfig(window="2h"), **FAST)
    assert promote(NAME, tracking_uri=tracking_uri).decision == "first"
    result = retrain(
        labelled.events,
        name=NAME,
        days=13,
        holdout_days=3,
        labels=labelled.labels,
        tracking_uri=tracking_uri,
        **FAST,
    )
    run = _client(tracking_uri).get_run(result.train.run_id)
    assert run.data.params["profile_merge"].startswith("not merged: ")
    assert run.data.params["window"] == "1h"
    assert result.promotion is not None
    compared = [c["metric"] for c in result.promotion.details["compared"]]
    assert compared[0] == "eval_scenarios_detected"
    periods = result.promotion.details["periods"]
    assert (periods["challenger"]["window"], periods["champion"]["window"]) == ("1h", "2h")
    assert periods["challenger"]["start"] == periods["champion"]["start"]
