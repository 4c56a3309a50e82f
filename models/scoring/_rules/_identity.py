"""Identity rules: dormant identities waking up to change things, automation off its usual path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from models.scoring._allowlist import client_allowed, network_allowed
from models.scoring._calendar import micros
from models.scoring._rules._base import (
    Evidence,
    Severity,
    attempted_changes,
    describe_names,
    evidence_of,
    rule,
)
from models.scoring._rules._context import RuleContext
from models.scoring._rules._reads import CHANGE, Reads
from models.scoring._rules._summary import BatchSummary
from models.scoring._windows_model import AutomationSpec

__all__ = [
    "automation_unexpected_client",
    "automation_unexpected_network",
    "dormant_change",
    "unexpected_client",
    "unexpected_network",
]


def _idle_identity_changes(summary: BatchSummary, context: RuleContext) -> bool:
    """Tell whether an identity making changes was idle for ``dormant_days`` before the batch."""
    last_seen = context.history.last_seen
    if not last_seen:
        return False
    threshold = timedelta(days=context.settings.dormant_days) // timedelta(microseconds=1)
    for identity in summary.change_times:
        last = last_seen.get(identity)
        if last is not None and summary.first_seen[identity] - micros(last) >= threshold:
            return True
    return False


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
    applies=_idle_identity_changes,
    reads=Reads(CHANGE, first_event=True),
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


def unexpected_client(
    entry: AutomationSpec, family: Any, version: Any, known: frozenset[str] | None
) -> bool:
    """Whether a call from this client is one ``Automation.UnexpectedClient`` reports.

    Against the entry's ``clients`` when it lists any, else against ``known`` (the
    families the identity used before; ``None`` when it has no history: not judged).
    """
    if entry.clients:
        return not client_allowed(entry, str(family), version if isinstance(version, str) else None)
    return known is not None and str(family) not in known


def unexpected_network(
    entry: AutomationSpec,
    source_ip: Any,
    network: Any,
    known: frozenset[str] | None,
    asn: Any = None,
    known_asns: frozenset[int] = frozenset(),
) -> bool:
    """Whether a call from this address is one ``Automation.UnexpectedNetwork`` reports.

    Against the entry's ``networks`` when it lists any (an address that cannot be told
    is not judged), else against ``known`` (the networks the identity used before): a
    network of an autonomous system the identity called from before is not unexpected
    (hosted CI runners and NAT pools draw a new address from their provider's ranges).
    """
    if entry.networks:
        address = source_ip if isinstance(source_ip, str) else None
        return network_allowed(entry, address) is False
    if known is None or not isinstance(network, str) or network in known:
        return False
    return not (_number(asn) is not None and _number(asn) in known_asns)


def _number(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and value != value):  # noqa: PLR0124 - NaN
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _automation_events(
    events: pd.DataFrame, context: RuleContext
) -> Iterator[tuple[AutomationSpec, str, pd.DataFrame]]:
    allow = context.policy_or_empty().automation
    if not allow.entries or not len(events):
        return
    own = events[~events["by_service"].astype(bool)]
    index = allow.entry_index(own)
    for position in np.unique(index[index >= 0]).tolist():  # entries in order, those with rows
        mine = own[index == position]
        for identity, group in mine.groupby("identity_key", sort=False):
            yield allow.entries[position], str(identity), group


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
    reads=Reads(0, automation=True),
    kept_when_approved=True,
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
            source = f"the clients allow-listed for {entry.name} ({', '.join(entry.clients)})"
        else:
            used = ", ".join(sorted(known or ()))
            source = f"the clients it used since {history.start:%Y-%m-%d} ({used})"
        odd = group[
            [unexpected_client(entry, f, v, known) for f, v in pairs.itertuples(index=False)]
        ]
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
    reads=Reads(0, automation=True),
    kept_when_approved=True,
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
        asns = history.asns.get(identity, frozenset())
        calls = group[["source_ip", "network", "asn"]].astype(object)
        odd = group[
            [
                unexpected_network(entry, ip, net, known, asn, asns)
                for ip, net, asn in calls.itertuples(index=False)
            ]
        ]
        if entry.networks:
            source = f"the networks allow-listed for {entry.name} ({', '.join(entry.networks)})"
        else:
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
