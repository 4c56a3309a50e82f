"""Shared by every actor: client user agents, sessions, the day curve, the deploy windows."""

from __future__ import annotations

import math
import random
from typing import Any, Final

from training.simulation._engine import Caller, Simulation
from training.simulation._org import Account, Organisation, Person, Role
from training.simulation._time import (
    DAY,
    HOUR,
    local_day_start,
    local_time,
    to_date,
)

__all__ = [
    "APP_UA",
    "BOTO3_UA",
    "DEPLOY_DAYS",
    "DEPLOY_HOUR",
    "DEPLOY_HOURS",
    "DEPLOY_TZ",
    "GPU_TYPES",
    "KARPENTER_VERSIONS",
    "LEGACY_CLI_UA",
    "LEGACY_UA",
    "MONITOR_UA",
    "NODE_UA",
    "TERRAFORM_VERSIONS",
    "automation_caller",
    "cli_agent",
    "curve",
    "daily",
    "every",
    "human_scale",
    "in_window",
    "person_caller",
    "poisson",
    "region_tz",
    "service_caller",
    "terraform_agent",
    "window_starts",
]

_DAY_CURVE: Final = (
    0.10,
    0.06,
    0.05,
    0.05,
    0.06,
    0.10,
    0.22,
    0.45,
    0.72,
    0.90,
    1.00,
    1.00,
    0.96,
    0.95,
    1.00,
    1.00,
    0.96,
    0.88,
    0.74,
    0.62,
    0.50,
    0.38,
    0.26,
    0.16,
)
DEPLOY_DAYS: Final = (1, 3)
"""Weekdays (Monday 0) of the approved deploy window."""
DEPLOY_HOUR: Final = 10
DEPLOY_HOURS: Final = 4
DEPLOY_TZ: Final = "Europe/Berlin"
MONITOR_UA: Final = "aws-sdk-go/1.44.327 (go1.20.7; linux; amd64) Datadog-AWS-Integration/2.0"
KARPENTER_VERSIONS: Final = ("0.31.3", "0.32.1")
TERRAFORM_VERSIONS: Final = (
    ("1.7.4", "5.40.0", "1.25.2", "1.149.1"),
    ("1.7.5", "5.42.0", "1.25.3", "1.151.0"),
)
LEGACY_UA: Final = "Boto3/1.17.112 Python/3.6.9 Linux/4.15.0-213-generic Botocore/1.20.112"
LEGACY_CLI_UA: Final = "aws-cli/1.18.69 Python/3.6.9 Linux/4.15.0-213-generic botocore/1.16.19"
BOTO3_UA: Final = (
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/macos#23.3.0 md/arch#arm64 lang/python#3.11.8 "
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69"
)
NODE_UA: Final = "aws-sdk-go/1.50.30 (go1.21.8; linux; amd64)"
APP_UA: Final = (
    "aws-sdk-java/2.25.11 Linux/6.1.79-99.164.amzn2023.x86_64"
    " OpenJDK_64-Bit_Server_VM/17.0.10+8-LTS Java/17.0.10 vendor/Amazon.com_Inc. md/internal"
    " exec-env/AWS_ECS_EC2 io/sync http/Apache"
    " cfg/retry-mode/legacy"
)
GPU_TYPES: Final = ("g5.xlarge", "g5.2xlarge", "g4dn.xlarge", "p3.2xlarge")


def curve(t: int, timezone: str) -> float:
    """Activity level 0..1 of customers in ``timezone`` at ``t`` (weekends at 60 %)."""
    day = to_date(t)
    hour = int((t - local_day_start(day, timezone)) // HOUR) % 24
    level = _DAY_CURVE[hour]
    return level * (0.6 if day.weekday() >= 5 else 1.0)


def region_tz(region: str) -> str:
    return "America/New_York" if region.startswith(("us-", "ca-")) else "Europe/Berlin"


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def daily(sim: Simulation, callback: Any, *args: Any) -> None:
    """Schedule ``callback(day_start, *args)`` at every UTC midnight of the simulation."""
    for day in range(sim.org.start, sim.org.end, DAY):
        sim.at(day, callback, *args)


def terraform_agent(org: Organisation, t: int) -> str:
    """Return the pipeline's Terraform user agent at ``t`` (the provider upgrades mid-baseline)."""
    upgrade = org.start + int((org.test_start - org.start) * 0.45)
    tf, provider, sdk, api = TERRAFORM_VERSIONS[1 if t >= upgrade else 0]
    return (
        f"APN/1.0 HashiCorp/1.0 Terraform/{tf} (+https://www.terraform.io) "
        f"terraform-provider-aws/{provider} "
        "(+https://registry.terraform.io/providers/hashicorp/aws) "
        f"aws-sdk-go-v2/{sdk} os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/ec2#{api}"
    )


def cli_agent(person: Person, t: int) -> str:
    """Return the aws-cli v2 user agent of ``person`` at ``t``, with a ``{command}`` slot."""
    version = person.cli_version(t)
    return f"aws-cli/{version} Python/3.11.8 {person.os_tag} prompt/off command/{{command}}"


def automation_caller(
    org: Organisation,
    account: Account,
    t: int,
    rng: random.Random,
    *,
    source_ip: str | None = None,
    agent: str | None = None,
) -> Caller:
    """Open a session of the Terraform deploy role as the CI pipeline does."""
    role = org.role(account, "deploy-terraform")
    session = f"gitlab-ci-{rng.randrange(4_000_000, 9_000_000)}"
    return Caller(
        role.session(session, t - rng.randrange(5, 40), rng),
        source_ip or org.ci_host,
        agent or terraform_agent(org, t),
        "automation",
        role.key,
    )


def person_caller(
    org: Organisation,
    person: Person,
    account: Account,
    t: int,
    rng: random.Random,
    *,
    console: bool,
    source_ip: str,
    agent: str | None = None,
) -> Caller:
    """Open a session of ``person`` in ``account`` through their SSO permission set."""
    role = org.sso_roles[(account.index, person.permission_set)]
    if agent is None:
        agent = person.browser(t) if console else cli_agent(person, t)
    return Caller(
        role.session(person.email, t - rng.randrange(30, 3 * HOUR), rng),
        source_ip,
        agent,
        "person",
        f"{role.key}/{person.email}",
        console=console,
    )


def service_caller(role: Role, session: str, host: str, t: int, rng: random.Random) -> Caller:
    return Caller(
        role.session(session, t, rng, invoked_by=host),
        host,
        host,
        "service",
        role.key,
        service=True,
    )


def window_starts(org: Organisation) -> list[int]:
    """Epoch starts of every approved deploy window inside the simulation (freezes included)."""
    starts = []
    for offset in range(0, org.end - org.start, DAY):
        day = to_date(org.start + offset)
        if day.weekday() in DEPLOY_DAYS:
            starts.append(local_time(day, DEPLOY_HOUR, DEPLOY_TZ))
    return starts


def in_window(org: Organisation, t: int) -> bool:
    """Whether ``t`` falls in an approved deploy window."""
    return any(start <= t < start + DEPLOY_HOURS * HOUR for start in window_starts(org))


def every(org: Organisation, seconds: int) -> int:
    """Return a polling interval: ``seconds`` at scale 1, stretched (never shortened) below.

    Pollers keep their real cadence in busy organisations and slow down in small
    simulations, so that ``--scale`` below 1 makes every actor quieter.
    """
    return int(seconds / min(1.0, max(0.05, org.scale)))


def human_scale(org: Organisation) -> float:
    return max(0.25, math.sqrt(org.scale))
