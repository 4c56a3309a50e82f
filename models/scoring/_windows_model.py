"""The change-policy YAML file as pydantic models: windows, tickets, freezes, allow-lists.

``docs/change-windows.md`` documents the format. Every model forbids unknown keys, so a
typo (``scoep:``) is an error naming its line rather than a silently empty scope.
Times without an offset are wall times in the file's ``timezone``; they are made
aware when the file is resolved (:meth:`PolicyFile.resolved`).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Final, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from features import CLIENT_FAMILIES
from models.scoring._schedule import cron_to_rule, parse_duration, parse_rrule, zone

__all__ = [
    "AutomationSpec",
    "FreezeSpec",
    "OrganizationSpec",
    "PolicyFile",
    "Scope",
    "SuppressionSpec",
    "TicketSpec",
    "WindowSpec",
]

_ACCOUNT: Final = re.compile(r"^(\d{12}|[0-9*?\[\]!-]*[*?\[][0-9*?\[\]!-]*)$")
_SUBSCRIPTION: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
"""An Azure subscription or tenant id (a GUID, lower case)."""
_PROJECT: Final = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
"""A Google Cloud project id."""
_DOMAIN: Final = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")


def _is_account(value: str, *, patterns: bool) -> bool:
    """Return whether a value is an AWS account, Azure subscription or Google Cloud project."""
    if _SUBSCRIPTION.match(value) or (_PROJECT.match(value) and not value.isdigit()):
        return True
    return bool(_ACCOUNT.match(value) if patterns else re.fullmatch(r"\d{12}", value))


_ORG_ID: Final = re.compile(r"^o-[a-z0-9]{10,32}$")
_CLIENT: Final = re.compile(r"^(?P<family>[a-z0-9-]+)(?:/(?P<version>\S+))?$")


def _as_list(value: object) -> object:
    """Accept one string where a list of strings is expected (``accounts: "111..."``)."""
    if isinstance(value, str):
        return [value]
    return value


Patterns = Annotated[tuple[str, ...], BeforeValidator(_as_list)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Scope(_Model):
    """What a window, ticket, freeze or suppression covers; an empty scope covers everything.

    Every key is a list of ``fnmatch`` patterns; an event is in scope when, for every
    key that is given, one of its patterns matches. ``identities`` match the identity
    key or the principal ARN, ``resources`` any of the event's resource ids (Azure ARM
    ids, Azure subscriptions and locations compared in lower case, as they are kept), and
    ``actions`` the taxonomy action (``create``, ``delete`` ...) or, for entries that
    are not actions, the CloudTrail event name (``RunInstances``, ``Modify*``).
    """

    accounts: Patterns = ()
    regions: Patterns = ()
    identities: Patterns = ()
    resources: Patterns = ()
    actions: Patterns = ()

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # subscriptions are kept in lower case, whatever case the portal shows them in
        value = tuple(a.lower() if _SUBSCRIPTION.match(a.lower()) else a for a in value)
        for account in value:
            if not _is_account(account, patterns=True):
                raise ValueError(
                    "expected a 12-digit account id, an Azure subscription id, a Google Cloud "
                    f"project id or a pattern such as '1111*', got {account!r}"
                )
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Azure locations are kept in lower case (``westeurope``), as AWS and Google regions are
        return tuple(region.lower() for region in value)

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # ARM ids are kept in lower case (ADR 0044): a pattern written as the portal shows it
        # (``/subscriptions/.../resourceGroups/Prod/...``) must match them
        return tuple(p.lower() if p.lower().startswith("/subscriptions/") else p for p in value)

    @field_validator("accounts", "regions", "identities", "resources", "actions")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not pattern for pattern in value):
            raise ValueError("patterns must not be empty strings")
        return value

    @property
    def is_everything(self) -> bool:
        """Whether the scope covers every event."""
        return not (
            self.accounts or self.regions or self.identities or self.resources or self.actions
        )


def _when(value: object) -> object:
    """Accept a date (``2026-12-20``) as midnight of that day."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return datetime.combine(date.fromisoformat(value.strip()), time())
    return value


When = Annotated[datetime, BeforeValidator(_when)]


