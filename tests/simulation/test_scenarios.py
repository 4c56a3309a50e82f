"""Each scenario leaves the events its documentation names, in the test period only."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from training.simulation import ATTACK, HARD_NEGATIVE, SCENARIOS, simulate


def test_registry_has_fifteen_attacks_and_nine_hard_negatives() -> None:
    kinds = [scenario.kind for scenario in SCENARIOS.values()]
    assert kinds.count(ATTACK) == 15
    assert kinds.count(HARD_NEGATIVE) == 9
    for scenario in SCENARIOS.values():
        assert scenario.run.__doc__, scenario.name
        assert scenario.kind == HARD_NEGATIVE or scenario.techniques
        for technique in scenario.techniques:
            assert re.fullmatch(r"T\d{4}(\.\d{3})?|AN\d{4}", technique)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_leaves_its_documented_events_in_the_test_period(simulated, name: str) -> None:
    scenario = SCENARIOS[name]
    mine = simulated.labels[simulated.labels["scenario"] == name]
    assert len(mine) > 0
    assert set(mine["kind"]) == {scenario.kind}
    names = set(mine["event_name"])
    if scenario.kind == ATTACK:
        assert names == scenario.events
    else:
        assert names <= scenario.events
    test_start = datetime.fromisoformat(simulated.manifest["test"]["start"])
    end = datetime.fromisoformat(simulated.manifest["test"]["end"])
    assert (mine["event_time"] >= test_start).all()
    assert (mine["event_time"] < end).all()
    assert set(mine["event_id"]) <= set(simulated.events["event_id"])


def test_attacks_come_from_networks_or_identities_the_baseline_never_saw(simulated) -> None:
    events = simulated.events
    test_start = datetime.fromisoformat(simulated.manifest["test"]["start"])
    baseline = events[events["event_time"] < test_start]
    labels = simulated.labels
    for name in (
        "stolen_credentials_new_geo",
        "snapshot_share_exfil",
        "automation_off_window",
        "gpu_mining",
    ):
        ids = set(labels[labels["scenario"] == name]["event_id"])
        attack = events[events["event_id"].isin(ids)]
        assert not set(attack["asn"]) & set(baseline["asn"].dropna()), name


def test_snapshot_volume_attach_chains_its_resources(records) -> None:
    chain = [
        r
        for r in records
        if r["eventName"] in ("CreateSnapshot", "CreateVolume", "RunInstances", "AttachVolume")
        and r["userIdentity"]["arn"].endswith("/tom.harris@northwind.example")
        and r["sourceIPAddress"].startswith("198.18.194.")
    ]
    by_name = {r["eventName"]: r for r in chain}
    assert set(by_name) == {"CreateSnapshot", "CreateVolume", "RunInstances", "AttachVolume"}
    snapshot = by_name["CreateSnapshot"]["responseElements"]["snapshotId"]
    assert by_name["CreateVolume"]["requestParameters"]["snapshotId"] == snapshot
    volume = by_name["CreateVolume"]["responseElements"]["volumeId"]
    instance = by_name["RunInstances"]["responseElements"]["instancesSet"]["items"][0]["instanceId"]
    assert by_name["AttachVolume"]["requestParameters"] == {
        **by_name["AttachVolume"]["requestParameters"],
        "volumeId": volume,
        "instanceId": instance,
    }
    first = datetime.fromisoformat(by_name["CreateSnapshot"]["eventTime"])
    last = datetime.fromisoformat(by_name["AttachVolume"]["eventTime"])
    assert (last - first).total_seconds() < 15 * 60


def test_shares_name_the_foreign_account_and_the_public(simulated) -> None:
    events = simulated.events
    shares = events[events["action"] == "share"]
    targets = {t for row in shares["share_targets"] for t in row}
    assert simulated.manifest["foreign_accounts"][0] in targets
    assert "all" in targets


def test_ebs_direct_reads_are_data_events(records) -> None:
    reads = [r for r in records if r["eventSource"] == "ebs.amazonaws.com"]
    assert reads
    assert all(
        r["eventCategory"] == "Data" and r["managementEvent"] is False and r["readOnly"]
        for r in reads
    )


def test_hard_negatives_use_their_usual_identity_and_network(simulated) -> None:
    events = simulated.events
    labels = simulated.labels
    deploy_ids = set(labels[labels["scenario"] == "large_in_window_deploy"]["event_id"])
    deploy = events[events["event_id"].isin(deploy_ids)]
    assert set(deploy["client_family"]) == {"terraform"}
    assert set(deploy["network"]) == {"198.19.200.0/24"}


def test_an_emergency_change_on_a_host_without_a_data_volume_is_still_injected(
    tmp_path: Path,
) -> None:
    # At this size and seed earlier scenarios leave only hosts without a data volume.
    result = simulate(tmp_path, days=10, test_days=3, scale=0.3, seed=3)

    emergency = result.manifest["scenarios"]["emergency_change_in_ticket"]
    assert {"StopInstances", "ModifyInstanceAttribute", "StartInstances"} <= set(
        emergency["event_names"]
    )
