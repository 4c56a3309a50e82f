"""Change-window rules: compute changes no window or ticket approves, and changes in a freeze."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.scoring._calendar import FORBIDDEN, JUDGED_COLUMNS, UNAPPROVED, micros
from models.scoring._rules._base import (
    Evidence,
    Severity,
    attempted_mask,
    describe_names,
    failed_note,
    rule,
    session_records,
    to_datetime,
)
from models.scoring._rules._context import RuleContext
from models.scoring._rules._reads import CHANGE, Reads
from models.scoring._rules._summary import BatchSummary
from models.scoring._rules._weigh import change_values, weigh_routine

__all__ = ["inside_freeze", "outside_approved", "unapproved"]


_JUDGED: Final = [
    *JUDGED_COLUMNS,  # what the calendar's verdict reads ...
    # ... what the sessions name ...
    "event_id",
    "error_code",
    # ... and what a routine is judged on
    "identity_type",
    "resource_type",
    "client_family",
    "network",
    "asn",
]
"""Columns the change-window rules read (only these are copied out of the batch)."""


def _judged(
    events: pd.DataFrame, context: RuleContext
) -> tuple[pd.DataFrame, npt.NDArray[Any], npt.NDArray[Any]] | None:
    """Return the attempted compute changes, with the calendar's verdict and ``by`` for each."""
    if context.policy is None:
        return None
    mask = attempted_mask(events)
    if not mask.any():
        return None
    changes = events.loc[mask, _JUDGED]
    calendar = context.policy.calendar
    if not (calendar.windows or calendar.tickets or calendar.freezes):
        # nothing can approve or forbid: every change is unapproved, by nothing
        return (
            changes,
            np.full(len(changes), UNAPPROVED, dtype=object),
            np.full(len(changes), None, dtype=object),
        )
    verdict, _, by = calendar.verdict_columns(changes)  # arrays: no frame to build
    return changes, verdict, by


def unapproved(rows: pd.DataFrame, context: RuleContext) -> npt.NDArray[np.bool_]:
    """Tell, for each attempted compute change, whether no window or ticket approves it.

    Changes inside a freeze are not approved either. Without a policy, or with one that
    has no window, ticket or freeze, no change is approved.
    """
    keep = np.ones(len(rows), dtype=bool)
    if context.policy is None or not len(rows):
        return keep
    calendar = context.policy.calendar
    if not (calendar.windows or calendar.tickets or calendar.freezes):
        return keep
    verdicts = calendar.verdict_columns(rows[_JUDGED])[0]
    found: npt.NDArray[np.bool_] = (verdicts == UNAPPROVED) | (verdicts == FORBIDDEN)
    return found


def _rows(frame: pd.DataFrame, keep: npt.NDArray[np.bool_]) -> pd.DataFrame:
    return frame if keep.all() else frame[keep]


def _sessions(
    frame: pd.DataFrame, keys: list[str], context: RuleContext
) -> Iterator[tuple[dict[str, Any], list[str]]]:
    for row in session_records(frame, keys, context.settings.session_gap):
        yield (
            {str(k): v for k, v in row.items()},
            list(row["event_ids"])[: context.settings.max_evidence],
        )


def _any_change(summary: BatchSummary, context: RuleContext) -> bool:
    return context.policy is not None and summary.changes > 0


def _change_in_a_freeze(summary: BatchSummary, context: RuleContext) -> bool:
    """Only a freeze gives the ``forbidden`` verdict, and only to a change made during it."""
    if not _any_change(summary, context):
        return False
    times = sorted(t for moments in summary.change_times.values() for t in moments)
    for freeze in context.policy_or_empty().calendar.freezes:
        first = bisect_left(times, micros(freeze.start))
        if first < len(times) and times[first] < micros(freeze.end):
            return True
    return False


@rule(
    id="ChangeWindow.OutsideApproved",
    title="Compute change outside every approved window and ticket",
    severity=Severity.MEDIUM,
    technique="T1578",
    runbook=(
        "Ask the identity's owner for the change ticket; if none exists, treat the change "
        "as unauthorised."
    ),
    applies=_any_change,
    reads=Reads(CHANGE, verdicts=frozenset({UNAPPROVED}), routines=True),
)
def outside_approved(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on attempted compute changes that no window or ticket approves and no freeze covers.

    Each session is weighed against the identity's routine (ADR 0021): changes of a kind,
    client, network and hour the identity routinely made outside windows are context
    (low); an identity that only ever changed things inside windows, or a change new for it,
    stays medium. With ``approval: scoped``, identities no window or ticket names are left
    to the model and the other rules.
    """
    judged = _judged(events, context)
    if judged is None or context.policy is None:
        return
    changes, verdict, _ = judged
    unapproved = _rows(changes, verdict == UNAPPROVED)
    if context.policy.organization.approval == "scoped":
        calendar = context.policy.calendar
        pairs = list(zip(unapproved["identity_key"], unapproved["principal_arn"], strict=True))
        governed = {pair: calendar.governs(*pair) for pair in set(pairs)}
        unapproved = _rows(unapproved, np.asarray([governed[p] for p in pairs], dtype=bool))
    rows = change_values(unapproved)
    for row, ids in _sessions(unapproved, ["identity_key", "account_id"], context):
        count = len(row["event_ids"])
        severity, weighed = weigh_routine(
            str(row["identity_key"]), [rows[i] for i in row["event_ids"]], context
        )
        yield Evidence(
            tuple(ids),
            str(row["identity_key"]),
            to_datetime(row["start"]),
            to_datetime(row["end"]),
            f"{count} compute change{'s' if count > 1 else ''} "
            f"({describe_names(row['event_names'])}) in account {row['account_id']} outside "
            f"every approved window and ticket{failed_note(row['error_codes'])}"
            + (f"; {weighed}" if weighed else ""),
            severity,
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
    applies=_change_in_a_freeze,
    reads=Reads(CHANGE, verdicts=frozenset({FORBIDDEN})),
)
def inside_freeze(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on attempted compute changes inside a freeze, whatever windows or tickets say."""
    judged = _judged(events, context)
    if judged is None or context.policy is None:
        return
    changes, verdict, by = judged
    forbidden = verdict == FORBIDDEN
    frozen = _rows(changes, forbidden).assign(by=by[forbidden])
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
