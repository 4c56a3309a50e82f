"""A change policy suggested from history: recurring windows, automation entries, accounts.

:func:`suggest_policy` mines canonical events for what an organisation would otherwise
write by hand (``docs/change-windows.md``):

* **windows**: per identity group (a role's name across accounts, a user) and account
  with compute changes on at least ``min_days`` dates, one weekly RRULE: the weekdays
  its changes fall on and the shortest run of hours holding ``band_share`` of them. It
  is suggested only when it covers at least ``min_share`` of the group's changes there
  within at most ``max_hours`` a week: that is what tells a deploy identity from
  automation that changes at any time.
  Each window says its confidence (the share of its occurrences in the history that
  saw a change) and how many changes it covers.
* **automation**: role groups whose calls are regular (active on at least
  ``min_active_share`` of the days), with the clients and networks they called from.
* **organization**: the accounts the events were recorded in.

:func:`suggestion_yaml` writes the suggestion as a policy file ``load_policy`` reads,
each entry under a comment saying what evidence it rests on.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd
import yaml

from features import CLIENT_FAMILIES, ConfigurationError, InputError
from models.scoring._schedule import zone

__all__ = ["SuggestSettings", "Suggestion", "suggest_policy", "suggestion_yaml"]

logger = logging.getLogger(__name__)

_DAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_ROLE: Final = re.compile(r"^arn:aws:(?:iam|sts)::\d{12}:(?:assumed-)?role/(?P<name>[^/]+)")
_PEOPLE: Final = ("AWSReservedSSO_",)
"""Role names whose sessions are people, not deploy or automation identities."""
_NEEDED: Final = ("event_time", "identity_key", "account_id", "is_compute_change")


@dataclass(frozen=True, slots=True)
class SuggestSettings:
    """How strict the miner is (see the module docstring)."""

    timezone: str = "UTC"
    min_days: int = 2
    min_day_share: float = 0.05
    band_share: float = 1.0
    min_share: float = 0.8
    max_hours: int = 24
    min_active_share: float = 0.8
    min_changes: int = 5


@dataclass(frozen=True, slots=True)
class Suggested:
    """One suggested entry: its body (a policy-file object) and the evidence, in words."""

    body: dict[str, Any]
    evidence: str


@dataclass(slots=True)
class Suggestion:
    """The suggested policy: windows, automation entries and the organisation's accounts."""

    windows: list[Suggested] = field(default_factory=list)
    automation: list[Suggested] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    span: tuple[pd.Timestamp, pd.Timestamp] | None = None
    timezone: str = "UTC"


def identity_group(identity: str) -> str | None:
    """Return the pattern of an identity's group: a role across accounts and sessions.

    People's SSO sessions have no group (``None``); other identities are their own.
    """
    match = _ROLE.match(identity)
    if match is None:
        return identity.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
    name = match["name"]
    if name.startswith(_PEOPLE):
        return None
    return f"arn:aws:iam::*:role/{name}*"


def _band(hours: pd.Series, share: float) -> tuple[int, int]:
    """Return (first hour, length) of the shortest run of hours holding ``share`` of ``hours``."""
    counts = hours.value_counts().reindex(range(24), fill_value=0).to_numpy()
    need = share * counts.sum()
    best = (0, 24)
    for first in range(24):
        total = 0
        for length in range(1, 25 - first):
            total += counts[first + length - 1]
            if total >= need:
                if length < best[1]:
                    best = (first, length)
                break
    return best


def _windows_of(
    group: str, account: str, changes: pd.DataFrame, dates: pd.Series, settings: SuggestSettings
) -> list[Suggested]:
    """Return the window of one group in one account, or none when it would not explain it.

    The group must have changed something on ``min_days`` dates; its weekdays are those
    holding ``min_day_share`` of its changes, and the hours the shortest run holding
    ``band_share`` of the changes of those weekdays.
    """
    local = changes["local"]
    slots = pd.DataFrame(
        {"day": local.dt.day_of_week, "hour": local.dt.hour, "date": local.dt.date}
    )
    if slots["date"].nunique() < settings.min_days:
        return []
    share = slots["day"].value_counts(normalize=True)
    days = sorted(int(d) for d in share[share >= settings.min_day_share].index)
    on_days = slots[slots["day"].isin(days)]
    first, length = _band(on_days["hour"], settings.band_share)
    inside = slots["day"].isin(days) & slots["hour"].between(first, first + length - 1)
    covered = int(inside.sum())
    if length * len(days) > settings.max_hours or covered < settings.min_share * len(slots):
        return []
    seen = slots.loc[inside, "date"].nunique()
    possible = int(sum(d.weekday() in days for d in dates))
    confidence = round(seen / possible, 2) if possible else 0.0
    byday = ",".join(_DAYS[d] for d in days)
    name = re.sub(r"[^a-z0-9]+", "-", group.rsplit("/", maxsplit=1)[-1].lower()).strip("-")
    return [
        Suggested(
            {
                "name": f"suggested-{name}-{account}",
                "rrule": f"FREQ=WEEKLY;BYDAY={byday};BYHOUR={first};BYMINUTE=0;BYSECOND=0",
                "duration": f"PT{length}H",
                "timezone": settings.timezone,
                "scope": {"accounts": [account], "identities": [group]},
                "description": f"suggested: covers {covered} changes, confidence {confidence}",
            },
            f"{covered} of the {len(slots)} changes by {group} in {account} fell in it, "
            f"on {seen} of the {possible} days {byday} of the history; confidence {confidence}",
        )
    ]


