"""``changewatch score`` end to end on real Stratus Red Team recordings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from changewatch.cli import cli
from models.scoring import Finding
from tests.serving.ocsf_schema import schema_errors

STRATUS = Path(__file__).parent.parent / "data" / "stratus"
SHARE = str(STRATUS / "aws.exfiltration.ec2-share-ebs-snapshot.json")
AMI = str(STRATUS / "aws.exfiltration.ec2-share-ami.json")
VICTIM, FOREIGN = "756680937392", "098797384747"

# Our account only; the only window (weekday mornings in Berlin) misses 2024-08-01 12:28Z.
OURS = f"""\
version: 1
timezone: Europe/Berlin
organization:
  accounts: ["{VICTIM}"]
windows:
  - name: weekday-mornings
    cron: "0 8 * * 1-5"
    duration: PT2H
"""
# The target account is ours too, and a ticket approves the change: nothing to report.
APPROVED = f"""\
version: 1
organization:
  accounts: ["{VICTIM}", "{FOREIGN}"]
tickets:
  - id: CHG-7
    start: 2024-08-01T12:00:00Z
    end: 2024-08-01T13:00:00Z
    owner: storage-team@example.com
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["score", *args], catch_exceptions=False)


def summary(result: Result) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


@pytest.fixture
def policies(tmp_path: Path) -> dict[str, str]:
    out = {}
    for name, text in (("ours", OURS), ("approved", APPROVED)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        out[name] = str(path)
    return out


def test_foreign_snapshot_share_is_a_high_finding_naming_the_account(
    tmp_path: Path, policies: dict[str, str]
) -> None:
    out = tmp_path / "findings.jsonl"
    result = run("--model", "none", "--events", SHARE, "--windows", policies["ours"],
                 "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    (line,) = out.read_text().splitlines()
    finding = Finding.model_validate_json(line)
    assert finding.severity == "high"
    assert "Sharing.ForeignAccount" in finding.rules
    assert any(f"shared with account {FOREIGN}" in reason for reason in finding.reasons)
    assert finding.identity == f"arn:aws:iam::{VICTIM}:user/christophe"
    assert finding.account_id == VICTIM
    assert finding.event_ids == ["6897ff63-d738-445c-9e86-43e5b1f8e12f"]
    counts = summary(result)
    assert counts["events"] == 1
    assert counts["rejected"] == 0
    assert counts["findings"] == 1
    assert counts["findings_by_severity"]["high"] == 1
    assert counts["rules_fired"] == {"ChangeWindow.OutsideApproved": 1, "Sharing.ForeignAccount": 1}
    assert counts["model"] is None


def test_approved_share_inside_the_organisation_makes_no_finding(
    tmp_path: Path, policies: dict[str, str]
) -> None:
    out = tmp_path / "findings.jsonl"
    result = run("--model", "none", "--events", SHARE, "--windows", policies["approved"],
                 "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_text() == ""
    counts = summary(result)
    assert (counts["events"], counts["hits"], counts["findings"]) == (1, 0, 0)
    assert counts["rules_fired"] == {}


def test_ocsf_output_is_a_detection_finding_per_line(policies: dict[str, str]) -> None:
    result = run("--model", "none", "--events", SHARE, AMI, "--windows", policies["ours"],
                 "--format", "ocsf", "--out", "-")  # fmt: skip
    assert result.exit_code == 0, result.output
    *lines, last = result.stdout.strip().splitlines()
    objects = [json.loads(line) for line in lines]
    assert len(objects) == summary(result)["findings"] == 2  # the AMI share is a second one
    assert {o["class_uid"] for o in objects} == {2004}
    assert all(o["severity_id"] == 4 for o in objects)
    assert json.loads(last)["format"] == "ocsf"
    assert {o["metadata"]["version"] for o in objects} == {"1.8.0"}
    assert [schema_errors(o) for o in objects] == [[], []]


def test_ocsf_1_1_stays_selectable_and_valid(policies: dict[str, str]) -> None:
    result = run("--model", "none", "--events", SHARE, AMI, "--windows", policies["ours"],
                 "--format", "ocsf", "--ocsf-version", "1.1.0", "--out", "-")  # fmt: skip
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.stdout.strip().splitlines()[:-1]]
    assert {o["metadata"]["version"] for o in objects} == {"1.1.0"}
    assert [schema_errors(o) for o in objects] == [[], []]


def test_paths_options_take_several_paths_and_may_repeat(policies: dict[str, str]) -> None:
    greedy = run("--model", "none", "--events", SHARE, AMI, "--windows", policies["ours"],
                 "--out", "-")  # fmt: skip
    repeated = run("--events", SHARE, "--windows", policies["ours"], "--events", AMI,
                   "--model", "none", "--out", "-")  # fmt: skip
    assert greedy.exit_code == repeated.exit_code == 0
    assert greedy.stdout == repeated.stdout
    assert summary(greedy)["events"] == 1 + len(json.loads(Path(AMI).read_text()))


def test_parquet_input_gives_the_same_findings_as_cloudtrail(
    tmp_path: Path, policies: dict[str, str]
) -> None:
    parquet = tmp_path / "events.parquet"
    ingested = CliRunner().invoke(cli, ["ingest", SHARE, AMI, "--out", str(parquet), "-j", "1"])
    assert ingested.exit_code == 0, ingested.output
    from_parquet = run("--model", "none", "--events", str(parquet), "--windows",
                       policies["ours"], "--out", "-")  # fmt: skip
    from_trail = run("--model", "none", "--events", SHARE, AMI, "--windows", policies["ours"],
                     "--out", "-")  # fmt: skip
    findings = from_parquet.stdout.splitlines()[:-1]
    assert findings == from_trail.stdout.splitlines()[:-1]
    assert len(findings) == 2


def test_rescoring_gives_identical_output(tmp_path: Path, policies: dict[str, str]) -> None:
    outputs = []
    for attempt in range(2):
        out = tmp_path / f"run-{attempt}.jsonl"
        result = run("--model", "none", "--events", SHARE, AMI, "--windows", policies["ours"],
                     "--out", str(out))  # fmt: skip
        assert result.exit_code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_min_severity_filters_and_says_how_many(policies: dict[str, str]) -> None:
    result = run("--model", "none", "--events", SHARE, "--windows", policies["ours"],
                 "--min-severity", "critical", "--out", "-")  # fmt: skip
    assert result.exit_code == 0
    assert len(result.stdout.strip().splitlines()) == 1  # the summary only
    counts = summary(result)
    assert (counts["findings"], counts["findings_below_min_severity"]) == (0, 1)


def test_without_a_policy_the_foreign_share_is_still_found() -> None:
    result = run("--model", "none", "--events", SHARE, "--out", "-")
    assert result.exit_code == 0
    finding = json.loads(result.stdout.splitlines()[0])
    assert finding["rules"] == ["Sharing.ForeignAccount"]  # no calendar: no window rules
    assert finding["change_context"]["verdict"] == "none"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "/no/model/here"], "give a bundle directory"),
        (["--model", "none", "--windows", "missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_status_1(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["score", "--events", SHARE, "--out", "-", *args])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""


def test_help_shows_examples() -> None:
    result = CliRunner().invoke(cli, ["score", "--help"])
    assert result.exit_code == 0
    assert "changewatch score --model none --events" in result.stdout
