"""Google Cloud identity keys: one stable name per actor, from an audit log's authentication info.

As ADR 0020 says for AWS, the key follows the actor (ADR 0045):

- a person: ``gcp:user:<e-mail>`` in lower case;
- a service account a person acts as (the delegation chain starts with a person, as
  ``gcloud --impersonate-service-account`` leaves it): ``gcp:sa:<account>/<person>``,
  as an AWS role session with a source identity is keyed per person;
- a service account used by automation (its own key, a machine's metadata server,
  another service account impersonating it, a workload identity pool such as GitHub
  Actions OIDC): ``gcp:sa:<account>``, whatever run or pod holds the token;
- a Google-managed service agent (``service-<number>@compute-system.iam.gserviceaccount.com``,
  ``<number>@cloudservices.gserviceaccount.com``, ``system@google.com``):
  ``gcp:service:<e-mail>``, made by the platform;
- a workload identity principal without a service account:
  ``gcp:wif:<pool>`` (the pool, not the per-run subject);
- nothing to go by: ``unknown:<project>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["GCP_PERSON_KEY", "GcpIdentity", "gcp_identity", "gcp_peer_groups"]

_SERVICE_AGENT: Final = re.compile(
    r"^(?:service-\d+@[a-z0-9-]+\.iam\.gserviceaccount\.com"
    r"|\d+@cloudservices\.gserviceaccount\.com"
    r"|[a-z0-9-]+@system\.gserviceaccount\.com"
    r"|system@google\.com)$"
)
_SERVICE_ACCOUNT: Final = re.compile(r"^[^@\s]+@[a-z0-9.-]+\.gserviceaccount\.com$")
GCP_PERSON_KEY: Final = re.compile(r"^gcp:(?:user:.|sa:[^/]+/.)")
"""The Google Cloud identity keys that name a person: ``gcp:user:<e-mail>``, and
``gcp:sa:<account>/<person>`` (a person acting as a service account, as an AWS role
session keyed per person). Service accounts, service agents and workload identity pools
are automation, weighed against their own routine (ADR 0056)."""
_POOL: Final = re.compile(
    r"^principal(?:Set)?://iam\.googleapis\.com/(.+?/workloadIdentityPools/[^/]+)"
)


@dataclass(frozen=True, slots=True)
class GcpIdentity:
    """Who made a Google Cloud call: key, kind and the evidence kept beside it."""

    key: str
    type: str
    principal: str | None
    actor_project: str | None
    person: str | None
    provider: str | None
    by_service: bool


def _person_of(delegation: Any) -> tuple[str | None, str | None]:
    """Return a delegation chain's first principal if a person, and a third party's issuer."""
    if not isinstance(delegation, list) or not delegation:
        return None, None
    issuer = None
    first = delegation[0]
    for step in delegation:
        third = step.get("thirdPartyPrincipal") if isinstance(step, dict) else None
        claims = third.get("thirdPartyClaims") if isinstance(third, dict) else None
        if isinstance(claims, dict) and isinstance(claims.get("iss"), str):
            issuer = claims["iss"]
    party = first.get("firstPartyPrincipal") if isinstance(first, dict) else None
    email = party.get("principalEmail") if isinstance(party, dict) else None
    if isinstance(email, str) and "@" in email and not _SERVICE_ACCOUNT.match(email.lower()):
        return email.lower(), issuer
    return None, issuer


def _project_of(account: str) -> str | None:
    """``proj`` of ``name@proj.iam.gserviceaccount.com``; ``None`` for others."""
    domain = account.rsplit("@", 1)[-1]
    return domain.split(".", 1)[0] if domain.endswith(".iam.gserviceaccount.com") else None


def gcp_identity(
    authentication: Mapping[str, Any], project: str | None, system_event: bool = False
) -> GcpIdentity:
    """Return the identity of a Google Cloud call from ``protoPayload.authenticationInfo``.

    Parameters
    ----------
    authentication : mapping
        ``authenticationInfo`` (may be empty).
    project : str or None
        The project of the entry, for ``unknown:<project>``.
    system_event : bool
        The entry is a system event (``cloudaudit.googleapis.com/system_event``): Google
        made it, whoever it names.
    """
    email = authentication.get("principalEmail")
    subject = authentication.get("principalSubject")
    email = email.strip().lower() if isinstance(email, str) and email.strip() else None
    subject = subject if isinstance(subject, str) else None
    person, issuer = _person_of(authentication.get("serviceAccountDelegationInfo"))
    if email is None and subject is not None and subject.startswith("user:"):
        email = subject.removeprefix("user:").lower()
    if system_event or (email is not None and _SERVICE_AGENT.match(email)):
        name = email or "system@google.com"
        return GcpIdentity(f"gcp:service:{name}", "ServiceAgent", email, None, None, None, True)
    if email is not None and _SERVICE_ACCOUNT.match(email):
        owner = _project_of(email)
        if person is not None:
            return GcpIdentity(
                f"gcp:sa:{email}/{person}", "ServiceAccount", email, owner, person, issuer, False
            )
        return GcpIdentity(f"gcp:sa:{email}", "ServiceAccount", email, owner, None, issuer, False)
    if email is not None:
        return GcpIdentity(f"gcp:user:{email}", "GoogleUser", email, None, None, None, False)
    if subject is not None:
        pool = _POOL.match(subject)
        if pool is not None:
            name = pool.group(1)
            return GcpIdentity(
                f"gcp:wif:{name}", "WorkloadIdentity", subject, None, None, issuer or name, False
            )
    return GcpIdentity(f"unknown:{project or '-'}", "Unknown", None, None, None, None, False)


def gcp_peer_groups(identity_key: str) -> tuple[str, ...]:
    """Name the groups a Google Cloud identity is compared with while it has no past (ADR 0022).

    A person with the people of the same domain; a person acting as a service account
    with the others acting as it, then the people of the domain; a service account with
    the service accounts of the same name in other projects (the same workload deployed
    elsewhere, as an AWS role with the same-named roles), then those of its project, then
    every service account.

    Examples
    --------
    >>> gcp_peer_groups("gcp:sa:deploy@web-prod.iam.gserviceaccount.com/alice@corp.example")
    ('people acting as deploy@web-prod.iam.gserviceaccount.com', 'Google people of corp.example')
    """
    kind, _, rest = identity_key.removeprefix("gcp:").partition(":")
    if kind == "user":
        return (f"Google people of {rest.rsplit('@', 1)[-1]}",)
    if kind == "sa":
        account, _, person = rest.partition("/")
        if person:
            return (
                f"people acting as {account}",
                f"Google people of {person.rsplit('@', 1)[-1]}",
            )
        project = _project_of(account) or account.rsplit("@", 1)[-1]
        name = account.split("@", 1)[0]
        return (
            f"{name} service accounts in other projects",
            f"service accounts of project {project}",
            "Google service accounts",
        )
    return ()
