"""Weighing changes against the routine of the identity that made them (ADR 0021).

Shared by the rules that report changes an identity may make routinely: out-of-window
sessions (``ChangeWindow.OutsideApproved``) and the snapshot chain
(``Sequence.SnapshotToNewInstance``, a backup restore test is routine for its job).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from models.scoring._rules._base import Severity
from models.scoring._rules._context import RuleContext
from models.scoring._rules._weigh_keys import UNATTRIBUTED, is_person_key, is_unattributed_key

__all__ = ["change_values", "is_person_key", "weigh_routine"]


def change_values(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Return the routine's columns of each change, by event id, with its UTC hour."""
    hours = pd.to_datetime(frame["event_time"], utc=True).dt.hour.tolist()
    columns = [
        "event_name",
        "resource_type",
        "client_family",
        "network",
        "asn",
        "identity_type",
        "account_id",
    ]
    values = zip(frame["event_id"], hours, *(frame[c].tolist() for c in columns), strict=True)
    return {
        str(event_id): dict(zip(["hour", *columns], rest, strict=True))
        for event_id, *rest in values
    }


def weigh_routine(
    identity: str, changes: list[dict[str, Any]], context: RuleContext
) -> tuple[Severity, str]:
    """Weigh out-of-window changes against the identity's (or its peers') routine.

    Returns the severity (low when every change is routine, else medium) and the reason;
    medium and no reason when no routines were learned (no history, or no policy). People
    are compared by the kinds of resources they change outside windows, automation by its
    calls (:meth:`Routine.novelty`).
    """
    settings = context.settings
    history = context.history
    if is_unattributed_key(identity):
        return Severity.LOW, UNATTRIBUTED
    if not history.learned:
        return Severity.MEDIUM, ""
    routine, whose = history.routine(identity)
    if routine is None:
        return Severity.MEDIUM, "no baseline of this identity or of its peers to weigh it against"
    if routine.changes == 0:
        return Severity.MEDIUM, "this identity never changed compute resources before"
    person = is_person_key(identity)
    new = sorted(
        {
            part
            for change in changes
            for part in routine.novelty(change, settings.routine_hour_slack, by_kind=person)
        }
    )
    since = f" since {routine.since:%Y-%m-%d}" if routine.since else ""
    if routine.outside == 0:
        return (
            Severity.MEDIUM,
            f"{whose or 'this identity'} changed things only inside approved windows "
            f"({routine.changes} changes{since})",
        )
    if routine.is_routine(settings.routine_min_changes, settings.routine_min_days) and not new:
        return (
            Severity.LOW,
            f"routine for {whose or 'this identity'}: {routine.outside} similar changes "
            f"outside windows on {routine.outside_days} days{since}",
        )
    if new:
        return Severity.MEDIUM, f"new for {whose or 'this identity'}: {', '.join(new)}"
    return (
        Severity.MEDIUM,
        f"{whose or 'this identity'} rarely changes things outside windows "
        f"({routine.outside} changes on {routine.outside_days} days{since})",
    )