def _number(value: object) -> object:
    """Read ``"1"`` (every scalar is a string to the loader) as the number 1."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


class WindowSpec(_Model):
    """A recurring approved window: an RRULE or a cron line, a duration, a zone, a scope."""

    name: str = Field(min_length=1)
    rrule: str | None = None
    cron: str | None = None
    duration: str
    timezone: str | None = None
    start: When | None = None
    scope: Scope = Scope()
    description: str | None = None

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rrule(value)
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            cron_to_rule(value)
        return value

    @field_validator("start")
    @classmethod
    def _start(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError(
                "give the first occurrence as a wall time without offset, in the window's timezone"
            )
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> Self:
        if (self.rrule is None) == (self.cron is None):
            raise ValueError("give exactly one of 'rrule' and 'cron'")
        return self


class _Period(_Model):
    start: When
    end: When
    scope: Scope = Scope()

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        # A naive and an aware time are compared once the file's zone is known (resolved()).
        same_kind = (self.start.tzinfo is None) == (self.end.tzinfo is None)
        if same_kind and self.end <= self.start:
            raise ValueError(
                f"'end' ({self.end.isoformat()}) must come after 'start' ({self.start.isoformat()})"
            )
        return self


class TicketSpec(_Period):
    """A one-off approved change (a change ticket)."""

    id: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    reason: str | None = None


class FreezeSpec(_Period):
    """A period in which no change in scope is approved, whatever windows or tickets say."""

    name: str = Field(min_length=1)
    reason: str | None = None


class OrganizationSpec(_Model):
    """The organisation: its accounts and id (for sharing) and what its change process governs.

    ``accounts`` are AWS account ids, Azure subscription ids and Google Cloud project ids;
    ``tenants`` the Entra ID tenants and ``domains`` the Google (Workspace / Cloud Identity)
    domains whose members a share may name without leaving the organisation (ADR 0046).

    ``approval`` says whose changes need an approved window or ticket (ADR 0021):
    ``everything`` (every change, the default), or ``scoped`` (only identities some
    window or ticket names; changes of identities no window or ticket ever covers are
    judged by the model and the other rules, not by ``ChangeWindow.OutsideApproved``).
    """

    id: str | None = None
    accounts: Patterns = ()
    tenants: Patterns = ()
    domains: Patterns = ()
    approval: Literal["everything", "scoped"] | None = None

    @field_validator("id")
    @classmethod
    def _org_id(cls, value: str | None) -> str | None:
        if value is not None and not _ORG_ID.match(value):
            raise ValueError(f"expected an organisation id such as 'o-a1b2c3d4e5', got {value!r}")
        return value

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # subscriptions are kept in lower case, whatever case the portal shows them in
        value = tuple(a.lower() if _SUBSCRIPTION.match(a.lower()) else a for a in value)
        for account in value:
            if not _is_account(account, patterns=False):
                raise ValueError(
                    "expected a 12-digit account id, an Azure subscription id or a Google Cloud "
                    f"project id, got {account!r}"
                )
        return value

    @field_validator("tenants")
    @classmethod
    def _tenants(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tenant in value:
            if not _SUBSCRIPTION.match(tenant.lower()):
                raise ValueError(f"expected an Entra ID tenant id (a GUID), got {tenant!r}")
        return tuple(t.lower() for t in value)

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for domain in value:
            if not _DOMAIN.match(domain.lower()):
                raise ValueError(f"expected a domain such as 'example.com', got {domain!r}")
        return tuple(d.lower() for d in value)


class AutomationSpec(_Model):
    """A known automation identity with the clients and networks it is expected to use.

    With ``dry_run`` it changes no hit: the ``Automation.*`` hits it would have raised
    are only counted (``Evaluation.armed``) until it is switched on. An identity that a
    switched-on entry covers is judged by that entry, never by a dry-run one.
    """

    name: str = Field(min_length=1)
    identities: Patterns = Field(min_length=1)
    clients: Patterns = ()
    networks: Patterns = ()
    owner: str | None = None
    description: str | None = None
    dry_run: bool = False

    @field_validator("clients")
    @classmethod
    def _clients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for client in value:
            match = _CLIENT.match(client)
            if match is None or match["family"] not in CLIENT_FAMILIES:
                raise ValueError(
                    f"expected a client family ({', '.join(CLIENT_FAMILIES)}) optionally "
                    f"followed by '/version-pattern', got {client!r}"
                )
        return value

    @field_validator("networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"expected a CIDR such as '10.0.0.0/8', got {network!r}") from None
        return value


class SuppressionSpec(_Model):
    """A time-limited suppression of a rule's hits in a scope.

    With ``dry_run`` it silences nothing: the hits it would have dropped are only
    counted (``Evaluation.rehearsed``) until it is switched on.
    """

    rule: str = Field(min_length=1)
    scope: Scope = Scope()
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    expires: When
    dry_run: bool = False


class PolicyFile(_Model):
    """One change-policy YAML file (``change_windows.yaml`` or a sibling like ``policy.yaml``)."""

    version: Annotated[Literal[1], BeforeValidator(_number)]
    timezone: str = "UTC"
    organization: OrganizationSpec | None = None
    windows: tuple[WindowSpec, ...] = ()
    tickets: tuple[TicketSpec, ...] = ()
    freezes: tuple[FreezeSpec, ...] = ()
    automation: tuple[AutomationSpec, ...] = ()
    suppressions: tuple[SuppressionSpec, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("windows", "freezes", "automation")
    @classmethod
    def _unique_names(
        cls, value: tuple[WindowSpec | FreezeSpec | AutomationSpec, ...]
    ) -> tuple[WindowSpec | FreezeSpec | AutomationSpec, ...]:
        _unique([item.name for item in value], "name")
        return value

    @field_validator("tickets")
    @classmethod
    def _unique_ids(cls, value: tuple[TicketSpec, ...]) -> tuple[TicketSpec, ...]:
        _unique([item.id for item in value], "id")
        return value

    def resolved(self) -> PolicyFile:
        """Return a copy whose naive times are placed in the file's zone and stated in UTC.

        Windows without their own ``timezone`` get the file's.
        """
        tz = zone(self.timezone)

        def aware(moment: datetime) -> datetime:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
            return moment.astimezone(UTC)

        resolved = self.model_copy(
            update={
                "windows": tuple(
                    w if w.timezone else w.model_copy(update={"timezone": self.timezone})
                    for w in self.windows
                ),
                "tickets": tuple(
                    t.model_copy(update={"start": aware(t.start), "end": aware(t.end)})
                    for t in self.tickets
                ),
                "freezes": tuple(
                    f.model_copy(update={"start": aware(f.start), "end": aware(f.end)})
                    for f in self.freezes
                ),
                "suppressions": tuple(
                    s.model_copy(update={"expires": aware(s.expires)}) for s in self.suppressions
                ),
            }
        )
        for kind, periods in (("tickets", resolved.tickets), ("freezes", resolved.freezes)):
            for position, period in enumerate(periods):
                if period.end <= period.start:
                    raise ValueError(f"{kind}[{position}]: 'end' must come after 'start'")
        return resolved


def _unique(names: list[str], field: str) -> None:
    seen: set[str] = set()
    for position, name in enumerate(names):
        if name in seen:
            raise ValueError(f"{field} {name!r} is given twice (again at item {position})")
        seen.add(name)
