"""`policy suggest`: windows, automation and accounts mined from history, loaded as they are."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from features import ConfigurationError, InputError
from models.scoring import (
    SuggestSettings,
    load_policy,
    score_events,
    severity_rank,
    suggest_policy,
    suggestion_yaml,
)

ACCOUNT = "111122223333"
DEPLOY = f"arn:aws:iam::{ACCOUNT}:role/deploy-terraform"
SCALER = f"arn:aws:iam::{ACCOUNT}:role/ci-runner-scaler"
PERSON = f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Admin_0123/alice@example.com"


def _events(rows: list[tuple[str, str, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_time": pd.to_datetime([t for t, _, _ in rows], utc=True),
            "identity_key": [i for _, i, _ in rows],
            "account_id": ACCOUNT,
            "is_compute_change": [c for _, _, c in rows],
            "client_family": "boto3",
            "network": "198.51.100.0/24",
        }
    )


def _history() -> pd.DataFrame:
    rows: list[tuple[str, str, bool]] = []
    for day in pd.date_range("2026-03-02", periods=28, freq="D"):
        if day.day_of_week in (1, 3):  # Tuesday and Thursday, 10:00-11:59 UTC
            rows += [(f"{day:%Y-%m-%d}T10:15:00Z", DEPLOY, True)]
            rows += [(f"{day:%Y-%m-%d}T11:40:00Z", DEPLOY, True)]
        for hour in range(0, 24, 3):  # a scaler changes at any time
            rows.append((f"{day:%Y-%m-%d}T{hour:02d}:05:00Z", SCALER, True))
    rows.append(("2026-03-04T15:00:00Z", PERSON, True))
    return _events(rows)


def test_deploy_identity_gets_its_window_and_automation_its_entry(tmp_path: Path) -> None:
    suggestion = suggest_policy(_history())
    (window,) = suggestion.windows
    assert window.body["rrule"] == "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=10;BYMINUTE=0;BYSECOND=0"
    assert window.body["duration"] == "PT2H"
    assert window.body["scope"] == {
        "accounts": [ACCOUNT],
        "identities": ["arn:aws:iam::*:role/deploy-terraform*"],
    }
    assert "16 of the 16 changes" in window.evidence
    assert "confidence 1.0" in window.evidence
    assert [a.body["identities"] for a in suggestion.automation] == [
        ["arn:aws:iam::*:role/ci-runner-scaler*"]
    ]
    assert suggestion.automation[0].body["networks"] == ["198.51.100.0/24"]
    assert suggestion.accounts == [ACCOUNT]
    text = suggestion_yaml(suggestion)
    assert text.count("# evidence:") == 3
    path = tmp_path / "suggested.yaml"
    path.write_text(text)
    policy = load_policy(path)
    week = (pd.Timestamp("2026-03-30", tz="UTC"), pd.Timestamp("2026-04-06", tz="UTC"))
    occurrences = policy.calendar.occurrences(*(t.to_pydatetime() for t in week))
    assert [len(o) for o in occurrences.values()] == [2]


def test_the_command_writes_a_file_that_loads(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from changewatch.cli import cli

    out = tmp_path / "suggested.yaml"
    real = Path(__file__).parents[1] / "data" / "stratus"
    args = ["policy", "suggest", "--events", str(real), "--out", str(out)]
    done = CliRunner().invoke(cli, [*args, "--timezone", "Europe/Berlin"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["accounts"] >= 1
    assert load_policy(out).files
    bad = CliRunner().invoke(cli, [*args, "--timezone", "Mars/Base"])
    assert bad.exit_code == 1
    assert "Mars/Base" in bad.output


def test_no_window_for_a_few_changes_or_changes_at_any_time() -> None:
    once = _events([("2026-03-03T10:00:00Z", DEPLOY, True)] * 6)  # one date only
    assert suggest_policy(once).windows == []
    anytime = _events(
        [(f"2026-03-0{d}T{h:02d}:00:00Z", DEPLOY, True) for d in range(2, 9) for h in range(24)]
    )
    assert suggest_policy(anytime).windows == []


@pytest.mark.parametrize(
    ("frame", "settings", "error", "message"),
    [
        (_events([]), None, InputError, "no events"),
        (pd.DataFrame({"event_time": []}), None, InputError, "identity_key"),
        (_history(), SuggestSettings(timezone="Mars/Base"), ConfigurationError, "Mars/Base"),
    ],
    ids=["empty", "column", "zone"],
)
def test_bad_history_is_named(
    frame: pd.DataFrame, settings: SuggestSettings | None, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        suggest_policy(frame, settings)


@pytest.mark.slow
def test_on_the_simulators_history_suggested_windows_cover_the_true_ones(
    tmp_path: Path,
) -> None:
    from features import IngestOptions, ingest, read_events
    from training.simulation import simulate

    result = simulate(tmp_path / "sim", days=42, test_days=7, scale=0.5, accounts=2, seed=5)
    ingest([tmp_path / "sim" / "AWSLogs"], tmp_path / "e.parquet", options=IngestOptions(jobs=1))
    events = read_events(tmp_path / "e.parquet")
    cut = pd.Timestamp(result.manifest["test"]["start"])
    past = events[events["event_time"] < cut].reset_index(drop=True)
    test = events[events["event_time"] >= cut].reset_index(drop=True)
    suggested = tmp_path / "suggested.yaml"
    suggested.write_text(
        suggestion_yaml(suggest_policy(past, SuggestSettings(timezone="Europe/Berlin")))
    )
    truth, ours = load_policy(tmp_path / "sim" / "change_windows.yaml"), load_policy(suggested)

    changes = test[test["is_compute_change"]].reset_index(drop=True)
    in_true_window = truth.calendar.verdicts(changes)["by_kind"] == "window"
    approved = ours.calendar.verdicts(changes)["verdict"] == "approved"
    assert in_true_window.sum() > 20
    assert (approved[in_true_window]).mean() == 1.0

    labels = pd.read_parquet(tmp_path / "sim" / "labels.parquet")
    attacks = labels[labels["kind"] == "attack"].groupby("scenario")["event_id"].agg(set)
    findings = score_events(test, ours, None, past).findings
    for scenario, ids in attacks.items():
        ranks = [severity_rank(f.severity) for f in findings if ids & set(f.event_ids)]
        assert max(ranks, default=-1) >= severity_rank("medium"), scenario
