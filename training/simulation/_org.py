"""The simulated organisation: accounts, regions, networks, people and machine identities.

:func:`build_organisation` draws everything from the seed, so one seed is one
organisation. Identities are described here (who, where from, with which tools);
what they do is in :mod:`._behaviour` and :mod:`._scenarios`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Final

from training.simulation._geo import NETWORKS, Network, nat_network
from training.simulation._ids import access_key, account_id, principal_id
from training.simulation._presets import OrgPreset
from training.simulation._roster import TEAMS, Member
from training.simulation._time import DAY, iso

__all__ = [
    "ACCOUNT_ROLES",
    "Account",
    "IamUser",
    "Organisation",
    "Person",
    "Role",
    "build_organisation",
]

ACCOUNT_ROLES: Final = ("prod", "staging", "shared", "dev", "analytics", "sandbox", "backup")
"""What each account is for, in the order accounts are made."""

COMPANY: Final = "northwind"
DOMAIN: Final = "northwind.example"


@dataclass(slots=True)
class Role:
    """An IAM role and how its sessions appear in ``userIdentity``."""

    account: str
    name: str
    path: str
    principal: str

    @property
    def arn(self) -> str:
        """The role's ARN with its path, as ``sessionIssuer.arn`` writes it."""
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"

    @property
    def key(self) -> str:
        """The path-less role ARN (the identity key of non-person sessions)."""
        return f"arn:aws:iam::{self.account}:role/{self.name}"

    def session(
        self,
        session: str,
        created: int,
        rng: random.Random,
        *,
        mfa: bool = False,
        invoked_by: str | None = None,
        provider: str | None = None,
        ec2: bool = False,
        source_identity: str | None = None,
    ) -> dict[str, Any]:
        """Return the ``userIdentity`` of one session of this role.

        ``provider`` is the ARN of the OpenID Connect provider of a web-identity
        session (an EKS cluster, GitHub Actions, GitLab): CloudTrail names it in
        ``sessionContext.webIdFederationData.federatedProvider``. Instance-profile
        sessions (``ec2``) carry an empty ``webIdFederationData``.
        """
        context: dict[str, Any] = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": self.principal,
                "arn": self.arn,
                "accountId": self.account,
                "userName": self.name,
            }
        }
        if provider:
            context["webIdFederationData"] = {"federatedProvider": provider, "attributes": {}}
        elif ec2:
            context["webIdFederationData"] = {}
        context["attributes"] = {"creationDate": iso(created), "mfaAuthenticated": str(mfa).lower()}
        if ec2:
            context["ec2RoleDelivery"] = "2.0"
        if source_identity:
            context["sourceIdentity"] = source_identity
        identity: dict[str, Any] = {
            "type": "AssumedRole",
            "principalId": f"{self.principal}:{session}",
            "arn": f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{session}",
            "accountId": self.account,
            "accessKeyId": access_key("ASIA", rng),
            "sessionContext": context,
        }
        if invoked_by:
            identity["invokedBy"] = invoked_by
        return identity


@dataclass(slots=True)
class IamUser:
    """A long-term IAM user (the legacy operations user, the break-glass user)."""

    account: str
    name: str
    principal: str
    key: str

    @property
    def arn(self) -> str:
        """The user's ARN."""
        return f"arn:aws:iam::{self.account}:user/{self.name}"

    def identity(
        self, *, console: bool = False, created: int = 0, rng: random.Random | None = None
    ) -> dict[str, Any]:
        """Return the ``userIdentity`` of a call by access key, or of a console session."""
        identity: dict[str, Any] = {
            "type": "IAMUser",
            "principalId": self.principal,
            "arn": self.arn,
            "accountId": self.account,
            "accessKeyId": self.key,
            "userName": self.name,
        }
        if console and rng is not None:
            identity["accessKeyId"] = access_key("ASIA", rng)
            identity["sessionContext"] = {
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": {"creationDate": iso(created), "mfaAuthenticated": "true"},
            }
        return identity


@dataclass(frozen=True, slots=True)
class Account:
    """One AWS account of the organisation."""

    index: int
    id: str
    role: str

    @property
    def name(self) -> str:
        """The account's alias, e.g. ``northwind-prod``."""
        return f"{COMPANY}-{self.role}"


@dataclass(slots=True)
class Person:
    """A human with an AWS IAM Identity Center (SSO) user.

    ``cli_versions`` and ``browser`` drift over time: each is a list of
    ``(from_epoch, value)`` pairs, the latest that has begun applies.
    """

    handle: str
    email: str
    timezone: str
    country: str
    office: Network
    home: Network
    office_days: frozenset[int]
    permission_set: str
    accounts: tuple[int, ...]
    console_share: float
    joined: int
    left: int | None
    kind: str
    os_tag: str
    cli_versions: list[tuple[int, str]]
    browsers: list[tuple[int, str]]
    activity: float = 1.0
    home_ip: str = ""
    sessions: dict[str, Role] = field(default_factory=dict)

    @property
    def on_call(self) -> bool:
        """Whether the person is on the on-call rotation (the administrators)."""
        return self.kind == "admin"

    def cli_version(self, t: int) -> str:
        """Return the aws-cli version the person has installed at ``t``."""
        return _current(self.cli_versions, t)

    def browser(self, t: int) -> str:
        """Return the browser user agent the person uses at ``t``."""
        return _current(self.browsers, t)

    def active(self, t: int) -> bool:
        """Whether the person works for the organisation at ``t``."""
        return self.joined <= t and (self.left is None or t < self.left)


