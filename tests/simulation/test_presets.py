"""Two organisations of different size: the small estate and the large one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from changewatch.cli import cli
from training.simulation import POLICIES, PRESETS, SCENARIOS, simulate
from training.simulation._federation import SESSION_STYLES

from .conftest import raw_records


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("large") / "out"
    result = simulate(
        out,
        org="large",
        days=9,
        test_days=7,
        seed=4,
        scale=0.05,
        regions=["eu-central-1", "eu-west-1"],
    )
    return result.manifest, [record for _, record in raw_records(out)]


@pytest.mark.parametrize(
    ("name", "accounts", "regions"),
    [("small", 2, 3), ("large", 7, 3)],
)
def test_presets_shape_the_organisation(name: str, accounts: int, regions: int) -> None:
    shape = PRESETS[name]
    assert (shape.accounts, len(shape.regions)) == (accounts, regions)


def test_the_large_organisation_has_more_of_everything() -> None:
    small, large = PRESETS["small"], PRESETS["large"]
    assert len(large.teams) > len(small.teams)
    assert len(large.clusters) > len(small.clusters)
    assert set(small.lambdas) < set(large.lambdas)
    assert large.scale > small.scale


def test_the_large_organisation_injects_every_scenario(large) -> None:
    manifest, _ = large
    assert manifest["org"] == "large"
    assert len(manifest["accounts"]) == 7
    assert manifest["scenarios_skipped"] == {}
    assert set(manifest["scenarios"]) == set(SCENARIOS)
    assert len(manifest["people"]) > 9


def test_the_large_organisation_copies_backups_to_its_backup_account(large) -> None:
    manifest, records = large
    vault = next(a["id"] for a in manifest["accounts"] if a["role"] == "backup")
    ours = {a["id"] for a in manifest["accounts"]}
    copies = [r for r in records if r["eventName"] == "CopySnapshot"]
    assert copies
    assert {r["recipientAccountId"] for r in copies} == {vault}
    shares = [
        item["userId"]
        for r in records
        if r["eventName"] == "ModifySnapshotAttribute"
        and r["userIdentity"].get("invokedBy") == "backup.amazonaws.com"
        for item in r["requestParameters"]["createVolumePermission"].get("add", {}).get("items", [])
    ]
    assert shares
    assert set(shares) == {vault} <= ours


def test_the_large_organisation_runs_gitlab_oidc_and_the_cluster_autoscaler(large) -> None:
    _, records = large
    names = {r["eventName"] for r in records}
    assert {"SetDesiredCapacity", "DescribeAutoScalingGroups"} <= names
    sessions = {
        r["userIdentity"]["arn"].rsplit("/", 1)[-1]
        for r in records
        if "/gitlab-data-deploy/" in r["userIdentity"].get("arn", "")
    }
    assert sessions
    assert all(s.startswith("GitLabRunner-") for s in sessions)


def test_the_large_organisation_names_sessions_in_every_style(large) -> None:
    manifest, _ = large
    styles = {actor.get("sessions") for actor in manifest["actors"].values()}
    assert set(SESSION_STYLES) - {"fixed"} <= styles | {"fixed"}


def test_the_cli_offers_exactly_the_presets_and_policies() -> None:
    command = cli.commands["simulate"]
    choices = {p.name: getattr(p.type, "choices", None) for p in command.params}
    assert list(choices["org"]) == list(PRESETS)
    assert list(choices["policy"]) == list(POLICIES)


def test_the_cli_simulates_the_large_organisation(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = CliRunner().invoke(
        cli,
        ["simulate", "--out", str(out), "--org", "large", "--days", "3", "--test-days", "1",
         "--scale", "0.05", "--attacks", "none", "--policy", "complete"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = (out / "manifest.json").read_text()
    assert '"org": "large"' in manifest
    assert '"policy": "complete"' in manifest
