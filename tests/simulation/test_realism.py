"""The organisation's automation looks like a real estate's: shapes and rhythms of its records."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from training.simulation._cicd import in_release_window

OIDC_EKS = re.compile(
    r"^arn:aws:iam::(\d{12}):oidc-provider/oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/[0-9A-F]{32}$"
)
SESSION_NAMES = {
    "KarpenterControllerRole-main": r"\d{19}",
    "AmazonEKSLoadBalancerControllerRole-main": r"\d{19}",
    "AmazonEKS_EBS_CSI_DriverRole-main": r"aws-go-sdk-\d{19}",
    "ops-automation": r"botocore-session-\d{10}",
    "backup-restore-test": r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    "tag-compliance": r"[0-9a-f]{16}",
    "instance-scheduler-role": r"instance-scheduler",
    "ci-runner-scaler-role": r"ci-runner-scaler",
    "github-actions-deploy": r"gh-actions-\d{10}",
    "packer-ami-builder": r"GitHubActions",
}


def _role_and_session(record: dict[str, Any]) -> tuple[str, str] | None:
    arn = record["userIdentity"].get("arn", "")
    match = re.match(r"^arn:aws:sts::\d{12}:assumed-role/([^/]+)/(.+)$", arn)
    return (match[1], match[2]) if match else None


def _unlabelled(simulated, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    labelled = set(simulated.labels["event_id"])
    return [r for r in records if r["eventID"] not in labelled]


@pytest.mark.parametrize(("role", "pattern"), sorted(SESSION_NAMES.items()))
def test_sessions_are_named_as_their_sdk_or_workflow_names_them(
    simulated, records, role: str, pattern: str
) -> None:
    sessions = {
        found[1]
        for r in _unlabelled(simulated, records)
        if (found := _role_and_session(r)) and found[0] == role
    }
    assert sessions, role
    assert all(re.fullmatch(pattern, s) for s in sessions), sorted(sessions)[:3]


def test_irsa_sessions_name_the_clusters_oidc_provider_and_renew_within_the_hour(records) -> None:
    first_seen: dict[str, datetime] = {}
    last_seen: dict[str, datetime] = {}
    for record in records:
        found = _role_and_session(record)
        if not found or found[0] != "KarpenterControllerRole-main":
            continue
        web = record["userIdentity"]["sessionContext"]["webIdFederationData"]
        match = OIDC_EKS.match(web["federatedProvider"])
        assert match
        assert match[1] == record["recipientAccountId"]
        assert web["attributes"] == {}
        moment = datetime.fromisoformat(record["eventTime"])
        key = f"{record['recipientAccountId']}/{found[1]}"
        first_seen.setdefault(key, moment)
        last_seen[key] = moment
    assert len(first_seen) > 50
    spans = [(last_seen[k] - first_seen[k]).total_seconds() for k in first_seen]
    assert max(spans) < 3600


def test_every_web_identity_session_starts_with_its_assume_role_call(records) -> None:
    assumed: dict[str, datetime] = {}
    for record in records:
        if record["eventName"] != "AssumeRoleWithWebIdentity":
            continue
        user = record["userIdentity"]
        assert user["type"] == "WebIdentityUser"
        assert user["principalId"] == (
            f"{user['identityProvider']}:sts.amazonaws.com:{user['userName']}"
        )
        assert record["eventSource"] == "sts.amazonaws.com"
        assert record["readOnly"] is True
        response = record["responseElements"]
        assert response["provider"] == user["identityProvider"]
        assert response["subjectFromWebIdentityToken"] == user["userName"]
        assert response["assumedRoleUser"]["arn"].endswith(
            f"/{record['requestParameters']['roleSessionName']}"
        )
        moment = datetime.fromisoformat(record["eventTime"])
        assumed.setdefault(response["assumedRoleUser"]["arn"], moment)  # GitHubActions repeats
    assert assumed
    used = 0
    for record in records:
        context = record["userIdentity"].get("sessionContext", {})
        if context.get("webIdFederationData", {}).get("federatedProvider"):
            arn = record["userIdentity"]["arn"]
            assert arn in assumed, arn
            assert assumed[arn] <= datetime.fromisoformat(record["eventTime"])
            used += 1
    assert used > 100


def test_each_deploy_run_is_a_new_session_mostly_inside_the_release_window(
    simulated, records
) -> None:
    prod = next(a["id"] for a in simulated.manifest["accounts"] if a["role"] == "prod")
    runs: dict[str, list[datetime]] = defaultdict(list)
    in_prod: set[str] = set()
    for record in _unlabelled(simulated, records):
        found = _role_and_session(record)
        if found and found[0] == "github-actions-deploy" and not record["readOnly"]:
            runs[found[1]].append(datetime.fromisoformat(record["eventTime"]))
            assert record["sourceIPAddress"].startswith("198.18.1")  # GitHub-hosted runners
            if record["recipientAccountId"] == prod:
                in_prod.add(found[1])
    assert len(runs) >= 5
    assert all((max(t) - min(t)).total_seconds() < 3600 for t in runs.values())
    inside = [s for s in in_prod if in_release_window(int(min(runs[s]).timestamp()))]
    assert in_prod
    assert len(inside) >= 0.7 * len(in_prod)


def test_the_scheduler_starts_at_seven_and_stops_at_seven_in_the_evening(
    simulated, records
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    hours: dict[str, set[int]] = defaultdict(set)
    for record in _unlabelled(simulated, records):
        found = _role_and_session(record)
        if found and found[0] == "instance-scheduler-role" and not record["readOnly"]:
            local = datetime.fromisoformat(record["eventTime"]).astimezone(berlin)
            hours[record["eventName"]].add(local.hour)
    assert hours["StartInstances"]
    assert hours["StopInstances"]
    assert hours["StartInstances"] <= {7, 8}
    assert hours["StopInstances"] <= {19, 20, 0, 1, 2, 3}


def test_backups_are_copied_to_the_disaster_recovery_region(simulated, records) -> None:
    home, dr = simulated.manifest["regions"][:2]
    copies = [r for r in records if r["eventName"] == "CopySnapshot"]
    assert copies
    for record in copies:
        assert record["awsRegion"] == dr
        assert record["requestParameters"]["sourceRegion"] == home
        assert record["userIdentity"]["invokedBy"] == "backup.amazonaws.com"


def test_restore_tests_restore_last_nights_backup_onto_a_new_instance(simulated, records) -> None:
    start = datetime.fromisoformat(simulated.manifest["test"]["start"])
    restores = [
        r for r in records if (found := _role_and_session(r)) and found[0] == "backup-restore-test"
    ]
    by_session: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for record in restores:
        by_session[record["userIdentity"]["arn"]][record["eventName"]] = record
    backups = {
        r["responseElements"]["snapshotId"]: datetime.fromisoformat(r["eventTime"])
        for r in records
        if r["eventName"] == "CreateSnapshot" and r["userIdentity"].get("invokedBy")
    }
    chains = [s for s in by_session.values() if "AttachVolume" in s]
    assert chains
    for chain in chains:
        snapshot = chain["CreateVolume"]["requestParameters"]["snapshotId"]
        created = datetime.fromisoformat(chain["CreateVolume"]["eventTime"])
        assert 0 < (created - backups[snapshot]).total_seconds() < 24 * 3600
        instance = chain["RunInstances"]["responseElements"]["instancesSet"]["items"][0]
        assert chain["AttachVolume"]["requestParameters"]["instanceId"] == instance["instanceId"]
    assert any(datetime.fromisoformat(c["AttachVolume"]["eventTime"]) < start for c in chains)


def test_golden_images_are_shared_with_the_organisations_accounts_only(simulated, records) -> None:
    ours = {a["id"] for a in simulated.manifest["accounts"]}
    shares = [
        r
        for r in records
        if r["eventName"] == "ModifyImageAttribute"
        and (found := _role_and_session(r))
        and found[0] == "packer-ami-builder"
    ]
    assert shares
    for record in shares:
        granted = {
            i["userId"] for i in record["requestParameters"]["launchPermission"]["add"]["items"]
        }
        assert granted
        assert granted <= ours - {record["recipientAccountId"]}
    regions = {r["awsRegion"] for r in records if r["eventName"] == "CopyImage"}
    assert regions == set(simulated.manifest["regions"][1:])


def test_on_call_people_fix_production_at_night_in_the_baseline(simulated, records) -> None:
    people = {p["email"]: ZoneInfo(p["timezone"]) for p in simulated.manifest["people"]}
    prod = next(a["id"] for a in simulated.manifest["accounts"] if a["role"] == "prod")
    start = datetime.fromisoformat(simulated.manifest["test"]["start"])
    night = []
    for record in _unlabelled(simulated, records):
        found = _role_and_session(record)
        if not found or not found[0].startswith("AWSReservedSSO_") or record["readOnly"]:
            continue
        moment = datetime.fromisoformat(record["eventTime"])
        local = moment.astimezone(people[found[1]])
        if record["recipientAccountId"] == prod and moment < start and not 8 <= local.hour < 19:
            night.append(record["eventName"])
    assert {"RebootInstances", "StopInstances", "StartInstances"} & set(night)


def test_a_large_in_window_deploy_is_five_times_the_usual_apply(simulated) -> None:
    labels = simulated.labels
    deploy = labels[labels["scenario"] == "large_in_window_deploy"]
    changes = deploy[~deploy["event_name"].str.startswith("Describe")]
    assert len(changes) >= 10
