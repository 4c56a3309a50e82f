"""Sessions as automation opens them: generated session names and web-identity federation.

Automation rarely names its sessions: the SDKs do. A web-identity session of the Go
SDK v1 is named after the current time in nanoseconds (``1774852212345678901``), the
Go SDK v2 adds ``aws-go-sdk-``, botocore writes ``botocore-session-<epoch>``;
hand-written code uses UUIDs or hex strings, Lambda names the execution role's
session after the function, and GitHub Actions' ``configure-aws-credentials`` calls
every session ``GitHubActions`` unless the workflow names it (``gh-actions-<run id>``).
:func:`session_name` draws each style.

Web-identity sessions (EKS IRSA, GitHub Actions, GitLab CI) start with an
``AssumeRoleWithWebIdentity`` call by a ``WebIdentityUser`` (:func:`assume_web_identity`)
and then carry ``sessionContext.webIdFederationData.federatedProvider``.
:class:`Credentials` renews such a session the way the SDKs do: before the hour-long
credentials expire.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from training.simulation._engine import Caller, Simulation, Zone
from training.simulation._ids import uuid
from training.simulation._org import Role
from training.simulation._time import MINUTE

__all__ = [
    "SESSION_STYLES",
    "Credentials",
    "WebIdentity",
    "assume_web_identity",
    "session_name",
]

SESSION_STYLES: Final = (
    "nanos",
    "aws-go-sdk",
    "botocore",
    "uuid",
    "hex",
    "function",
    "per-run",
    "fixed",
    "web-identity-token",
)
"""How an identity's sessions are named (the manifest's ``sessions``)."""

_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


def session_name(style: str, t: int, rng: random.Random, fixed: str = "") -> str:
    """Return a session name of ``style`` opened at ``t`` (``fixed`` for named styles)."""
    if style == "nanos":
        return f"{t}{rng.randrange(10**9):09d}"
    if style == "aws-go-sdk":
        return f"aws-go-sdk-{t}{rng.randrange(10**9):09d}"
    if style == "botocore":
        return f"botocore-session-{t}"
    if style == "uuid":
        return uuid(rng)
    if style == "hex":
        return f"{rng.getrandbits(64):016x}"
    return fixed


@dataclass(frozen=True, slots=True)
class WebIdentity:
    """Who presents the OpenID Connect token: the provider (issuer) and the token's subject."""

    issuer: str
    subject: str
    audience: str = "sts.amazonaws.com"

    def provider(self, account: str) -> str:
        """Return the ARN of the IAM OIDC provider of ``issuer`` in ``account``."""
        return f"arn:aws:iam::{account}:oidc-provider/{self.issuer}"


def _expiration(t: int) -> str:
    """CloudTrail's form of a credential expiry: ``Mar 30, 2026, 11:04:05 AM``."""
    moment = datetime.fromtimestamp(t, UTC)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (
        f"{_MONTHS[moment.month - 1]} {moment.day}, {moment.year}, "
        f"{hour}:{moment.minute:02d}:{moment.second:02d} {half}"
    )


def assume_web_identity(
    sim: Simulation,
    t: int,
    zone: Zone,
    role: Role,
    web: WebIdentity,
    session: str,
    *,
    source_ip: str,
    agent: str,
    rng: random.Random,
    duration: int | None = None,
    label: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Emit ``AssumeRoleWithWebIdentity`` at ``t``; return the new session's ``userIdentity``.

    The call is made by a ``WebIdentityUser`` (identity key ``federated:<principalId>``,
    kind ``automation``) through the regional STS endpoint of ``zone`` and recorded in
    the role's account.
    """
    provider = web.provider(role.account)
    identity = role.session(session, t, rng, provider=provider)
    principal = f"{provider}:{web.audience}:{web.subject}"
    user = {
        "type": "WebIdentityUser",
        "principalId": principal,
        "userName": web.subject,
        "identityProvider": provider,
    }
    request: dict[str, Any] = {"roleArn": role.arn, "roleSessionName": session}
    if duration is not None:
        request["durationSeconds"] = duration
    response = {
        "credentials": {
            "accessKeyId": identity["accessKeyId"],
            "expiration": _expiration(t + (duration or 3600)),
        },
        "subjectFromWebIdentityToken": web.subject,
        "assumedRoleUser": {"assumedRoleId": identity["principalId"], "arn": identity["arn"]},
        "provider": provider,
        "audience": web.audience,
    }
    key = f"federated:{principal}"
    sim.actor(key, "automation", web.subject, sessions="web-identity-token", issuer=web.issuer)
    caller = Caller(user, source_ip, agent, "automation", key, label=label)
    sim.call(
        t,
        caller,
        zone,
        "AssumeRoleWithWebIdentity",
        request,
        response,
        source="sts.amazonaws.com",
        read_only=True,
        extra={
            "resources": [{"accountId": role.account, "type": "AWS::IAM::Role", "ARN": role.arn}]
        },
    )
    return identity


class Credentials:
    """The web-identity credentials of one workload, renewed before they expire.

    Parameters
    ----------
    sim : Simulation
        The simulation.
    zone : Zone
        Account and region of the workload (its STS endpoint and NAT address).
    role : Role
        The role the workload assumes.
    web : WebIdentity
        Its token's issuer and subject.
    style : str
        How the SDK names sessions (:data:`SESSION_STYLES`).
    agent : str
        The workload's user agent.
    source_ip : str
        Where its calls come from.
    kind : str
        Identity kind for the manifest.
    rng : random.Random
        The workload's random stream.
    label : tuple of (str, str), optional
        Scenario label of every event (a hard negative's new workload).
    """

    def __init__(
        self,
        sim: Simulation,
        zone: Zone,
        role: Role,
        web: WebIdentity,
        style: str,
        agent: str,
        source_ip: str,
        kind: str,
        rng: random.Random,
        label: tuple[str, str] | None = None,
    ) -> None:
        self.sim, self.zone, self.role, self.web = sim, zone, role, web
        self.style, self.agent, self.source_ip, self.kind = style, agent, source_ip, kind
        self.rng, self.label = rng, label
        self._caller: Caller | None = None
        self._renew = 0

    def restart(self, agent: str) -> None:
        """Restart the workload with a new client (an upgrade): its next call opens a session."""
        self.agent = agent
        self._caller = None

    def caller(self, t: int) -> Caller:
        """Return the session valid at ``t``, opening a new one when the last is about to expire."""
        if self._caller is None or t >= self._renew:
            session = session_name(self.style, t, self.rng)
            identity = assume_web_identity(
                self.sim,
                t,
                self.zone,
                self.role,
                self.web,
                session,
                source_ip=self.source_ip,
                agent=self.agent,
                rng=self.rng,
                label=self.label,
            )
            self._caller = Caller(
                identity, self.source_ip, self.agent, self.kind, self.role.key, label=self.label
            )
            self._renew = t + self.rng.randrange(45 * MINUTE, 58 * MINUTE)
        return self._caller
