"""Dry-run suppressions: they silence nothing and count what they would have silenced."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from models.scoring import RULES, RuleContext, evaluate, parse_policy
from tests.serving.test_suppressions_and_context import NIGHT, START, SUPPRESSED

POLICY = SUPPRESSED.replace("patch bot runs nightly until CHG-2000 lands", "trying it first")
POLICY += "    dry_run: DRY\n"


@pytest.mark.parametrize(
    ("dry_run", "role", "silenced", "rehearsed"),
    [
        ("true", "patch-bot", 0, 1),  # dry-run: kept, counted
        ("false", "patch-bot", 1, 0),  # on: dropped
        ("true", "deploy-web", 0, 0),  # out of its scope: neither
    ],
)
def test_dry_run_counts_instead_of_silencing(
    rec: Callable[..., dict[str, Any]],
    events_of: Callable[[Iterable[dict[str, Any]]], pd.DataFrame],
    dry_run: str,
    role: str,
    silenced: int,
    rehearsed: int,
) -> None:
    events = events_of([rec("StopInstances", NIGHT, role=role, request=START)])
    now = datetime(2026, 4, 1, tzinfo=UTC)
    context = RuleContext.build(None, policy=parse_policy(POLICY.replace("DRY", dry_run)), now=now)
    result = evaluate(
        events, context, rules=[r for r in RULES if r.id == "ChangeWindow.OutsideApproved"]
    )
    assert len(result.suppressed) == silenced
    assert len(result.rehearsed) == rehearsed
    assert len(result.hits) == 1 - silenced
    if rehearsed:
        assert result.rehearsed[0][1].reason == "trying it first"


PIPELINE = """\
version: 1
automation:
  - name: deploy-pipeline
    identities: ['arn:aws:iam::*:role/deploy-*']
    clients: ['terraform/1.7.*']
    networks: [10.20.0.0/16]
    dry_run: DRY
"""
TERRAFORM_17 = "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io)"
AUTOMATION_RULES = [r for r in RULES if r.id.startswith("Automation.")]


@pytest.mark.parametrize(
    ("dry_run", "agent", "ip", "raised", "armed"),
    [
        ("false", "aws-cli/2.15.30", "198.51.100.7", 2, 0),  # on: client and network hits
        ("true", "aws-cli/2.15.30", "198.51.100.7", 0, 2),  # dry-run: counted, not raised
        ("true", TERRAFORM_17, "10.20.1.5", 0, 0),  # dry-run, as expected: nothing to count
    ],
)
def test_dry_run_automation_counts_instead_of_raising(
    rec: Callable[..., dict[str, Any]],
    events_of: Callable[[Iterable[dict[str, Any]]], pd.DataFrame],
    dry_run: str,
    agent: str,
    ip: str,
    raised: int,
    armed: int,
) -> None:
    events = events_of([rec("RunInstances", NIGHT, role="deploy-web", agent=agent, ip=ip)])
    policy = parse_policy(PIPELINE.replace("DRY", dry_run))
    context = RuleContext.build(None, policy=policy, now=datetime(2026, 4, 1, tzinfo=UTC))
    result = evaluate(events, context, rules=AUTOMATION_RULES)
    assert len(result.hits) == raised
    assert sorted(h.rule_id for h, _ in result.armed) == (
        ["Automation.UnexpectedClient", "Automation.UnexpectedNetwork"] if armed else []
    )
    assert all(entry.name == "deploy-pipeline" and entry.dry_run for _, entry in result.armed)


def test_a_dry_run_entry_never_shadows_a_switched_on_one(
    rec: Callable[..., dict[str, Any]],
    events_of: Callable[[Iterable[dict[str, Any]]], pd.DataFrame],
) -> None:
    trial = PIPELINE.replace("DRY", "true").replace("terraform/1.7.*", "aws-cli")
    trial = trial.replace("deploy-pipeline", "trial").replace("10.20.0.0/16", "0.0.0.0/0")
    on = PIPELINE.replace("DRY", "false").replace("version: 1\nautomation:\n", "")
    policy = parse_policy(trial + on)  # the dry-run entry comes first and would allow all
    events = events_of(
        [rec("RunInstances", NIGHT, role="deploy-web", agent="aws-cli/2.15.30", ip="198.51.100.7")]
    )
    context = RuleContext.build(None, policy=policy, now=datetime(2026, 4, 1, tzinfo=UTC))
    result = evaluate(events, context, rules=AUTOMATION_RULES)
    assert len(result.hits) == 2
    assert result.armed == []


def test_a_dry_run_entry_changes_no_hit_of_any_rule(
    rec: Callable[..., dict[str, Any]],
    events_of: Callable[[Iterable[dict[str, Any]]], pd.DataFrame],
) -> None:
    windows = "version: 1\nwindows:\n  - {name: thursdays, cron: '0 14 * * thu', duration: PT1H}\n"
    entry = PIPELINE.replace("DRY", "true").replace("version: 1\n", "")
    events = events_of(
        [
            rec("RunInstances", NIGHT, role="deploy-web", ip="198.51.100.7"),
            rec("TerminateInstances", NIGHT, role="deploy-web", request=START),
        ]
    )
    now = datetime(2026, 4, 1, tzinfo=UTC)
    without = evaluate(events, RuleContext.build(None, policy=parse_policy(windows), now=now))
    trial = evaluate(events, RuleContext.build(None, policy=parse_policy(windows + entry), now=now))
    assert without.hits  # out of window: there is something the entry could have changed
    assert trial.hits == without.hits
    assert {h.rule_id for h, _ in trial.armed} == {
        "Automation.UnexpectedClient",
        "Automation.UnexpectedNetwork",
    }
