"""Sharing rules: a snapshot or image granted to the public or to an account outside ours.

Snapshots are EBS snapshots, AMIs and RDS or Aurora snapshots (``features.SHARED_TYPES``):
a database snapshot shared with ``restore`` is copied out just the same. Removing
accounts from a snapshot's permissions (recovery copies cut off) is reported too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from features import ACCESS_REMOVED, SHARE_GRANT
from models.scoring._rules._base import (
    Evidence,
    Severity,
    describe_names,
    ids_named,
    listed,
    rule,
    to_datetime,
)
from models.scoring._rules._context import RuleContext
from models.scoring._rules._novelty import graded_sessions
from models.scoring._rules._reads import SHARE, Reads
from models.scoring._rules._summary import BatchSummary, holds

__all__ = ["access_removed", "shared_publicly", "shared_with_foreign_account"]


def _shares(events: pd.DataFrame) -> pd.DataFrame:
    return events[SHARE_GRANT.mask(events)]


def _any_share(summary: BatchSummary, context: RuleContext) -> bool:
    return summary.shares > 0


_KINDS = {"db_snapshot": "database snapshot", "volume": "disk"}


def _subject(row: pd.Series) -> str:
    ids = [str(i) for i in row["resource_ids"]]
    kind = _KINDS.get(str(row["resource_type"]), str(row["resource_type"]))
    name = next((i for i in ids if i.startswith(("snap-", "ami-"))), ids[0] if ids else "?")
    if name.startswith(("/subscriptions/", "projects/")):
        name = name.rsplit("/", 1)[-1]
    return f"{kind} {name}"


def _failed(row: pd.Series) -> str:
    error = row["error_code"]
    return f" (attempt failed: {error})" if isinstance(error, str) and error else ""


def _target(target: str) -> str:
    """``account 0987...``, ``organisation o-abc``, ``a download link``, ``user:x@y`` ..."""
    if target == "link":
        return "a download link (SAS URL) that works for whoever holds it"
    if target.startswith("tenant:"):
        return f"tenant {target.removeprefix('tenant:')}"
    if ":" in target and not target.startswith("arn:"):
        return target
    if not target.startswith("arn:"):
        return f"account {target}"
    last = target.rsplit("/", 1)[-1]
    return f"organisational unit {last}" if ":ou/" in target else f"organisation {last}"


@rule(
    id="Sharing.Public",
    title="Snapshot or image made public",
    severity=Severity.CRITICAL,
    technique="T1537",
    runbook=(
        "Remove the public permission at once "
        "(ModifySnapshotAttribute/ModifyImageAttribute remove group all), then find who "
        "and why."
    ),
    applies=_any_share,
    reads=Reads(SHARE),
    kept_when_approved=True,
)
def shared_publicly(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire when a snapshot or image permission is granted to ``all``."""
    for _, row in _shares(events).iterrows():
        if "all" not in list(row["share_targets"]):
            continue
        when = to_datetime(row["event_time"])
        yield Evidence(
            (str(row["event_id"]),),
            str(row["identity_key"]),
            when,
            when,
            f"{_subject(row)} in account {row['account_id']} shared with everyone "
            f"(group all){_failed(row)}",
        )


@rule(
    id="Sharing.ForeignAccount",
    title="Snapshot, image or disk shared outside the organisation",
    severity=Severity.HIGH,
    technique="T1537",
    runbook=(
        "Check the target account against the organisation's account list; if unknown, "
        "remove the permission and review the identity's session."
    ),
    applies=_any_share,
    reads=Reads(SHARE),
    kept_when_approved=True,
)
def shared_with_foreign_account(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire when a snapshot, image or disk is granted outside the organisation.

    An account, organisation or OU not ours; in Azure a download link or another tenant,
    in Google Cloud a member of a domain (or a service account of a project) not ours.
    """
    organization = context.policy_or_empty().organization
    for _, row in _shares(events).iterrows():
        foreign = [
            str(t) for t in row["share_targets"] if t != "all" and organization.is_foreign(str(t))
        ]
        if not foreign:
            continue
        whom = ", ".join(_target(target) for target in foreign)
        which = "which is" if len(foreign) == 1 else "which are"
        when = to_datetime(row["event_time"])
        yield Evidence(
            (str(row["event_id"]),),
            str(row["identity_key"]),
            when,
            when,
            f"{_subject(row)} shared with {whom}, {which} not in the organisation{_failed(row)}",
        )


def _removed(run: pd.DataFrame) -> str:
    named = ids_named(run, "snap-") + ids_named(run, "ami-")
    which = listed(named) if named else "a snapshot or image"
    return f"accounts removed from the permissions of {which} ({describe_names(run)})"


@rule(
    id="Sharing.AccessRemoved",
    title="Accounts removed from a snapshot's or image's permissions",
    severity=Severity.MEDIUM,
    technique="T1490",
    runbook=(
        "Check which accounts lost access (a backup or recovery account?) and restore the "
        "permission if the removal was not planned; look for deletions that follow."
    ),
    applies=holds(ACCESS_REMOVED),
    reads=Reads(ACCESS_REMOVED.bit),
)
def access_removed(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on permission removals: medium, high if new for the identity, low if routine."""
    yield from graded_sessions(
        events,
        context,
        ACCESS_REMOVED,
        base=Severity.MEDIUM,
        routine=Severity.LOW,
        doing="removed snapshot or image permissions",
        describe=_removed,
    )
