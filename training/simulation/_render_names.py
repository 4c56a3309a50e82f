"""Names in other clouds: subscriptions and projects, locations and zones, and who an actor is.

One rule maps each simulated AWS name to its Azure and Google Cloud name, for records,
the change policy, the manifest and the labels alike (ADR 0054):

* account ``835986547864`` (``northwind-prod``) -> subscription
  ``83598654-7864-4000-8000-835986547864`` / project ``northwind-prod-7864``;
* region ``eu-central-1`` -> location ``germanywestcentral`` / region ``europe-west3``
  (availability zone ``a`` -> zone ``europe-west3-a``);
* an actor (:class:`Actor`, from a record's ``userIdentity`` or an identity key or
  pattern of the policy): a person's SSO session -> the person's user principal name /
  Google account; a role (automation, IRSA, CI, instance profile) -> a user-assigned
  managed identity / a service account of the same name in lower case; an IAM user ->
  a user principal name / a service account with a key; an AWS service -> an Azure
  resource provider / a Google service agent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "AZURE_LOCATIONS",
    "DOMAIN",
    "GCP_REGIONS",
    "SERVICE_ROLES",
    "Actor",
    "actor_of_identity",
    "actor_of_key",
    "azure_location",
    "gcp_region",
    "gcp_zone",
    "project_of",
    "subscription_of",
]

DOMAIN: Final = "northwind.example"
"""The simulated organisation's domain (people's e-mail and user principal names)."""

AZURE_LOCATIONS: Final[Mapping[str, str]] = {
    "eu-central-1": "germanywestcentral",
    "eu-west-1": "northeurope",
    "eu-west-2": "uksouth",
    "eu-north-1": "swedencentral",
    "us-east-1": "eastus",
    "us-east-2": "eastus2",
    "us-west-2": "westus2",
    "ap-southeast-1": "southeastasia",
    "ap-northeast-1": "japaneast",
    "sa-east-1": "brazilsouth",
}
GCP_REGIONS: Final[Mapping[str, str]] = {
    "eu-central-1": "europe-west3",
    "eu-west-1": "europe-west1",
    "eu-west-2": "europe-west2",
    "eu-north-1": "europe-north1",
    "us-east-1": "us-east1",
    "us-east-2": "us-east4",
    "us-west-2": "us-west1",
    "ap-southeast-1": "asia-southeast1",
    "ap-northeast-1": "asia-northeast1",
    "sa-east-1": "southamerica-east1",
}
_ROLE_KEY: Final = re.compile(r"^arn:aws:iam::([^:]*):role/([^/]+)(?:/(.+))?$")
_SSO_KEY: Final = re.compile(r"^arn:aws:iam::([^:]*):role/(AWSReservedSSO_[^/]*)/(.+)$")
_USER_KEY: Final = re.compile(r"^arn:aws:iam::([^:]*):(?:user/(?:.*/)?(.+)|(root))$")
_EMAIL: Final = re.compile(r"^[^@\s/]+@[^@\s/]+\.[a-z]{2,}$")
SERVICE_ROLES: Final[Mapping[str, str]] = {
    "AWSServiceRoleForAutoScaling": "autoscaling.amazonaws.com",
    "AWSBackupDefaultServiceRole": "backup.amazonaws.com",
    "AWSServiceRoleForConfig": "config.amazonaws.com",
}
"""Roles only an AWS service assumes: their actor is the service."""


def subscription_of(account: str) -> str:
    """Return the Azure subscription id of a simulated account (``*`` stays ``*``)."""
    if not account.isdigit():
        return account
    padded = account.rjust(12, "0")
    return f"{padded[:8]}-{padded[8:12]}-4000-8000-{padded}"


def project_of(account: str, names: Mapping[str, str]) -> str:
    """Return the Google Cloud project id of a simulated account (``names``: id -> name)."""
    if not account.isdigit():
        return account
    return f"{names.get(account, 'external')}-{account[-4:]}"


def azure_location(region: str) -> str:
    """Return the Azure location of an AWS region."""
    return AZURE_LOCATIONS.get(region, region.replace("-", ""))


def gcp_region(region: str) -> str:
    """Return the Google Cloud region of an AWS region."""
    return GCP_REGIONS.get(region, region)


def gcp_zone(region: str, az: str = "") -> str:
    """Return the Google Cloud zone of an availability zone (``a`` when none is given)."""
    letter = az[-1] if az and az[-1].isalpha() else "a"
    return f"{gcp_region(region)}-{letter}"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, in cloud-neutral terms.

    Attributes
    ----------
    kind : str
        ``person`` (a person's own session), ``workload`` (a role of automation, a pod,
        a pipeline or a machine), ``user`` (an IAM user's long-term key), ``service``
        (an AWS service acting).
    name : str
        The e-mail of a person, the role or user name, or the service's host.
    account : str
        The account the identity lives in (``*`` in a pattern).
    """

    kind: str
    name: str
    account: str


def actor_of_identity(identity: Mapping[str, Any]) -> Actor:
    """Return the actor of a CloudTrail ``userIdentity``."""
    kind = identity.get("type")
    account = str(identity.get("accountId", ""))
    if kind == "AssumedRole":
        issuer = identity.get("sessionContext", {}).get("sessionIssuer", {})
        role = str(issuer.get("userName", ""))
        session = str(identity.get("arn", "")).rsplit("/", 1)[-1]
        if role in SERVICE_ROLES:
            return Actor("service", SERVICE_ROLES[role], account)
        if role.startswith("AWSReservedSSO_") or _EMAIL.match(session):
            return Actor("person", session.lower(), account)
        return Actor("workload", role, account)
    if kind == "IAMUser":
        return Actor("user", str(identity.get("userName", "user")), account)
    if kind == "Root":
        return Actor("person", f"root@{DOMAIN}", account)
    if kind == "AWSService":
        return Actor("service", str(identity.get("invokedBy", "aws")), account)
    return Actor("workload", str(identity.get("userName") or "unknown"), account)


def actor_of_key(key: str) -> Actor | None:
    """Return the actor an AWS identity key or key pattern names; ``None`` for others."""
    sso = _SSO_KEY.match(key)
    if sso is not None:
        return Actor("person", sso.group(3).lower(), sso.group(1))
    role = _ROLE_KEY.match(key)
    if role is not None:
        if role.group(3) and _EMAIL.match(role.group(3)):
            return Actor("person", role.group(3).lower(), role.group(1))
        if role.group(2) in SERVICE_ROLES:
            return Actor("service", SERVICE_ROLES[role.group(2)], role.group(1))
        return Actor("workload", role.group(2), role.group(1))
    user = _USER_KEY.match(key)
    if user is not None:
        if user.group(3):
            return Actor("person", f"root@{DOMAIN}", user.group(1))
        return Actor("user", user.group(2), user.group(1))
    return None