def _automation_of(group: str, calls: pd.DataFrame, days: int, share: float) -> Suggested | None:
    active = calls["event_time"].dt.date.nunique()
    if not days or active / days < share:
        return None
    clients = sorted({str(c) for c in calls["client_family"].dropna() if c in CLIENT_FAMILIES})
    networks = []
    for network in sorted({str(n) for n in calls["network"].dropna()}):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            continue  # a service principal ('autoscaling.amazonaws.com'), not a network
        networks.append(network)
    name = group.rsplit("/", maxsplit=1)[-1].rstrip("*")
    body: dict[str, Any] = {"name": name, "identities": [group]}
    if clients:
        body["clients"] = clients
    if networks:
        body["networks"] = networks
    evidence = (
        f"{len(calls)} calls on {active} of {days} days, from {len(clients)} client "
        f"families and {len(networks)} networks"
    )
    return Suggested({**body, "description": f"suggested: {evidence}"}, evidence)


def suggest_policy(events: pd.DataFrame, settings: SuggestSettings | None = None) -> Suggestion:
    """Mine canonical events for a change policy (see the module docstring).

    Raises
    ------
    InputError
        When a column the miner needs is missing, or there are no events.
    ConfigurationError
        When the time zone is unknown.
    """
    settings = settings or SuggestSettings()
    try:
        zone(settings.timezone)
    except ValueError as error:
        raise ConfigurationError(f"--timezone: {error}") from None
    missing = [c for c in _NEEDED if c not in events.columns]
    if missing:
        raise InputError(f"history: missing columns {', '.join(missing)}")
    if events.empty:
        raise InputError("history: no events to suggest a policy from")
    frame = events.assign(
        group=events["identity_key"].map(identity_group),
        local=events["event_time"].dt.tz_convert(settings.timezone),
    )
    dates = pd.Series(pd.date_range(frame["local"].min().normalize(), frame["local"].max()).date)
    days = len(dates)
    out = Suggestion(timezone=settings.timezone)
    out.span = (events["event_time"].min(), events["event_time"].max())
    out.accounts = sorted({str(a) for a in frame["account_id"].dropna() if str(a).isdigit()})
    for group, calls in frame.dropna(subset=["group"]).groupby("group", sort=True):
        windows = []
        changed = calls[calls["is_compute_change"]]
        for account, changes in changed.groupby("account_id", sort=True):
            if len(changes) >= settings.min_changes:
                windows += _windows_of(str(group), str(account), changes, dates, settings)
        out.windows += windows
        if not windows and _ROLE.match(str(calls["identity_key"].iloc[0])):
            entry = _automation_of(str(group), calls, days, settings.min_active_share)
            if entry is not None:
                out.automation.append(entry)
    logger.info(
        "suggested %d windows, %d automation entries, %d accounts from %d events",
        len(out.windows),
        len(out.automation),
        len(out.accounts),
        len(events),
    )
    return out


def _block(key: str, entries: list[Suggested]) -> list[str]:
    lines = [f"{key}:"] if entries else [f"{key}: []"]
    for entry in entries:
        lines.append(f"  # evidence: {entry.evidence}")
        dumped = yaml.safe_dump([entry.body], sort_keys=False, width=120).rstrip("\n")
        lines += ["  " + line for line in dumped.splitlines()]
    return lines


def suggestion_yaml(suggestion: Suggestion) -> str:
    """Return the suggestion as a change-policy file, every entry under its evidence."""
    span = suggestion.span
    head = [
        "# Suggested by `changewatch policy suggest` from the history of "
        + (f"{span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}" if span else "no events")
        + ".",
        "# Review every entry before use: each rests on the evidence in its comment.",
        "version: 1",
        f"timezone: {suggestion.timezone}",
        "# evidence: the accounts the history's events were recorded in",
        "organization:",
        "  accounts: " + (yaml.safe_dump(suggestion.accounts, default_flow_style=True).strip()),
    ]
    body = _block("windows", suggestion.windows) + _block("automation", suggestion.automation)
    return "\n".join(head + body) + "\n"
