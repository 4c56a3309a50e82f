"""Azure identity keys: one stable name per actor, from an Activity Log record's claims.

As ADR 0020 says for AWS, the key follows the actor (ADR 0045):

- a person (a user principal name in the claims, or an e-mail-like caller):
  ``azure:user:<upn>`` in lower case, guests (``...#EXT#@...``) included;
- a managed identity (the ``xms_mirid`` claim names its resource):
  ``azure:mi:<its ARM id>``; a system-assigned identity's ARM id is its machine's;
- a service principal (an application token, ``idtyp: app``, or an ``appid`` without
  a user): ``azure:app:<application id>``, whatever pipeline run or pod holds the token;
- a caller known only by its object id: ``azure:principal:<object id>``;
- a caller that is an Azure resource provider (``Microsoft.Insights/autoscaleSettings``):
  ``azure:service:<caller>``, made by the platform;
- nothing to go by: ``unknown:<subscription>``.

The client of a call is the application that asked for the token (the Activity Log
records no user agent): Azure CLI, Azure PowerShell and the portal have well-known
first-party application ids (:data:`CLIENT_APPS`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "AZURE_PERSON_KEY",
    "CLIENT_APPS",
    "AzureIdentity",
    "azure_identity",
    "azure_peer_groups",
]

_UPN_CLAIMS: Final = (
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "upn",
    "unique_name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)
_OID_CLAIMS: Final = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
_TENANT_CLAIMS: Final = ("http://schemas.microsoft.com/identity/claims/tenantid", "tid")
_AMR_CLAIMS: Final = ("http://schemas.microsoft.com/claims/authnmethodsreferences", "amr")
_EMAIL: Final = re.compile(r"^[A-Za-z0-9._%+'#-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_GUID: Final = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_PROVIDER: Final = re.compile(r"^Microsoft\.[A-Za-z]+(?:/[A-Za-z]+)*$", re.IGNORECASE)

AZURE_PERSON_KEY: Final = re.compile(r"^azure:user:.")
"""The Azure identity keys that name a person: ``azure:user:<upn>`` (guests included).

Service principals, managed identities, bare object ids and resource providers are
automation (or unknown), weighed against their own routine (ADR 0056)."""

CLIENT_APPS: Final[Mapping[str, str]] = {
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46": "azure-cli",
    "1950a258-227b-4e31-a9cf-717495945fc2": "azure-powershell",
    "c44b4083-3bb0-49c1-b47d-974e53cbdf3c": "console",
    "872cd9fa-d31f-45e0-9eab-6e460a02d1f1": "azure-sdk",
    "aebc6443-996d-45c2-90f0-388ff96faa56": "azure-sdk",
}
"""Client family of Microsoft's first-party client applications (Azure CLI, PowerShell,
the portal, Visual Studio, VS Code), by application id."""


@dataclass(frozen=True, slots=True)
class AzureIdentity:
    """Who made an Azure call: key, kind and the evidence kept beside it."""

    key: str
    type: str
    principal: str | None
    tenant: str | None
    mfa: bool | None
    client: str
    by_service: bool


def _claim(claims: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _mfa(claims: Mapping[str, Any], person: bool) -> bool | None:
    methods = _claim(claims, _AMR_CLAIMS)
    if methods is None:
        return None
    return "mfa" in methods.lower() if person else None


def azure_identity(
    claims: Mapping[str, Any], caller: str | None, subscription: str | None
) -> AzureIdentity:
    """Return the identity of an Azure call from its token's claims and its caller field.

    Parameters
    ----------
    claims : mapping
        The token's claims (``identity.claims``, ``claims``, ``Claims_d``); may be empty.
    caller : str or None
        The record's ``caller`` (a user principal name, an object id, a provider name).
    subscription : str or None
        The subscription of the call, for ``unknown:<subscription>``.
    """
    app = _claim(claims, ("appid", "azp"))
    tenant = _claim(claims, _TENANT_CLAIMS)
    object_id = _claim(claims, _OID_CLAIMS)
    client = CLIENT_APPS.get(app.lower(), "unknown") if app else "unknown"
    upn = _claim(claims, _UPN_CLAIMS)
    if upn is None and caller and _EMAIL.match(caller):
        upn = caller
    mirid = _claim(claims, ("xms_mirid",))
    app_token = _claim(claims, ("idtyp",)) == "app"
    if mirid:
        return AzureIdentity(
            f"azure:mi:{mirid.lower()}", "ManagedIdentity", object_id, tenant, None, client, False
        )
    if upn and _EMAIL.match(upn) and not app_token:
        return AzureIdentity(
            f"azure:user:{upn.lower()}",
            "AzureUser",
            object_id or upn.lower(),
            tenant,
            _mfa(claims, person=True),
            client,
            False,
        )
    if app:
        return AzureIdentity(
            f"azure:app:{app.lower()}", "ServicePrincipal", object_id, tenant, None, client, False
        )
    if caller and _GUID.match(caller):
        return AzureIdentity(
            f"azure:principal:{caller.lower()}", "Unknown", caller.lower(), tenant, None, client,
            False,
        )  # fmt: skip
    if caller and _PROVIDER.match(caller):
        return AzureIdentity(
            f"azure:service:{caller}", "AzureService", None, tenant, None, "azure-service", True
        )
    return AzureIdentity(
        f"unknown:{subscription or '-'}", "Unknown", None, tenant, None, client, False
    )


def azure_peer_groups(identity_key: str) -> tuple[str, ...]:
    """Name the groups an Azure identity is compared with while it has no past (ADR 0022).

    A person with the people of the same e-mail domain; a managed identity with the
    managed identities of the same name in other subscriptions (the same controller or
    pipeline deployed elsewhere, as an AWS role with the same-named roles), then with
    those of its subscription, then every managed identity; a service principal with
    every service principal. Examples
    --------
    >>> azure_peer_groups("azure:user:alice@corp.example")
    ('Azure people of corp.example',)
    """
    kind, _, rest = identity_key.removeprefix("azure:").partition(":")
    if kind == "user":
        domain = rest.rsplit("@", 1)[-1].split("#", 1)[0]
        return (f"Azure people of {domain}",)
    if kind == "mi":
        parts = rest.split("/")
        subscription = parts[2] if len(parts) > 2 else "-"
        return (
            f"{parts[-1]} managed identities in other subscriptions",
            f"managed identities in subscription {subscription}",
            "Azure managed identities",
        )
    if kind == "app":
        return ("Azure service principals",)
    return ()
