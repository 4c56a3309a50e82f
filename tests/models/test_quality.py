"""Quality floor on the simulator: baseline weeks, then a test week with every attack.

A window is positive when it holds an event an attack scenario left (``labels.parquet``,
``kind == "attack"``); windows the model does not score (cold start) rank last. Measured
numbers per scenario are in ADR 0013.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import features
from models import ChangeDetector
from training.simulation import ATTACK, SCENARIOS, simulate

#: Scenarios the model is not asked to put in the top 1 %, and why (ADR 0013).
RULE_ONLY = {
    "automation_off_window": (
        "its signals (a network, country, ASN and client never seen for an automation "
        "identity, outside its change window) are constant in every baseline window, so "
        "no isolation tree can split on them; ChangeWindow.OutsideApproved and "
        "Automation.UnexpectedNetwork/UnexpectedClient are the detectors of record"
    ),
}


@dataclass(frozen=True)
class Evaluation:
    windows: pd.DataFrame  # scored test windows with "scenario" (attack) and "rank"


@pytest.fixture(scope="session")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    out = tmp_path_factory.mktemp("quality") / "sim"
    simulate(out, days=35, seed=1, scale=0.25, test_days=7, attacks="all")
    events_path = out / "events.parquet"
    features.ingest(
        [out / "AWSLogs"], events_path, options=features.IngestOptions(geoip=str(out / "geo.mmdb"))
    )
    events = features.read_events(events_path)
    manifest = json.loads((out / "manifest.json").read_text())
    end = pd.Timestamp(manifest["baseline"]["end"])
    detector = ChangeDetector(n_estimators=200, random_state=0)
    detector.fit(events[events["event_time"] < end])
    windows = detector.score_windows(events[events["event_time"] >= end])
    labels = pd.read_parquet(out / "labels.parquet")
    attacks = labels[labels["kind"] == ATTACK]
    scenario_of = dict(zip(attacks["event_id"], attacks["scenario"], strict=True))
    windows["scenario"] = [
        next((scenario_of[i] for i in ids if i in scenario_of), None)
        for ids in windows["event_ids"]
    ]
    ranked = windows["score"].fillna(-1.0)
    windows["rank"] = ranked.rank(ascending=False, method="max").astype(int)
    return Evaluation(windows)


def test_window_level_roc_auc_is_at_least_0_95(evaluation: Evaluation) -> None:
    w = evaluation.windows
    y = w["scenario"].notna().to_numpy()
    assert y.sum() >= 8
    assert roc_auc_score(y, w["score"].fillna(-1.0)) >= 0.95


def test_every_attack_is_in_the_test_windows(evaluation: Evaluation) -> None:
    attacks = {name for name, s in SCENARIOS.items() if s.kind == ATTACK}
    assert set(evaluation.windows["scenario"].dropna()) == attacks


@pytest.mark.parametrize(
    "scenario", sorted(name for name, s in SCENARIOS.items() if s.kind == ATTACK)
)
def test_every_model_scenario_is_in_the_top_one_percent(
    evaluation: Evaluation, scenario: str
) -> None:
    w = evaluation.windows
    best = int(w.loc[w["scenario"] == scenario, "rank"].min())
    share = 0.02 if scenario in RULE_ONLY else 0.01  # rule-only: still near the top
    assert best <= share * len(w), f"{scenario}: best window ranks {best} of {len(w)}"


def test_the_top_explanations_name_what_an_analyst_checks(evaluation: Evaluation) -> None:
    w = evaluation.windows
    mass = w[w["scenario"] == "mass_deletion"].sort_values("rank").iloc[0]
    named = {e["feature"] for e in mass["explanations"]}
    assert named & {"n_distinct_resources", "n_change_delete", "n_changes"}
