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
