"""Loading the change policy: one or more YAML files -> calendar, organisation, allow-lists.

Windows, tickets, freezes, automation entries and suppressions may be split over
several files (``change_windows.yaml`` from the change process, ``policy.yaml`` kept
by the SOC); lists are joined in the order the files are given and names must stay
unique across them. Each file's naive times are read in that file's ``timezone``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from features import ConfigurationError
from models.scoring._allowlist import AutomationAllowList, Suppressions
from models.scoring._calendar import ChangeCalendar
from models.scoring._windows_model import PolicyFile
from models.scoring._yaml import load_yaml_model, read_yaml_model

__all__ = ["Organization", "Policy", "load_policy", "parse_policy"]

_MEMBER_KINDS = frozenset({"user", "group", "domain", "serviceaccount", "principal"})
"""Kinds of Google Cloud IAM members a share may name (``kind:value``)."""


@dataclass(frozen=True, slots=True)
class Organization:
    """The accounts and organisation that count as ours when a snapshot or image is shared."""

    accounts: frozenset[str] = frozenset()
    id: str | None = None
    approval: str = "everything"
    tenants: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    def is_foreign(self, target: str) -> bool:
        """Whether a share target lies outside ours.

        ``"all"`` (the public) and ``"link"`` (an Azure download link: whoever holds it)
        are foreign. An organisation or OU ARN is ours only when it names our
        organisation id; ``tenant:<id>`` when the tenant is ours; a Google Cloud member
        (``user:``, ``group:``, ``domain:``, ``serviceAccount:``) when its domain is one of
        ours, or, for a service account, its project is (ADR 0046).
        """
        if target in ("all", "link"):
            return True
        if target.startswith("arn:"):
            return self.id is None or f"/{self.id}" not in target
        if target.startswith("tenant:"):
            return target.removeprefix("tenant:").lower() not in self.tenants
        kind, colon, member = target.partition(":")
        if colon and kind.lower() in _MEMBER_KINDS:
            return not self._is_our_member(kind.lower(), member.lower())
        return target not in self.accounts

    def _is_our_member(self, kind: str, member: str) -> bool:
        domain = member.rsplit("@", 1)[-1]
        if kind == "serviceaccount" and domain.endswith(".iam.gserviceaccount.com"):
            return domain.split(".", 1)[0] in self.accounts
        return domain in self.domains


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything the change-policy files say, ready for the rules."""

    calendar: ChangeCalendar = field(default_factory=ChangeCalendar)
    organization: Organization = field(default_factory=Organization)
    automation: AutomationAllowList = field(default_factory=AutomationAllowList)
    suppressions: Suppressions = field(default_factory=Suppressions)
    files: tuple[PolicyFile, ...] = ()

    @classmethod
    def from_files(cls, files: Iterable[PolicyFile]) -> Policy:
        """Join resolved files into one policy (see the module docstring)."""
        files = tuple(files)
        windows = [w for f in files for w in f.windows]
        tickets = [t for f in files for t in f.tickets]
        freezes = [z for f in files for z in f.freezes]
        automation = [a for f in files for a in f.automation]
        for kind, names in (
            ("window", [w.name for w in windows]),
            ("ticket", [t.id for t in tickets]),
            ("freeze", [z.name for z in freezes]),
            ("automation entry", [a.name for a in automation]),
        ):
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                raise ConfigurationError(f"{kind} {twice[0]!r} is defined in more than one file")
        organizations = [f.organization for f in files if f.organization is not None]
        ids = {o.id for o in organizations if o.id is not None}
        if len(ids) > 1:
            raise ConfigurationError(f"files name different organisations: {sorted(ids)}")
        approvals = {o.approval for o in organizations if o.approval is not None}
        if len(approvals) > 1:
            raise ConfigurationError(f"files set different approval modes: {sorted(approvals)}")
        return cls(
            calendar=ChangeCalendar(windows, tickets, freezes),
            organization=Organization(
                frozenset(a for o in organizations for a in o.accounts),
                next(iter(ids), None),
                next(iter(approvals), "everything"),
                frozenset(t for o in organizations for t in o.tenants),
                frozenset(d for o in organizations for d in o.domains),
            ),
            automation=AutomationAllowList(tuple(automation)),
            suppressions=Suppressions(tuple(s for f in files for s in f.suppressions)),
            files=files,
        )


def _resolve(file: PolicyFile, source: str) -> PolicyFile:
    try:
        return file.resolved()
    except ValueError as error:
        raise ConfigurationError(f"{source}: {error}") from None


def load_policy(*paths: str | Path) -> Policy:
    """Read, validate and join change-policy YAML files.

    Raises
    ------
    ConfigurationError
        Naming the file, the line and the field of every problem.
    """
    return Policy.from_files(_resolve(read_yaml_model(PolicyFile, p), str(p)) for p in paths)


def parse_policy(*texts: str, source: str = "<string>") -> Policy:
    """Validate and join change-policy YAML documents given as text (tests, API requests)."""
    return Policy.from_files(
        _resolve(load_yaml_model(PolicyFile, text, source=source), source) for text in texts
    )
