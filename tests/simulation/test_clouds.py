"""``simulate --cloud``: one organisation written in each cloud's native export layout (ADR 0054).

A small organisation is simulated once as ``all`` clouds; each cloud's logs are read by the
product's own readers with no rejects, every label names an event the reader produced, the
AWS trail is byte for byte the trail of an AWS-only simulation, and the policy names
subscriptions, projects and each cloud's identity keys.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features import ingest, read_events
from training.simulation import simulate

PARAMS: dict[str, Any] = {"days": 9, "test_days": 7, "scale": 0.1, "seed": 3}
ROOTS = {
    "aws": "AWSLogs",
    "azure": "insights-activity-logs",
    "gcp": "cloudaudit.googleapis.com",
}


@pytest.fixture(scope="module")
def every_cloud(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clouds") / "sim"
    simulate(out, cloud="all", **PARAMS)
    return out


@pytest.fixture(scope="module")
def events(every_cloud: Path) -> dict[str, pd.DataFrame]:
    found: dict[str, pd.DataFrame] = {}
    for cloud, root in ROOTS.items():
        path = every_cloud / f"{cloud}.parquet"
        report = ingest([every_cloud / root], path)
        assert report.rejected == 0, report
        found[cloud] = read_events(path)
    return found


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_the_aws_trail_is_the_same_bytes_whatever_else_is_written(
    every_cloud: Path, tmp_path: Path
) -> None:
    simulate(tmp_path / "aws", **PARAMS)
    assert _digest(tmp_path / "aws" / "AWSLogs") == _digest(every_cloud / "AWSLogs")
    assert not (tmp_path / "aws" / "insights-activity-logs").exists()


@pytest.mark.parametrize(
    ("cloud", "pattern"),
    [
        ("azure", "resourceId=/SUBSCRIPTIONS/*/y=*/m=*/d=*/h=*/m=00/PT1H.json"),
        ("gcp", "activity/*/*/*/*:00:00_*:59:59_S0.json"),
    ],
)
def test_each_cloud_is_written_in_its_export_layout(
    every_cloud: Path, cloud: str, pattern: str
) -> None:
    files = list((every_cloud / ROOTS[cloud]).glob(pattern))
    assert files
    assert all(f.stat().st_size > 0 for f in files)


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_every_label_names_an_event_its_reader_produced(
    every_cloud: Path, events: dict[str, pd.DataFrame], cloud: str
) -> None:
    labels = pd.read_parquet(every_cloud / "labels.parquet")
    mine = labels[labels["cloud"] == cloud]
    assert set(mine["kind"]) == {"attack", "hard_negative"}
    assert set(mine["event_id"]) <= set(events[cloud]["event_id"])
    assert set(events[cloud]["cloud"]) == {cloud}


@pytest.mark.parametrize(
    ("cloud", "scenario", "event_name"),
    [
        ("azure", "snapshot_share_exfil", "Microsoft.Compute/snapshots/beginGetAccess/action"),
        ("azure", "user_data_change", "Microsoft.Compute/virtualMachines/write"),
        ("gcp", "snapshot_share_exfil", "compute.snapshots.setIamPolicy"),
        ("gcp", "snapshot_volume_attach", "compute.disks.createSnapshot"),
        ("gcp", "user_data_change", "compute.instances.setMetadata"),
    ],
)
def test_attacks_become_the_clouds_own_operations(
    every_cloud: Path, cloud: str, scenario: str, event_name: str
) -> None:
    labels = pd.read_parquet(every_cloud / "labels.parquet")
    names = set(labels[(labels["cloud"] == cloud) & (labels["scenario"] == scenario)]["event_name"])
    assert event_name in names


def test_a_public_share_is_a_share_to_all_in_google_cloud(
    events: dict[str, pd.DataFrame],
) -> None:
    shares = events["gcp"][events["gcp"]["action"] == "share"]
    assert any("all" in list(targets) for targets in shares["share_targets"])


def test_the_policy_names_subscriptions_projects_and_each_clouds_identities(
    every_cloud: Path, events: dict[str, pd.DataFrame]
) -> None:
    text = (every_cloud / "change_windows.yaml").read_text()
    for cloud in ("azure", "gcp"):
        for account in set(events[cloud]["account_id"].dropna()):
            assert account in text
    assert "azure:mi:/subscriptions/*/" in text
    assert "gcp:sa:deploy-terraform*@*.iam.gserviceaccount.com" in text


def test_the_manifest_knows_the_kind_of_each_clouds_identities(
    every_cloud: Path, events: dict[str, pd.DataFrame]
) -> None:
    import json

    from training.simulation import identity_kind

    manifest = json.loads((every_cloud / "manifest.json").read_text())
    assert manifest["clouds"] == ["aws", "azure", "gcp"]
    for cloud in ("azure", "gcp"):
        keys = set(events[cloud]["identity_key"])
        known = {k for k in keys if identity_kind(manifest, k) is not None}
        assert len(known) >= 0.9 * len(keys), keys - known


def test_an_unknown_cloud_is_refused(tmp_path: Path) -> None:
    from features import ConfigurationError

    with pytest.raises(ConfigurationError, match="unknown cloud 'oci'"):
        simulate(tmp_path / "x", cloud="oci", **PARAMS)


def test_the_command_line_writes_the_cloud_it_is_asked_for(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from changewatch.cli import cli

    out = tmp_path / "gcp"
    args = ["simulate", "--out", str(out), "--days", "3", "--test-days", "1", "--scale", "0.05"]
    result = CliRunner().invoke(cli, [*args, "--attacks", "user_data_change", "--cloud", "gcp"])
    assert result.exit_code == 0, result.output
    assert (out / "cloudaudit.googleapis.com" / "activity").is_dir()
    assert not (out / "AWSLogs").exists()
    labels = pd.read_parquet(out / "labels.parquet")
    assert set(labels["cloud"]) == {"gcp"}
    assert "compute.instances.setMetadata" in set(labels["event_name"])
