"""The change policy: sparse as an organisation writes it, or complete on request.

The realistic policy (the default) approves the pipeline roles in their windows and
planned, ticketed work by people; most automation and routine on-call fixes are
covered by nothing. The complete policy approves every benign change. Neither ever
approves an attack, and the policy changes nothing but the policy files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
import yaml

from models import scoring
from training.simulation import simulate

#: Hard negatives whose changes a real policy approves (a ticket or a window names them).
APPROVED_BY_DESIGN = {
    "emergency_change_in_ticket",
    "large_in_window_deploy",
    "deploy_new_run_session",
    "new_region_enabled",
}
#: Hard negatives that are routine automation or on-call work: no window, no ticket.
UNAPPROVED_BY_DESIGN = {
    "oncall_fix_outside_window",
    "new_irsa_controller",
    "backup_restore_test",
    "ami_share_to_org",
}


def _changes(events: pd.DataFrame, labels: pd.DataFrame, out: Path) -> pd.DataFrame:
    policy = scoring.load_policy(out / "change_windows.yaml", out / "automation.yaml")
    judged = events.join(policy.calendar.verdicts(events)[["verdict"]])
    judged = judged.merge(labels[["event_id", "scenario", "kind"]], on="event_id", how="left")
    return judged[judged["is_compute_change"] & judged["error_code"].isna()]


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def complete(simulated, sim_params, tmp_path_factory: pytest.TempPathFactory) -> Path:
    seed, params = sim_params
    out = tmp_path_factory.mktemp("complete") / "out"
    simulate(out, seed=seed, policy="complete", **params)
    return out


def test_realistic_windows_are_the_pipeline_roles_only(simulated) -> None:
    document = yaml.safe_load((simulated.out / "change_windows.yaml").read_text())
    assert [w["name"] for w in document["windows"]] == ["weekly-deploy", "app-release"]
    for window in document["windows"]:
        identities = window["scope"]["identities"]
        assert len(identities) == 1
        assert identities[0].endswith(("role/deploy-terraform*", "role/github-actions-deploy*"))
    automation = yaml.safe_load((simulated.out / "automation.yaml").read_text())
    assert len(automation["automation"]) == 3
    assert all(entry["owner"] for entry in automation["automation"])


def test_realistic_policy_approves_no_attack_and_leaves_most_automation_uncovered(
    simulated,
) -> None:
    changes = _changes(simulated.events, simulated.labels, simulated.out)
    attacks = changes[changes["kind"] == "attack"]
    assert len(attacks) > 0
    assert "approved" not in set(attacks["verdict"])
    benign = changes[changes["kind"].isna()]
    unapproved = benign[benign["verdict"] == "unapproved"]
    assert len(unapproved) > len(benign) / 2
    uncovered = set(unapproved["identity_key"].str.extract(r":role/([^/]+)")[0].dropna())
    assert {"KarpenterControllerRole-main", "instance-scheduler-role"} <= uncovered
    approved = benign[benign["verdict"] == "approved"]
    assert set(approved["identity_key"].str.extract(r":role/([^/_]+)")[0]) <= {
        "deploy-terraform",
        "github-actions-deploy",
        "AWSReservedSSO",
    }


@pytest.mark.parametrize(
    ("scenarios", "approved"),
    [(APPROVED_BY_DESIGN, True), (UNAPPROVED_BY_DESIGN, False)],
)
def test_realistic_policy_approves_the_hard_negatives_a_real_policy_names(
    simulated, scenarios: set[str], approved: bool
) -> None:
    changes = _changes(simulated.events, simulated.labels, simulated.out)
    for name in sorted(scenarios):
        mine = changes[changes["scenario"] == name]
        if mine.empty:
            continue
        assert (set(mine["verdict"]) == {"approved"}) is approved, name
    assert not changes[changes["scenario"].isin(scenarios)].empty


def test_on_call_fixes_in_the_baseline_have_no_ticket(simulated) -> None:
    changes = _changes(simulated.events, simulated.labels, simulated.out)
    start = pd.Timestamp(simulated.manifest["test"]["start"])
    night = changes[
        changes["identity_key"].str.contains("AWSReservedSSO_")
        & changes["event_name"].isin(["RebootInstances", "StopInstances", "StartInstances"])
        & (changes["event_time"] < start)
        & changes["kind"].isna()
    ]
    assert (night["verdict"] == "unapproved").any()


def test_complete_policy_approves_every_benign_change_and_no_attack(simulated, complete) -> None:
    changes = _changes(simulated.events, simulated.labels, complete)
    benign = changes[changes["kind"] != "attack"]
    assert len(benign) > 100
    assert set(benign["verdict"]) == {"approved"}
    attacks = changes[changes["kind"] == "attack"]
    assert "approved" not in set(attacks["verdict"])


def test_the_policy_changes_only_the_policy_files(simulated, complete) -> None:
    assert _digest(complete / "AWSLogs") == _digest(simulated.out / "AWSLogs")
    assert (complete / "labels.parquet").read_bytes() == (
        simulated.out / "labels.parquet"
    ).read_bytes()
    assert (complete / "change_windows.yaml").read_text() != (
        simulated.out / "change_windows.yaml"
    ).read_text()
