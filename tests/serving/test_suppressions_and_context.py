"""Suppressions (scope, expiry), the runner, and the identity history the rules read."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from models.scoring import (
    RULES,
    Evidence,
    IdentityHistory,
    RuleContext,
    RuleSettings,
    Severity,
    evaluate,
    parse_policy,
    rule,
)

Records = Callable[[Iterable[dict[str, Any]]], pd.DataFrame]
NIGHT = "2026-03-03T01:30:00Z"  # outside every window below
START = {"instancesSet": {"items": [{"instanceId": "i-0abc0000000000001"}]}}

SUPPRESSED = """\
version: 1
windows:
  - {name: thursdays, cron: '0 14 * * thu', duration: PT1H}
suppressions:
  - rule: ChangeWindow.OutsideApproved
    scope: {identities: ['arn:aws:iam::*:role/patch-bot']}
    reason: patch bot runs nightly until CHG-2000 lands
    owner: soc@example.com
    expires: 2026-06-30T00:00:00Z
"""


def _outside(policy: str, events: pd.DataFrame, now: datetime) -> Any:
    context = RuleContext.build(None, policy=parse_policy(policy), now=now)
    return evaluate(
        events, context, rules=[r for r in RULES if r.id == "ChangeWindow.OutsideApproved"]
    )


@pytest.mark.parametrize(
    ("role", "now", "suppressed"),
    [
        ("patch-bot", datetime(2026, 4, 1, tzinfo=UTC), True),
        ("patch-bot", datetime(2026, 6, 30, tzinfo=UTC), False),  # expired at that instant
        ("patch-bot", datetime(2026, 7, 15, tzinfo=UTC), False),
        ("deploy-web", datetime(2026, 4, 1, tzinfo=UTC), False),  # outside the scope
    ],
)
def test_suppression_applies_in_scope_until_it_expires(
    rec: Callable[..., dict[str, Any]],
    events_of: Records,
    role: str,
    now: datetime,
    suppressed: bool,
) -> None:
    events = events_of([rec("StopInstances", NIGHT, role=role, request=START)])
    result = _outside(SUPPRESSED, events, now)
    assert len(result.suppressed) == int(suppressed)
    assert len(result.hits) == int(not suppressed)
    if suppressed:
        hit, by = result.suppressed[0]
        assert hit.rule_id == "ChangeWindow.OutsideApproved"
        assert by.owner == "soc@example.com"


def test_suppression_needs_every_evidence_event_in_scope(
    rec: Callable[..., dict[str, Any]], events_of: Records
) -> None:
    policy = SUPPRESSED.replace("identities: ['arn:aws:iam::*:role/patch-bot']", "regions: [eu-*]")
    events = events_of(
        [
            rec("StopInstances", NIGHT, role="patch-bot", request=START, region="eu-west-1"),
            rec("StopInstances", NIGHT, role="patch-bot", request=START, region="us-east-1"),
        ]
    )
    result = _outside(policy, events, datetime(2026, 4, 1, tzinfo=UTC))
    assert len(result.hits) == 1
    assert not result.suppressed


def test_expired_suppressions_are_logged(
    rec: Callable[..., dict[str, Any]], events_of: Records, caplog: pytest.LogCaptureFixture
) -> None:
    events = events_of([rec("StopInstances", NIGHT, role="patch-bot", request=START)])
    with caplog.at_level(logging.WARNING, logger="models.scoring._allowlist"):
        _outside(SUPPRESSED, events, datetime(2026, 8, 1, tzinfo=UTC))
    assert "expired on 2026-06-30" in caplog.text


def test_a_failing_rule_does_not_sink_the_others(
    rec: Callable[..., dict[str, Any]], events_of: Records
) -> None:
    @rule(id="Test.Broken", title="t", severity=Severity.LOW, technique="T0000", runbook="r")
    def broken(events: pd.DataFrame, context: RuleContext) -> Iterable[Evidence]:
        raise KeyError("missing_column")

    events = events_of([rec("StopInstances", NIGHT, request=START)])
    context = RuleContext.build(None, policy=parse_policy(SUPPRESSED), now=datetime.now(UTC))
    result = evaluate(events, context, rules=[broken, *RULES])
    assert result.failed == [("Test.Broken", "KeyError: 'missing_column'")]
    assert [hit.rule_id for hit in result.hits] == ["ChangeWindow.OutsideApproved"]


def test_rules_do_not_change_the_batch(
    rec: Callable[..., dict[str, Any]], events_of: Records, stratus: Callable[[str], pd.DataFrame]
) -> None:
    batch = pd.concat(
        [stratus("aws.execution.ec2-user-data"), stratus("aws.exfiltration.ec2-share-ami")],
        ignore_index=True,
    ).sort_values("event_time", kind="stable", ignore_index=True)
    before = batch.copy(deep=True)
    context = RuleContext.build(batch.iloc[:5], policy=parse_policy(SUPPRESSED))
    for one in RULES:
        one(batch, context)
    pd.testing.assert_frame_equal(batch, before)


def test_identity_history_from_events(
    rec: Callable[..., dict[str, Any]], events_of: Records
) -> None:
    boto = "Boto3/1.34.0 md/Botocore#1.34.0"
    history = events_of(
        [
            rec("DescribeInstances", "2026-02-01T09:00:00Z", agent=boto, ip="10.1.1.9"),
            *[
                rec(
                    "TerminateInstances", f"2026-02-01T10:{m:02d}:00Z", request=START, ip="10.1.2.9"
                )
                for m in (0, 10, 20, 50)
            ],
            rec("TerminateInstances", "2026-02-01T11:15:00Z", request=START),
            rec(
                "GetSnapshotBlock",
                "2026-02-02T08:00:00Z",
                source="ebs.amazonaws.com",
                user="backup",
            ),
        ]
    )
    past = IdentityHistory.from_events(history, window=timedelta(hours=1))
    alice = "arn:aws:iam::111122223333:user/alice"
    assert past.last_seen[alice] == datetime(2026, 2, 1, 11, 15, tzinfo=UTC)
    assert past.clients[alice] == {"boto3", "aws-cli"}
    assert past.networks[alice] == {"10.1.1.0/24", "10.1.2.0/24", "203.0.113.0/24"}
    assert past.max_deletions[alice] == 4  # 10:00, 10:10, 10:20, 10:50 in one sliding hour
    assert past.max_changes[alice] == 4
    assert past.usual_changes[alice] == 2.5  # median of hourly buckets of 4 and 1
    assert past.ebs_direct_readers == {"arn:aws:iam::111122223333:user/backup"}
    assert past.start == datetime(2026, 2, 1, 9, tzinfo=UTC)


def test_empty_history_knows_nobody(events_of: Records) -> None:
    past = IdentityHistory.from_events(events_of([]))
    assert not past.knows("anyone")
    assert past.start is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dormant_days", 0),
        ("burst_factor", 0.5),
        ("burst_window", timedelta(0)),
        ("max_evidence", 0),
    ],
)
def test_bad_settings_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        RuleSettings(**{field: value})
