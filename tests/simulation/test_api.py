"""The public surface, the command line and the errors of ``simulate``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import training.simulation as package
from changewatch.cli import cli
from changewatch.errors import ConfigurationError
from training.simulation import identity_kind, simulate

SMALL = {"days": 3, "test_days": 1, "scale": 0.05}


def test_all_lists_the_public_names() -> None:
    public = {name for name in vars(package) if not name.startswith("_")}
    assert set(package.__all__) <= public
    assert {"simulate", "SCENARIOS", "Scenario", "SimulationResult"} <= set(package.__all__)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 1}, "days must be at least 2"),
        ({"test_days": 3}, "test_days must be in"),
        ({"accounts": 8}, "accounts must be in"),
        ({"org": "medium"}, "unknown organisation 'medium'"),
        ({"policy": "strict"}, "unknown policy 'strict'"),
        ({"regions": ["mars-north-1"]}, "not an AWS region"),
        ({"regions": []}, "at least one region"),
        ({"scale": 0}, "scale must be in"),
        ({"attacks": "nonsense"}, "unknown scenario 'nonsense'"),
        ({"at": {"gpu_mining": datetime(2026, 3, 2, tzinfo=UTC)}}, "must be in the test period"),
    ],
)
def test_bad_parameters_are_configuration_errors(
    tmp_path: Path, kwargs: dict, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        simulate(tmp_path / "out", **{**SMALL, **kwargs})


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(ConfigurationError, match="not empty"):
        simulate(tmp_path, **SMALL)


def test_injection_time_is_honoured(tmp_path: Path) -> None:
    when = datetime(2026, 3, 4, 6, 30, tzinfo=UTC)
    result = simulate(
        tmp_path / "out", attacks="none", at={"gpu_mining": when}, start=date(2026, 3, 2), **SMALL
    )
    assert result.manifest["scenarios"]["gpu_mining"]["injected_at"] == "2026-03-04T06:30:00Z"
    assert list(result.manifest["scenarios"]) == ["gpu_mining"]


def test_cli_writes_and_prints_a_json_summary(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--out",
            str(out),
            "--days",
            "3",
            "--test-days",
            "1",
            "--scale",
            "0.05",
            "--attacks",
            "mass_deletion",
            "--seed",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["events"] > 0
    assert summary["scenarios"] == 1
    for name in (
        "labels.parquet",
        "change_windows.yaml",
        "automation.yaml",
        "geo.mmdb",
        "manifest.json",
        "AWSLogs",
    ):
        assert (out / name).exists()


def test_cli_reports_an_unknown_scenario(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["simulate", "--out", str(tmp_path / "x"), "--attacks", "nope"]
    )
    assert result.exit_code == 1
    assert "unknown scenario 'nope'" in result.output


MANIFEST = {
    "identities": {
        "person": {"keys": ["arn:aws:iam::1:role/AWSReservedSSO_Admin_ab/anna@x.example"]},
        "automation": {"keys": ["arn:aws:iam::1:role/ci", "federated:arn:aws:iam::1:p:aud:sub"]},
        "iam-user": {"keys": ["arn:aws:iam::1:user/ops"]},
    }
}


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("arn:aws:iam::1:role/AWSReservedSSO_Admin_ab/anna@x.example", "person"),
        ("arn:aws:iam::1:role/ci", "automation"),
        ("arn:aws:iam::1:role/ci/gh-actions-8400000123", "automation"),
        ("federated:arn:aws:iam::1:p:aud:sub", "automation"),
        ("arn:aws:iam::1:user/ops", "iam-user"),
        ("arn:aws:iam::1:user/ops/extra", None),
        ("arn:aws:iam::1:role/other/1774852212345678901", None),
        ("arn:aws:iam::1:role/AWSReservedSSO_Admin_ab/bob@x.example", None),
        ("unknown:1", None),
    ],
)
def test_identity_kind_finds_the_actor_of_a_key(key: str, kind: str | None) -> None:
    assert identity_kind(MANIFEST, key) == kind
