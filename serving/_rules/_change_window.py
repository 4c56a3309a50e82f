"""Change-window rules: compute changes no window or ticket approves, and changes in a freeze."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from serving._calendar import FORBIDDEN, UNAPPROVED
from serving._rules._base import (
    Evidence,
    Severity,
    attempted_changes,
    describe_names,
    failed_note,
    rule,
    session_table,
    to_datetime,
)
from serving._rules._context import RuleContext

__all__ = ["inside_freeze", "outside_approved"]


def _judged(events: pd.DataFrame, context: RuleContext) -> pd.DataFrame | None:
    if context.policy is None:
        return None
    changes = attempted_changes(events)
    if not len(changes):
        return None
    verdicts = context.policy.calendar.verdicts(changes)
    return changes.join(verdicts)


def _sessions(
    frame: pd.DataFrame, keys: list[str], context: RuleContext
) -> Iterator[tuple[dict[str, Any], list[str]]]:
    table = session_table(frame, keys, context.settings.session_gap)
    for row in table.to_dict("records"):
        yield (
            {str(k): v for k, v in row.items()},
            list(row["event_ids"])[: context.settings.max_evidence],
        )


@rule(
    id="ChangeWindow.OutsideApproved",
    title="Compute change outside every approved window and ticket",
    severity=Severity.MEDIUM,
    technique="T1578",
    runbook=(
        "Ask the identity's owner for the change ticket; if none exists, treat the change "
        "as unauthorised."
    ),
)
def outside_approved(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on attempted compute changes that no window or ticket approves and no freeze covers."""
    judged = _judged(events, context)
    if judged is None:
        return
    unapproved = judged[judged["verdict"] == UNAPPROVED]
    for row, ids in _sessions(unapproved, ["identity_key", "account_id"], context):
        count = len(row["event_ids"])
        yield Evidence(
            tuple(ids),
            str(row["identity_key"]),
            to_datetime(row["start"]),
            to_datetime(row["end"]),
            f"{count} compute change{'s' if count > 1 else ''} "
            f"({describe_names(row['event_names'])}) in account {row['account_id']} outside "
            f"every approved window and ticket{failed_note(row['error_codes'])}",
        )


@rule(
    id="ChangeWindow.InsideFreeze",
    title="Compute change during a change freeze",
    severity=Severity.HIGH,
    technique="T1578",
    runbook=(
        "Confirm with the freeze owner whether an emergency exception was granted; if "
        "not, escalate and review the change."
    ),
)
def inside_freeze(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on attempted compute changes inside a freeze, whatever windows or tickets say."""
    judged = _judged(events, context)
    if judged is None or context.policy is None:
        return
    frozen = judged[judged["verdict"] == FORBIDDEN]
    reasons = {f.name: f.reason for f in context.policy.calendar.freezes}
    for row, ids in _sessions(frozen, ["identity_key", "by"], context):
        count = len(row["event_ids"])
        freeze = str(row["by"])
        why = f" ({reasons[freeze]})" if reasons.get(freeze) else ""
        yield Evidence(
            tuple(ids),
            str(row["identity_key"]),
            to_datetime(row["start"]),
            to_datetime(row["end"]),
            f"{count} compute change{'s' if count > 1 else ''} "
            f"({describe_names(row['event_names'])}) during freeze {freeze}{why}"
            f"{failed_note(row['error_codes'])}",
        )