def _current(versions: list[tuple[int, str]], t: int) -> str:
    value = versions[0][1]
    for start, candidate in versions:
        if start <= t:
            value = candidate
    return value


_CHROME: Final = (
    "Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
)
_FIREFOX: Final = "Mozilla/5.0 ({os}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
_OS_BROWSER: Final = {
    "mac": "Macintosh; Intel Mac OS X 10_15_7",
    "linux": "X11; Ubuntu; Linux x86_64",
    "windows": "Windows NT 10.0; Win64; x64",
}

_PERMISSION_SETS: Final = (
    "AdministratorAccess",
    "PowerUserAccess",
    "DataScientist",
    "ReadOnlyAccess",
)


@dataclass(slots=True)
class Organisation:
    """Everything fixed about the simulated organisation."""

    seed: int
    start: int
    end: int
    test_start: int
    preset: OrgPreset
    accounts: list[Account]
    regions: list[str]
    people: list[Person]
    roles: dict[tuple[int, str], Role]
    sso_roles: dict[tuple[int, str], Role]
    legacy_user: IamUser
    breakglass: IamUser
    nat: dict[tuple[int, str], Network]
    ci_host: str
    legacy_host: str
    foreign_accounts: list[str]
    scale: float
    oidc: dict[tuple[int, str], str] = field(default_factory=dict)

    @property
    def networks(self) -> list[Network]:
        """Every network an address of the simulation comes from."""
        return [*NETWORKS.values(), *self.nat.values()]

    @property
    def home_region(self) -> str:
        """The first region: where most resources and every EKS cluster live."""
        return self.regions[0]

    @property
    def dr_region(self) -> str:
        """The disaster-recovery region backups are copied to (the second region)."""
        return self.regions[1] if len(self.regions) > 1 else self.regions[0]

    def account(self, role: str) -> Account:
        """Return the first account with ``role``, or the first account."""
        return self.find(role) or self.accounts[0]

    def find(self, role: str) -> Account | None:
        """Return the account with ``role``, or ``None`` when the organisation has none."""
        for account in self.accounts:
            if account.role == role:
                return account
        return None

    def central(self) -> Account:
        """Return the account central tooling runs in: shared, else staging, else the first."""
        return self.find("shared") or self.find("staging") or self.accounts[0]

    def role(self, account: Account, name: str) -> Role:
        """Return the role ``name`` of ``account`` (made on first use, with its own id)."""
        found = self.roles.get((account.index, name))
        if found is None:
            rng = random.Random(f"role:{self.seed}:{account.id}:{name}")
            path = _ROLE_PATHS.get(name, "/")
            found = self.roles[(account.index, name)] = Role(
                account.id, name, path, principal_id("AROA", rng)
            )
        return found

    def provider(self, account: Account, cluster: str) -> str:
        """Return the ARN of the OIDC provider of EKS cluster ``cluster`` in ``account``."""
        issuer = self.oidc[(account.index, cluster)]
        return f"arn:aws:iam::{account.id}:oidc-provider/{issuer}"

    def person(self, handle: str) -> Person:
        """Return the person with ``handle``."""
        for person in self.people:
            if person.handle == handle:
                return person
        raise KeyError(handle)


_ROLE_PATHS: Final = {
    "AWSServiceRoleForAutoScaling": "/aws-service-role/autoscaling.amazonaws.com/",
    "AWSServiceRoleForConfig": "/aws-service-role/config.amazonaws.com/",
    "AWSBackupDefaultServiceRole": "/service-role/",
}
"""Paths of the roles that have one (service-linked and service roles); others use ``/``."""


def _sso_role(account: str, permission_set: str, region: str, rng: random.Random) -> Role:
    suffix = f"{rng.getrandbits(64):016x}"
    return Role(
        account,
        f"AWSReservedSSO_{permission_set}_{suffix}",
        f"/aws-reserved/sso.amazonaws.com/{region}/",
        principal_id("AROA", rng),
    )


def _reachable(member: Member, made: list[Account]) -> tuple[int, ...]:
    """Return the accounts ``member`` is assigned to through their permission set."""
    roles: tuple[str, ...]
    if member.kind == "data-scientist":
        roles = ("analytics", "staging", "dev")
    elif member.permission_set == "PowerUserAccess":
        roles = tuple(r for r in ACCOUNT_ROLES if r not in ("shared", "backup"))
    else:
        roles = tuple(r for r in ACCOUNT_ROLES if r != "backup")
    return tuple(a.index for a in made if a.role in roles) or (made[0].index,)


