"""Burst rules: far more changes, or deletions, in a short window than the identity ever made."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from features import peer_groups
from models.scoring._calendar import event_micros
from models.scoring._rules._base import (
    Evidence,
    Severity,
    attempted_changes,
    describe_names,
    evidence_of,
    rule,
)
from models.scoring._rules._context import RuleContext, rolling_counts
from models.scoring._rules._reads import CHANGE, Reads
from models.scoring._rules._summary import BatchSummary

__all__ = ["change_burst", "deletion_burst"]


def _bursts(
    changes: pd.DataFrame,
    context: RuleContext,
    past_max: Mapping[str, int],
    minimum: int,
    noun: str,
) -> Iterator[Evidence]:
    settings = context.settings
    window = settings.burst_window
    minutes = int(window.total_seconds() // 60)
    for identity, group in changes.groupby("identity_key", sort=False):
        if len(group) < minimum:
            continue
        times = event_micros(group)
        order = np.argsort(times, kind="stable")
        counts = rolling_counts(times[order], window)
        peak = int(counts.max())
        before, peers = _past_max(str(identity), past_max, context)
        threshold = max(settings.burst_factor * before, float(minimum))
        if peak < threshold:
            continue
        last = int(np.argmax(counts))
        rows = order[last - peak + 1 : last + 1]
        run = group.iloc[rows]
        usual = context.history.usual_changes.get(str(identity))
        if before and peers:
            baseline = (
                f"{peak / before:.1f}x the largest {minutes}-min count of its peers ({peers}: "
                f"{before}); it has no history of its own"
            )
        elif before:
            baseline = f"{peak / before:.1f}x its largest {minutes}-min count before ({before}"
            baseline += f"; usually {usual:g} per active window)" if usual is not None else ")"
        else:
            baseline = "it never made any before"
        yield evidence_of(
            run,
            str(identity),
            f"{peak} {noun} within {minutes} min ({describe_names(run)}), {baseline}",
            limit=settings.max_evidence,
        )


def _past_max(
    identity: str, past_max: Mapping[str, int], context: RuleContext
) -> tuple[int, str | None]:
    """Return the identity's most changes in one window before (its peers' if unknown).

    Bursts are judged against the actor's past (ADR 0021): a new controller of a known
    kind, or a new pipeline role, scales like the same role elsewhere or its account's.
    """
    history = context.history
    if identity in past_max or history.knows(identity):
        return past_max.get(identity, 0), None
    for group in peer_groups(identity):
        found = [
            most
            for other, most in past_max.items()
            if other != identity and group in history.peers.get(other, ())
        ]
        if found:
            return max(found), group
    return 0, None


def _peaks(
    times: Mapping[str, tuple[int, ...]],
    context: RuleContext,
    past_max: Mapping[str, int],
    minimum: int,
) -> bool:
    """Tell whether an identity's most changes in one window reach what :func:`_bursts` fires on."""
    settings = context.settings
    for identity, moments in times.items():
        if len(moments) < minimum:
            continue
        peak = int(rolling_counts(np.asarray(moments, dtype=np.int64), settings.burst_window).max())
        if peak >= max(settings.burst_factor * past_max.get(identity, 0), float(minimum)):
            return True
    return False


def _enough_changes(summary: BatchSummary, context: RuleContext) -> bool:
    settings, history = context.settings, context.history
    return _peaks(summary.change_times, context, history.max_changes, settings.burst_min_changes)


def _enough_deletions(summary: BatchSummary, context: RuleContext) -> bool:
    settings, history = context.settings, context.history
    return _peaks(
        summary.deletion_times, context, history.max_deletions, settings.burst_min_deletions
    )


@rule(
    id="Burst.Changes",
    title="Burst of compute changes far above the identity's history",
    severity=Severity.MEDIUM,
    technique="T1578",
    runbook=(
        "Check whether a deployment or scaling event explains the burst; if not, review "
        "what was created and by which session."
    ),
    applies=_enough_changes,
    reads=Reads(CHANGE),
)
def change_burst(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire when one identity's compute changes in a sliding window exceed its past maximum."""
    yield from _bursts(
        attempted_changes(events),
        context,
        context.history.max_changes,
        context.settings.burst_min_changes,
        "compute changes",
    )


@rule(
    id="Burst.Deletions",
    title="Burst of deletions far above the identity's history",
    severity=Severity.HIGH,
    technique="T1485",
    runbook=(
        "Stop the identity's session and check backups and snapshots of the deleted "
        "resources at once."
    ),
    applies=_enough_deletions,
    reads=Reads(CHANGE),
    kept_when_approved=True,
)
def deletion_burst(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire when one identity's deletions in a sliding window exceed its past maximum."""
    changes = attempted_changes(events)
    yield from _bursts(
        changes[changes["action"] == "delete"],
        context,
        context.history.max_deletions,
        context.settings.burst_min_deletions,
        "deletions",
    )
