"""The identity key: one stable name per actor, following the actor, not the session.

See ``docs/adr/0020-identity-keys-follow-the-actor.md`` (it supersedes ADR 0002):

- IAM user: its ARN ``arn:aws:iam::111:user/alice``; root: ``arn:aws:iam::111:root``;
- a role session keyed **per person** only where there is evidence of a person:

  * AWS IAM Identity Center (SSO) roles ``AWSReservedSSO_*``: role + ``/`` + session name;
  * a ``sourceIdentity`` on the session (set by the person's IdP or by the person): role +
    ``/`` + source identity, whatever the session is called;
  * an e-mail-like session name (SAML's usual ``RoleSessionName``), or one matching a
    configured person-session pattern: role + ``/`` + session name;
  * a role matching a configured person-role pattern: role + ``/`` + session name;

- every other role session is keyed as the **role**: automation (Terraform, Lambda, SDK
  defaults such as ``botocore-session-1722511821``), instance profiles (``i-...``) and
  *web-identity* sessions (EKS IRSA pods, GitHub Actions and GitLab CI OIDC), whose session
  names are generated per pod, per hour or per run and name no person;
- federated user (GetFederationToken): its ``sts`` ARN; AWS service ``service:<principal>``;
  another account's principal ``account:<account id>:<principal id>``; no identity in the
  record ``unknown:<account id>``.

Role ARNs in keys never carry a path. The session name stays on every event
(``session_name``), with the ``source_identity`` and the web-identity provider
(``federated_provider``), as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final

from features._identity_azure import AZURE_PERSON_KEY, azure_peer_groups
from features._identity_gcp import GCP_PERSON_KEY, gcp_peer_groups

__all__ = [
    "IDENTITY_KEY_VERSION",
    "PERSON_KEYS",
    "IdentityKeyRule",
    "is_person_key",
    "looks_like_person_session",
    "peer_groups",
    "rekey_row",
    "role_arn_from_sts",
    "role_name",
]

IDENTITY_KEY_VERSION: Final = "2"
"""Version of the keying rules (1: ADR 0002, web identity keyed per session)."""

_INSTANCE_SESSION: Final = re.compile(r"^i-[0-9a-fA-F]{8,17}$")
_STS_ROLE: Final = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}|[^:]*):assumed-role/([^/]+)/(.+)$")
_EMAIL: Final = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_SSO_PREFIX: Final = "AWSReservedSSO_"


def role_name(role_arn: str) -> str:
    """Return the role name of a role ARN, dropping any path."""
    return role_arn.rsplit("/", 1)[-1]


def role_arn_from_sts(sts_arn: str) -> tuple[str, str] | None:
    """Split ``arn:aws:sts::111:assumed-role/Role/session`` into (path-less role ARN, session)."""
    match = _STS_ROLE.match(sts_arn)
    if match is None:
        return None
    partition, account, name, session = match.groups()
    return f"arn:{partition}:iam::{account}:role/{name}", session


def looks_like_person_session(session: str) -> bool:
    """Whether a session name is an e-mail address (what SAML IdPs put in ``RoleSessionName``)."""
    return _EMAIL.match(session) is not None


def _pathless(role_arn: str) -> str:
    head, sep, rest = role_arn.partition(":role/")
    if not sep:
        return role_arn
    return f"{head}:role/{role_name(rest)}"


@dataclass(frozen=True, slots=True)
class IdentityKeyRule:
    """Decides whether a role session stands for a person (keyed per person) or not.

    Parameters
    ----------
    person_roles : tuple of str
        Extra ``fnmatch`` patterns of role ARNs whose sessions are people (matched against
        the path-less ARN), for SAML roles whose session names are not e-mail addresses.
    person_sessions : tuple of str
        Extra regular expressions of session names that name people (``[a-z]+[.][a-z]+``
        for ``first.last``), matched in full.
    """

    person_roles: tuple[str, ...] = ()
    person_sessions: tuple[str, ...] = ()

    @classmethod
    def from_patterns(
        cls, patterns: Iterable[str], sessions: Iterable[str] = ()
    ) -> IdentityKeyRule:
        """Build a rule from role ARN patterns and session-name patterns."""
        return cls(person_roles=tuple(patterns), person_sessions=tuple(sessions))

    def _person_session(self, session: str) -> bool:
        return looks_like_person_session(session) or any(
            re.fullmatch(pattern, session) for pattern in self.person_sessions
        )

    def assumed_role_key(
        self, role_arn: str, session: str | None, *, source_identity: str | None = None
    ) -> str:
        """Return the key of a role session.

        Parameters
        ----------
        role_arn : str
            The role's ARN, with or without path.
        session : str or None
            The role session name.
        source_identity : str, optional
            The session's ``sourceIdentity``, when one was set.
        """
        key = _pathless(role_arn)
        if source_identity:
            return f"{key}/{source_identity}"
        if not session or _INSTANCE_SESSION.match(session):
            return key
        if (
            role_name(key).startswith(_SSO_PREFIX)
            or self._person_session(session)
            or any(fnmatchcase(key, pattern) for pattern in self.person_roles)
        ):
            return f"{key}/{session}"
        return key


def rekey_row(
    identity_type: str | None,
    identity_key: str,
    principal_arn: str | None,
    session: str | None,
    source_identity: str | None = None,
    rule: IdentityKeyRule | None = None,
) -> str:
    """Return the key a stored canonical row gets under these rules (its old key otherwise).

    For rows written under older keying rules (ADR 0002 keyed web-identity sessions per
    session): a role session is keyed again from its ``sts`` ARN, session name and source
    identity; every other row keeps its key.
    """
    if identity_type != "AssumedRole" or not principal_arn:
        return identity_key
    parsed = role_arn_from_sts(principal_arn)
    if parsed is None:
        return identity_key
    role_arn, arn_session = parsed
    rule = rule or IdentityKeyRule()
    return rule.assumed_role_key(role_arn, session or arn_session, source_identity=source_identity)


_ARN: Final = re.compile(r"^arn:(aws[a-z-]*):(?:iam|sts)::([^:]*):(.+)$")
_SSO_HASH: Final = re.compile(r"^AWSReservedSSO_(.+)_[0-9a-f]{8,}$")

AWS_PERSON_KEY: Final = re.compile(r":role/[^/]+/.")
"""The AWS identity keys that name a person: a role session keyed per person
(``arn:aws:iam::111:role/R/alice@corp``, :class:`IdentityKeyRule`)."""

PERSON_KEYS: Final[dict[str, re.Pattern[str]]] = {
    "aws": AWS_PERSON_KEY,
    "azure": AZURE_PERSON_KEY,
    "gcp": GCP_PERSON_KEY,
}
"""Per cloud, the identity keys that name a person (ADR 0056); the others are automation,
services or unknown callers. Each pattern is declared beside its cloud's key builder."""