def build_organisation(
    seed: int,
    *,
    start: int,
    days: int,
    test_days: int,
    accounts: int,
    regions: list[str],
    scale: float,
    preset: OrgPreset,
) -> Organisation:
    """Draw the organisation of ``seed``.

    Parameters
    ----------
    seed : int
        The simulation seed.
    start : int
        Epoch second of the first simulated midnight (UTC).
    days, test_days : int
        Length of the whole simulation and of its final test period.
    accounts : int
        Number of accounts (1 to 7): prod, staging, shared, dev, analytics, sandbox, backup.
    regions : list of str
        Regions in use; the first is the home region.
    scale : float
        Activity multiplier (kept for the record; behaviour reads it).
    preset : OrgPreset
        The organisation's shape: teams, clusters, automation.
    """
    rng = random.Random(f"org:{seed}")
    made = [Account(i, account_id(rng), ACCOUNT_ROLES[i]) for i in range(accounts)]
    end = start + days * DAY
    test_start = end - test_days * DAY
    home_region = regions[0]
    sso: dict[tuple[int, str], Role] = {}
    for account in made:
        for permission_set in _PERMISSION_SETS:
            sso[(account.index, permission_set)] = _sso_role(
                account.id, permission_set, home_region, rng
            )

    baseline_days = max(1, days - test_days)
    people: list[Person] = []
    for team in preset.teams:
        for member in TEAMS[team]:
            joined = start - 400 * DAY
            left: int | None = None
            if member.kind == "former":
                left = start + min(5, max(1, baseline_days // 4)) * DAY
            elif member.kind == "joiner":
                joined = start + max(1, int(baseline_days * 0.4)) * DAY
            people.append(_person(rng, member, _reachable(member, made), joined, left, start, days))
    for person in people:
        person.home_ip = person.home.host(rng)

    legacy = IamUser(made[0].id, "ops-legacy", principal_id("AIDA", rng), access_key("AKIA", rng))
    breakglass = IamUser(
        made[0].id, "breakglass-admin", principal_id("AIDA", rng), access_key("AKIA", rng)
    )
    nat = {
        (account.index, region): nat_network(account.index, r, region)
        for account in made
        for r, region in enumerate(regions)
    }
    foreign = [account_id(rng) for _ in range(4)]
    oidc = {
        (account.index, cluster.name): (
            f"oidc.eks.{home_region}.amazonaws.com/id/{rng.getrandbits(128):032X}"
        )
        for cluster in preset.clusters
        for account in made
        if account.role == cluster.account
    }
    return Organisation(
        seed=seed,
        start=start,
        end=end,
        test_start=test_start,
        preset=preset,
        accounts=made,
        regions=list(regions),
        people=people,
        roles={},
        sso_roles=sso,
        legacy_user=legacy,
        breakglass=breakglass,
        nat=nat,
        ci_host=NETWORKS["ci-runners"].host(rng),
        legacy_host=NETWORKS["office-berlin"].host(rng),
        foreign_accounts=foreign,
        scale=scale,
        oidc=oidc,
    )


def _person(
    rng: random.Random,
    member: Member,
    accounts: tuple[int, ...],
    joined: int,
    left: int | None,
    start: int,
    days: int,
) -> Person:
    office_days = frozenset(rng.sample(range(5), k=rng.choice((2, 3, 3, 4))))
    minor = rng.randrange(13, 16)
    patch = rng.randrange(0, 30)
    cli = [(0, f"2.{minor}.{patch}")]
    upgrade_at = start + rng.randrange(max(1, days)) * DAY
    cli.append((upgrade_at, f"2.{minor + 1}.{rng.randrange(0, 10)}"))
    chrome = rng.randrange(120, 123)
    os_text = _OS_BROWSER[member.os]
    if member.browser == "chrome":
        browsers = [
            (0, _CHROME.format(os=os_text, v=chrome)),
            (start + rng.randrange(max(1, days)) * DAY, _CHROME.format(os=os_text, v=chrome + 1)),
        ]
    else:
        version = rng.randrange(122, 124)
        browsers = [
            (0, _FIREFOX.format(os=os_text, v=version)),
            (start + rng.randrange(max(1, days)) * DAY, _FIREFOX.format(os=os_text, v=version + 1)),
        ]
    os_tag = {
        "mac": "Darwin/23.3.0 exe/x86_64",
        "linux": "Linux/6.5.0-26-generic exe/x86_64.ubuntu.22",
        "windows": "Windows/10 exe/AMD64",
    }[member.os]
    return Person(
        handle=member.handle,
        email=f"{member.handle}@{DOMAIN}",
        timezone=member.timezone,
        country=member.country,
        office=NETWORKS[member.office],
        home=NETWORKS[member.home],
        office_days=office_days,
        permission_set=member.permission_set,
        accounts=accounts,
        console_share=member.console_share,
        joined=joined,
        left=left,
        kind=member.kind,
        os_tag=os_tag,
        cli_versions=cli,
        browsers=browsers,
        activity=0.6 + 0.8 * rng.random(),
    )
