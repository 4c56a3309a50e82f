"""Scoring with a trained detector: bundle -> scorer -> findings that say why."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import features
from changewatch.cli import cli
from changewatch.errors import ConfigurationError, ModelBundleError
from models import ChangeDetector, save_bundle
from models.scoring import load_policy, load_scorer, score_events
from training.simulation import simulate


@dataclass(frozen=True)
class Trained:
    out: Path
    bundle: Path
    test_events: Path
    labels: pd.DataFrame


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("model-scoring")
    out = root / "sim"
    simulate(out, days=21, seed=3, scale=0.2, test_days=4, attacks="all")
    events_path = root / "events.parquet"
    features.ingest(
        [out / "AWSLogs"], events_path, options=features.IngestOptions(geoip=str(out / "geo.mmdb"))
    )
    events = features.read_events(events_path)
    end = pd.Timestamp(json.loads((out / "manifest.json").read_text())["baseline"]["end"])
    detector = ChangeDetector(n_estimators=100, random_state=0).fit(
        events[events["event_time"] < end]
    )
    bundle = root / "bundle"
    save_bundle(detector, bundle)
    test_events = root / "test.parquet"
    features.write_events(events[events["event_time"] >= end], test_events)
    return Trained(out, bundle, test_events, pd.read_parquet(out / "labels.parquet"))


def test_none_means_rules_only() -> None:
    assert load_scorer("none") is None


def test_a_missing_model_says_what_to_give() -> None:
    with pytest.raises(ConfigurationError, match="bundle directory, an MLflow URI"):
        load_scorer("/nowhere/at/all")


def test_findings_carry_the_models_reasons(trained: Trained) -> None:
    scorer = load_scorer(str(trained.bundle))
    assert scorer is not None
    policy = load_policy(trained.out / "change_windows.yaml", trained.out / "automation.yaml")
    events = pd.read_parquet(trained.test_events)
    result = score_events(events, policy, scorer)
    modelled = [f for f in result.findings if f.model is not None and not f.model.cold_start]
    assert modelled, "the detector scored no window"
    gpu = set(trained.labels.loc[trained.labels["scenario"] == "gpu_mining", "event_id"])
    [mining] = [f for f in modelled if gpu & set(f.event_ids)]
    assert mining.model is not None
    assert mining.model.percentile is not None
    assert mining.model.percentile >= 99
    assert mining.severity in {"high", "critical"}
    assert any("usually" in reason for reason in mining.reasons)


def test_the_score_command_uses_a_bundle(trained: Trained, tmp_path: Path) -> None:
    out = tmp_path / "findings.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "score",
            "--model",
            str(trained.bundle),
            "--events",
            str(trained.test_events),
            "--windows",
            str(trained.out / "change_windows.yaml"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["windows_scored"] > 0
    findings = [json.loads(line) for line in out.read_text().splitlines()]
    assert any(f["model"] and f["model"]["explanations"] for f in findings)


def test_a_tampered_bundle_is_refused_in_one_line(trained: Trained, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(trained.bundle, copy)
    config = copy / "config.json"
    config.write_text(config.read_text().replace("}", ' , "x": 1}', 1))
    with pytest.raises(ModelBundleError):
        load_scorer(str(copy))
    result = CliRunner().invoke(
        cli, ["score", "--model", str(copy), "--events", str(trained.test_events), "--out", "-"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("changewatch: error:")
    assert "Traceback" not in result.output