def is_person_key(identity_key: str) -> bool:
    """Whether an identity key names a person, in any cloud (:data:`PERSON_KEYS`).

    People are weighed against their own routine joined with their peers' (people fix
    what their team fixes); automation against its own routine only.

    Examples
    --------
    >>> is_person_key("arn:aws:iam::111:role/AWSReservedSSO_Dev_0123abcd4567/alice@corp")
    True
    >>> is_person_key("azure:user:alice@corp.example")
    True
    >>> is_person_key("gcp:sa:deploy@web-prod.iam.gserviceaccount.com")
    False
    """
    pattern = PERSON_KEYS.get(identity_key.partition(":")[0], AWS_PERSON_KEY)
    return pattern.search(identity_key) is not None


def _permission_set(role: str) -> str:
    """``PowerUserAccess`` for ``AWSReservedSSO_PowerUserAccess_3ceb7278d83cadf6``."""
    match = _SSO_HASH.match(role)
    return match.group(1) if match else role


def peer_groups(identity_key: str) -> tuple[str, ...]:
    """Name the groups an identity is compared with while it has no past of its own.

    Most alike first (ADR 0022): a person with themselves in other accounts (the same
    session name under any role), then with the other people of the same role or permission
    set in the same account, then in every account, then with every person of the account;
    a role with the
    role of the same name in other accounts (the same controller, pipeline or function
    deployed elsewhere), then with the roles of its account; an IAM user with the users of
    its account. AWS services, other accounts' principals and unknown callers have no peers.

    Examples
    --------
    >>> peer_groups("arn:aws:iam::111:role/AWSReservedSSO_Dev_0123abcd4567/alice@corp")[:2]
    ('alice@corp in other accounts', 'Dev users in account 111')
    >>> peer_groups("arn:aws:iam::111:role/karpenter")
    ('karpenter roles in other accounts', 'roles in account 111')
    """
    if identity_key.startswith(("azure:", "gcp:")):
        return cloud_peer_groups(identity_key)
    match = _ARN.match(identity_key)
    if match is None:
        return ()
    _, account, resource = match.groups()
    kind, _, rest = resource.partition("/")
    if kind == "role" and "/" in rest:
        role_part, person = rest.split("/", 1)
        role = _permission_set(role_part)
        return (
            f"{person} in other accounts",
            f"{role} users in account {account}",
            f"{role} users in every account",
            f"people in account {account}",
        )
    if kind == "role":
        return (f"{rest} roles in other accounts", f"roles in account {account}")
    if kind == "user":
        return (f"IAM users in account {account}",)
    if kind == "federated-user":
        return (f"federated users in account {account}",)
    return ()


def cloud_peer_groups(identity_key: str) -> tuple[str, ...]:
    """Peer groups of an Azure or Google Cloud identity key (ADR 0045)."""
    if identity_key.startswith("azure:"):
        return azure_peer_groups(identity_key)
    return gcp_peer_groups(identity_key)
