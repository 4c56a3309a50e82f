"""The scoring path: reading inputs, loading the model, facts of events, score_events."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import features
from changewatch.errors import ConfigurationError
from models.scoring import (
    PARQUET_MAGIC,
    Scorer,
    ScorerInfo,
    WindowScore,
    event_facts,
    load_events,
    load_scorer,
    parse_policy,
    score_events,
)

STRATUS = Path(__file__).parent.parent / "data" / "stratus"
SHARE = STRATUS / "aws.exfiltration.ec2-share-ebs-snapshot.json"
AMI = STRATUS / "aws.exfiltration.ec2-share-ami.json"
NOW = datetime(2026, 4, 1, tzinfo=UTC)

Records = Callable[..., dict[str, Any]]
Frame = Callable[[Iterable[dict[str, Any]]], pd.DataFrame]


@pytest.mark.parametrize("uri", ["none", "None", " NONE "])
def test_model_none_means_rules_only(uri: str) -> None:
    assert load_scorer(uri) is None


def test_a_path_without_a_model_is_refused_with_what_to_give() -> None:
    with pytest.raises(ConfigurationError, match="give a bundle directory"):
        load_scorer("./no-model-here")


# --------------------------------------------------------------------------- reading inputs


def test_cloudtrail_and_parquet_read_to_the_same_events(tmp_path: Path) -> None:
    parquet = tmp_path / "events.parquet"
    features.ingest([str(SHARE)], parquet)
    assert parquet.read_bytes()[:4] == PARQUET_MAGIC
    from_trail = load_events([SHARE])
    from_parquet = load_events([parquet])
    assert len(from_trail.events) == 1
    pd.testing.assert_frame_equal(from_trail.events, from_parquet.events)


def test_parquet_is_recognised_by_its_bytes_not_its_name(tmp_path: Path) -> None:
    disguised = tmp_path / "looks-like-cloudtrail.json"
    features.ingest([str(AMI)], tmp_path / "x.parquet")
    shutil.copy(tmp_path / "x.parquet", disguised)
    loaded = load_events([disguised])
    assert loaded.rejected == 0
    assert len(loaded.events) == len(json.loads(AMI.read_text()))


def test_inputs_are_joined_and_an_event_seen_twice_is_kept_once(tmp_path: Path) -> None:
    parquet = tmp_path / "share.parquet"
    features.ingest([str(SHARE)], parquet)
    loaded = load_events([SHARE, parquet, AMI])
    assert loaded.duplicates == 1
    assert loaded.events["event_id"].is_unique
    assert len(loaded.events) == 1 + len(json.loads(AMI.read_text()))


def test_bad_records_are_counted_and_reported_never_fatal(tmp_path: Path) -> None:
    good = json.loads(SHARE.read_text())[0]
    trail = tmp_path / "trail.ndjson"
    trail.write_text(
        json.dumps(good) + "\n" + json.dumps({**good, "eventTime": 7}) + "\nnot json\n"
    )
    rejects = tmp_path / "rejects.jsonl"
    loaded = load_events([trail], rejects=rejects)
    assert (len(loaded.events), loaded.rejected) == (1, 2)
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert {line["position"] for line in lines} == {2, 3}


def test_no_events_gives_an_empty_canonical_frame(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text('{"Records": []}')
    loaded = load_events([empty])
    assert list(loaded.events.columns) == list(features.CANONICAL_COLUMNS)
    result = score_events(loaded.events)
    assert (result.events, result.findings) == (0, [])


# --------------------------------------------------------------------------- facts and scoring


def test_facts_give_verdicts_for_attempted_changes_only(
    rec: Records, events_of: Frame, policy_yaml: str
) -> None:
    events = events_of(
        [
            rec("RunInstances", "2026-03-03T02:30:00Z", event_id="run"),
            rec("DescribeInstances", "2026-03-03T02:31:00Z", event_id="read"),
            rec("TerminateInstances", "2026-03-03T05:00:00Z", event_id="late"),
            rec("StopInstances", "2026-12-21T05:00:00Z", event_id="frozen"),
        ]
    )
    facts = event_facts(events, parse_policy(policy_yaml))
    assert (facts["run"].verdict, facts["run"].by_kind, facts["run"].by) == (
        "approved",
        "window",
        "nightly-batch",
    )
    assert facts["read"].verdict is None
    assert facts["late"].verdict == "unapproved"
    assert (facts["frozen"].verdict, facts["frozen"].by) == ("forbidden", "year-end-freeze")
    assert facts["run"].account_id == "111122223333"
    assert facts["run"].region == "eu-central-1"
    assert facts["run"].principal_arn == "arn:aws:iam::111122223333:user/alice"


@pytest.mark.parametrize(
    "policy", [None, "version: 1\norganization: {accounts: ['111122223333']}\n"]
)
def test_without_a_calendar_there_is_no_window_context(
    rec: Records, events_of: Frame, policy: str | None
) -> None:
    events = events_of([rec("RunInstances", "2026-03-03T02:30:00Z", event_id="run")])
    facts = event_facts(events, parse_policy(policy) if policy else None)
    assert facts["run"].verdict is None


def test_score_events_with_rules_only_reports_a_change_in_a_freeze(
    rec: Records, events_of: Frame, policy_yaml: str
) -> None:
    events = events_of(
        [
            rec("StopInstances", "2026-12-21T05:00:00Z", event_id="stop",
                request={"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}}),
            rec("DescribeInstances", "2026-12-21T05:01:00Z", event_id="read"),
        ]
    )  # fmt: skip
    result = score_events(events, parse_policy(policy_yaml), now=NOW)
    assert result.scorer is None
    assert result.windows == []
    (finding,) = result.findings
    assert finding.rules == ["ChangeWindow.InsideFreeze"]
    assert finding.severity == "high"
    assert finding.change_context.verdict == "forbidden"
    assert finding.change_context.by == ["year-end-freeze"]
    assert finding.event_ids == ["stop"]
    assert "year-end-freeze" in finding.reasons[0]


class _HandMadeWindows:
    """A Scorer that returns hand-made windows: it exercises the wiring, not a model."""

    def __init__(self, percentile: float) -> None:
        self.percentile = percentile

    def info(self) -> ScorerInfo:
        return ScorerInfo("hand-made", "0")

    def score_windows(
        self, events: pd.DataFrame, history: pd.DataFrame | None = None
    ) -> list[WindowScore]:
        start = datetime(2026, 3, 3, 5, tzinfo=UTC)
        ids = tuple(str(i) for i in events["event_id"])
        identity = str(events["identity_key"].iloc[0])
        return [WindowScore(identity, start, start + timedelta(hours=1), 0.7, self.percentile,
                            False, (), ids)]  # fmt: skip


@pytest.mark.parametrize(
    ("percentile", "severity"), [(100.0, "high"), (99.2, "medium"), (50.0, "medium")]
)
def test_model_windows_reach_the_combiner_with_the_change_context(
    rec: Records, events_of: Frame, policy_yaml: str, percentile: float, severity: str
) -> None:
    events = events_of([rec("TerminateInstances", "2026-03-03T05:00:00Z", event_id="late")])
    scorer = _HandMadeWindows(percentile)
    assert isinstance(scorer, Scorer)
    result = score_events(events, parse_policy(policy_yaml), scorer, now=NOW)
    (finding,) = result.findings
    assert finding.rules == ["ChangeWindow.OutsideApproved"]
    assert finding.severity == severity
    assert finding.model is not None
    assert finding.model.scorer == "hand-made@0"
    assert str(result.scorer) == "hand-made@0"
