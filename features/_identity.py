"""The identity key: one stable name per actor (see ``docs/adr/0002-identity-key.md``).

- IAM user: its ARN ``arn:aws:iam::111:user/alice``;
- root: ``arn:aws:iam::111:root``;
- role session of a person (AWS SSO ``AWSReservedSSO_*``, SAML or web-identity federation,
  or a listed person role): role ARN + ``/`` + session name, e.g.
  ``arn:aws:iam::111:role/AWSReservedSSO_Admin_1a2b/alice@corp``;
- role session of an instance profile (session ``i-...``) or of automation: the role ARN;
- federated user (GetFederationToken): its ARN ``arn:aws:sts::111:federated-user/bob``;
- AWS service: ``service:<principal>``, e.g. ``service:autoscaling.amazonaws.com``;
- another account's principal: ``account:<account id>:<principal id>``;
- no identity in the record: ``unknown:<account id>`` (``unknown:-`` without account).

Role ARNs in keys never carry a path (``role/aws-reserved/sso.amazonaws.com/X`` is
keyed as ``role/X``): role names are unique in an account, and records that lack
``sessionIssuer`` (only the ``sts`` ARN) then get the same key as those that have it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final

__all__ = ["IdentityKeyRule", "role_arn_from_sts", "role_name"]

_INSTANCE_SESSION: Final = re.compile(r"^i-[0-9a-fA-F]{8,17}$")
_STS_ROLE: Final = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}|[^:]*):assumed-role/([^/]+)/(.+)$")


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


def _pathless(role_arn: str) -> str:
    head, sep, rest = role_arn.partition(":role/")
    if not sep:
        return role_arn
    return f"{head}:role/{role_name(rest)}"


@dataclass(frozen=True, slots=True)
class IdentityKeyRule:
    """Decides whether a role session stands for a person (keyed per session) or not.

    Parameters
    ----------
    person_roles : tuple of str
        Extra ``fnmatch`` patterns of role ARNs whose sessions are people, for SAML
        roles that do not carry web-identity data. Matched against the path-less ARN.
    """

    person_roles: tuple[str, ...] = ()

    @classmethod
    def from_patterns(cls, patterns: Iterable[str]) -> IdentityKeyRule:
        """Build a rule from role ARN patterns."""
        return cls(person_roles=tuple(patterns))

    def assumed_role_key(self, role_arn: str, session: str | None, *, federated: bool) -> str:
        """Return the key of a role session.

        Parameters
        ----------
        role_arn : str
            The role's ARN, with or without path.
        session : str or None
            The role session name.
        federated : bool
            Whether the session came through SAML or web-identity federation.
        """
        key = _pathless(role_arn)
        if not session or _INSTANCE_SESSION.match(session):
            return key
        name = role_name(key)
        if (
            federated
            or name.startswith("AWSReservedSSO_")
            or any(fnmatchcase(key, pattern) for pattern in self.person_roles)
        ):
            return f"{key}/{session}"
        return key
