"""Identity rules: dormant identities waking up to change things, automation off its usual path."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from serving._allowlist import client_allowed, network_allowed
from serving._rules._base import (
    Evidence,
    Severity,
    attempted_changes,
    describe_names,
    evidence_of,
    rule,
)
from serving._rules._context import RuleContext
from serving._rules._summary import BatchSummary
from serving._windows_model import AutomationSpec

__all__ = ["automation_unexpected_client", "automation_unexpected_network", "dormant_change"]


def _known_identity_changes(summary: BatchSummary, context: RuleContext) -> bool:
    return bool(context.history.last_seen) and summary.changes > 0


def _automation_listed(summary: BatchSummary, context: RuleContext) -> bool:
    return bool(context.policy_or_empty().automation.entries) and summary.rows > 0


@rule(
    id="Identity.DormantChange",
    title="Dormant identity makes compute changes",
    severity=Severity.MEDIUM,
    technique="T1078.004",
    runbook=(
        "Confirm with the identity's owner that the account is still in use; if not, "
        "disable its keys and review the changes."
    ),
    applies=_known_identity_changes,
)
def dormant_change(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire when an identity idle for ``dormant_days`` or more makes compute changes.

    Identities the history has never seen are not dormant (the model judges new ones).
    """
    history = context.history
    if not history.last_seen:
        return
    threshold = pd.Timedelta(days=context.settings.dormant_days)
    changes = attempted_changes(events)
    first_seen = events.groupby("identity_key", sort=False)["event_time"].min()
    for identity, run in changes.groupby("identity_key", sort=False):
        last = history.last_seen.get(str(identity))
        if last is None:
            continue
        idle = pd.Timestamp(first_seen[identity]) - pd.Timestamp(last)
        if idle < threshold:
            continue
        yield evidence_of(
            run,
            str(identity),
            f"identity idle for {idle.days} days (last seen {last:%Y-%m-%d}) made "
            f"{len(run)} compute change{'s' if len(run) > 1 else ''} ({describe_names(run)})",
            limit=context.settings.max_evidence,
        )


def _automation_events(
    events: pd.DataFrame, context: RuleContext
) -> Iterator[tuple[AutomationSpec, str, pd.DataFrame]]:
    allow = context.policy_or_empty().automation
    if not allow.entries or not len(events):
        return
    own = events[~events["by_service"].astype(bool)]
    index = allow.entry_index(own)
    for position, entry in enumerate(allow.entries):
        mine = own[index == position]
        for identity, group in mine.groupby("identity_key", sort=False):
            yield entry, str(identity), group


@rule(
    id="Automation.UnexpectedClient",
    title="Known automation identity calls from a client family it never used",
    severity=Severity.HIGH,
    technique="T1078.004",
    runbook=(
        "Check whether the automation's credentials were used outside its pipeline; "
        "rotate them if the client is not a known tool change."
    ),
    applies=_automation_listed,
)
def automation_unexpected_client(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire when allow-listed automation calls from a client outside its expected ones.

    Expected clients are the allow-list entry's ``clients`` when it lists any, else the
    client families the identity used in the history (unknown identities are skipped).
    """
    history = context.history
    for entry, identity, group in _automation_events(events, context):
        known = history.clients.get(identity)
        if not entry.clients and known is None:
            continue
        pairs = group[["client_family", "client_version"]].astype(object)
        if entry.clients:
            ok = [
                client_allowed(entry, str(f), v if isinstance(v, str) else None)
                for f, v in pairs.itertuples(index=False)
            ]
            source = f"the clients allow-listed for {entry.name} ({', '.join(entry.clients)})"
        else:
            ok = [str(f) in (known or ()) for f, _ in pairs.itertuples(index=False)]
            used = ", ".join(sorted(known or ()))
            source = f"the clients it used since {history.start:%Y-%m-%d} ({used})"
        odd = group[[not flag for flag in ok]]
        for family, run in odd.groupby("client_family", sort=False):
            agent = str(run["user_agent"].iloc[0])[:80]
            yield evidence_of(
                run,
                identity,
                f"automation identity called {len(run)} time{'s' if len(run) > 1 else ''} "
                f"({describe_names(run)}) from client {family} ({agent!r}), not among {source}",
                limit=context.settings.max_evidence,
            )


@rule(
    id="Automation.UnexpectedNetwork",
    title="Known automation identity calls from a network it never used",
    severity=Severity.HIGH,
    technique="T1078.004",
    runbook=(
        "Check whether the automation's credentials left their runner (stolen instance or "
        "CI credentials); rotate them and block the source."
    ),
    applies=_automation_listed,
)
def automation_unexpected_network(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire when allow-listed automation calls from outside its expected networks.

    Expected networks are the entry's CIDRs when it lists any, else the networks the
    identity called from in the history. Addresses that do not parse and AWS service
    names are not judged.
    """
    history = context.history
    for entry, identity, group in _automation_events(events, context):
        known = history.networks.get(identity)
        if not entry.networks and known is None:
            continue
        if entry.networks:
            verdict = [
                network_allowed(entry, ip if isinstance(ip, str) else None)
                for ip in group["source_ip"]
            ]
            odd = group[[flag is False for flag in verdict]]
            source = f"the networks allow-listed for {entry.name} ({', '.join(entry.networks)})"
        else:
            odd = group[group["network"].notna() & ~group["network"].isin(known or ())]
            count = len(known or ())
            source = (
                f"the {count} network{'s' if count != 1 else ''} it used "
                f"since {history.start:%Y-%m-%d}"
            )
        for address, run in odd.groupby("source_ip", sort=False):
            yield evidence_of(
                run,
                identity,
                f"automation identity called {len(run)} time{'s' if len(run) > 1 else ''} "
                f"({describe_names(run)}) from {address}, outside {source}",
                limit=context.settings.max_evidence,
            )
