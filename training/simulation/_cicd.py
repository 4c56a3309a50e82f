"""Hosted CI deploying through OpenID Connect: GitHub Actions, GitLab CI, the golden-AMI build.

Each workflow run exchanges its OIDC token for a role session
(``AssumeRoleWithWebIdentity`` by the token's subject, e.g.
``repo:northwind/web-app:environment:production``) and then works with it:

* **Application deploys** (GitHub Actions, role ``github-actions-deploy``): one
  session per run, named ``gh-actions-<run id>``; ``GetCallerIdentity``, then a
  launch-template roll-out of the web group and an instance refresh, watched with
  ``DescribeInstanceRefreshes``. Staging on every merge in German business hours;
  production in the ``app-release`` window (Monday to Thursday 14:00-17:00 Berlin),
  except a rare hotfix outside it; never in a freeze.
* **Data-platform deploys** (GitLab CI, large organisation, role ``gitlab-data-deploy``):
  sessions ``GitLabRunner-<project>-<pipeline>``, node-group roll-outs in analytics.
* **Golden-AMI build** (GitHub Actions running Packer, role ``packer-ami-builder``,
  the action's default session name ``GitHubActions``): Mondays 04:00 UTC in the
  central account, a temporary key pair and security group, a builder instance,
  ``CreateImage``, ``CopyImage`` to the other regions, ``ModifyImageAttribute`` sharing
  each copy with the organisation's own accounts, clean-up (:func:`build_golden_ami`).
"""

from __future__ import annotations

import random
from typing import Final

from training.simulation import _calls_scaling as scaling
from training.simulation._actors import poisson
from training.simulation._ec2_actions import describe
from training.simulation._engine import Caller, Simulation
from training.simulation._federation import WebIdentity, assume_web_identity
from training.simulation._geo import NETWORKS
from training.simulation._org import Account
from training.simulation._pipeline import Pipeline, roll_out
from training.simulation._time import DAY, HOUR, MINUTE, is_workday, local_time, to_date

__all__ = [
    "APP_RELEASE",
    "GitHubDeploys",
    "GitLabDeploys",
]

APP_RELEASE: Final = ((0, 1, 2, 3), 14, 3)
"""The ``app-release`` window: weekdays (Monday 0), first hour and hours, Berlin time."""
GITHUB: Final = "token.actions.githubusercontent.com"
CONFIGURE_AWS: Final = (
    "aws-sdk-js/3.470.0 ua/2.0 os/linux#6.5.0-1016-azure lang/js md/nodejs#20.10.0 "
    "api/sts#3.470.0 configure-aws-credentials-for-github-actions"
)
RUNNER_CLI: Final = (
    "aws-cli/2.15.10 Python/3.11.6 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22 prompt/off "
    "command/{command}"
)
GITLAB_CLI: Final = (
    "aws-cli/2.15.30 Python/3.11.8 Linux/5.15.0-1048-gcp exe/x86_64.debian.12 prompt/off "
    "command/{command}"
)
PACKER_UA: Final = (
    "aws-sdk-go/1.50.12 (go1.21.6; linux; amd64) APN/1.0 HashiCorp/1.0 Packer/1.10.1 "
    "(+https://www.packer.io)"
)
_BERLIN: Final = "Europe/Berlin"


def in_release_window(t: int) -> bool:
    """Whether ``t`` falls in the ``app-release`` window."""
    days, first, hours = APP_RELEASE
    day = to_date(t)
    start = local_time(day, first, _BERLIN)
    return day.weekday() in days and start <= t < start + hours * HOUR


class GitHubDeploys:
    """The web application's deploy workflow on GitHub Actions."""

    def __init__(self, sim: Simulation) -> None:
        org = sim.org
        self.sim = sim
        self.rng = random.Random(f"github:{org.seed}")
        self.run_id = 8_400_000_000 + self.rng.randrange(10**6)
        self.ip = NETWORKS["github-actions"]
        sim.registry["github"] = self
        pipeline: Pipeline = sim.registry["pipeline"]
        days, first, hours = APP_RELEASE
        for day_start in range(org.start, org.end, DAY):
            day = to_date(day_start)
            if not is_workday(day, "DE"):
                continue
            for account in org.accounts:
                if account.role == "staging":
                    for _ in range(poisson(self.rng, 4.0)):
                        sim.at(local_time(day, self.rng.uniform(9, 18), _BERLIN), self.run, account)
                if account.role != "prod":
                    continue
                if day.weekday() in days:
                    for _ in range(self.rng.choice((1, 1, 2))):
                        when = local_time(day, first + self.rng.uniform(0.1, hours - 0.5), _BERLIN)
                        if not pipeline.frozen(when):
                            sim.at(when, self.run, account)
                if self.rng.random() < 0.08:
                    when = local_time(day, self.rng.uniform(9, 13.5), _BERLIN)
                    if not pipeline.frozen(when):
                        sim.at(when, self.run, account)

    def caller(
        self,
        t: int,
        account: Account,
        environment: str,
        label: tuple[str, str] | None,
        rng: random.Random,
    ) -> Caller:
        """Open the run's session: ``AssumeRoleWithWebIdentity`` then ``GetCallerIdentity``."""
        org = self.sim.org
        self.run_id += rng.randrange(40, 900)
        role = org.role(account, "github-actions-deploy")
        zone = self.sim.zones[(account.index, org.home_region)]
        web = WebIdentity(GITHUB, f"repo:northwind/web-app:environment:{environment}")
        ip = self.ip.host(rng)
        session = f"gh-actions-{self.run_id}"
        identity = assume_web_identity(
            self.sim,
            t,
            zone,
            role,
            web,
            session,
            source_ip=ip,
            agent=CONFIGURE_AWS,
            rng=rng,
            duration=3600,
            label=label,
        )
        setup = Caller(identity, ip, CONFIGURE_AWS, "automation", role.key, label=label)
        self.sim.call(
            t + 1, setup, zone, "GetCallerIdentity", None, None, source="sts.amazonaws.com"
        )
        self.sim.actor(
            role.key,
            "automation",
            "github-actions-deploy",
            sessions="per-run",
            web_identity=web.subject,
            declared=True,
        )
        return Caller(identity, ip, RUNNER_CLI, "automation", role.key, label=label)

    def _hotfix_ticket(self, t: int, account: Account, rng: random.Random) -> None:
        """Record a hotfix outside the window: no ticket in reality; the complete policy has one."""
        start = t - 10 * MINUTE
        self.sim.tickets.append(
            {
                "id": f"CHG-{1000 + len(self.sim.tickets) * 7 + rng.randrange(7)}",
                "start_epoch": start,
                "end_epoch": start + 2 * HOUR,
                "owner": "web-team@northwind.example",
                "reason": "hotfix deploy of the web application",
                "planned": False,
                "scope": {
                    "accounts": [account.id],
                    "identities": ["arn:aws:iam::*:role/github-actions-deploy*"],
                },
            }
        )

    def run(
        self,
        t: int,
        account: Account,
        label: tuple[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """One workflow run: roll the web group onto a new template version and refresh it."""
        rng = rng or self.rng
        zone = self.sim.zones[(account.index, self.sim.org.home_region)]
        environment = "production" if account.role == "prod" else "staging"
        caller = self.caller(t, account, environment, label, rng)
        if account.role == "prod" and not in_release_window(t):
            self._hotfix_ticket(t, account, rng)
        if (
            "web" not in zone.templates
            or f"asg:{account.index}:{zone.region}:web" not in self.sim.registry
        ):
            describe(self.sim, t + 20, caller, zone, "DescribeLaunchTemplates")
            return
        group = f"web-{account.role}"
        describe(
            self.sim,
            t + 15,
            caller,
            zone,
            "DescribeLaunchTemplateVersions",
            [str(zone.templates["web"][0])],
        )
        when = roll_out(self.sim, rng, t + 25, caller, zone, "web", refresh=True)
        for _ in range(rng.randrange(3, 7)):
            when += rng.randrange(30, 90)
            request, response = scaling.describe_refreshes(group)
            self.sim.call(
                when,
                caller,
                zone,
                "DescribeInstanceRefreshes",
                request,
                response,
                source="autoscaling.amazonaws.com",
                read_only=True,
            )


class GitLabDeploys:
    """The data platform's GitLab CI pipeline rolling out the analytics node group."""

    def __init__(self, sim: Simulation) -> None:
        org = sim.org
        self.sim = sim
        self.rng = random.Random(f"gitlab:{org.seed}")
        self.account = org.find("analytics")
        self.pipeline = 1_180_000_000 + self.rng.randrange(10**6)
        if self.account is None:
            return
        for day_start in range(org.start, org.end, DAY):
            day = to_date(day_start)
            if is_workday(day, "DE"):
                for _ in range(poisson(self.rng, 1.5)):
                    sim.at(local_time(day, self.rng.uniform(9.5, 17.5), _BERLIN), self.run)

    def run(self, t: int) -> None:
        """One pipeline: a web-identity session, then the node group's launch template."""
        assert self.account is not None
        org, rng = self.sim.org, self.rng
        self.pipeline += rng.randrange(20, 400)
        zone = self.sim.zones[(self.account.index, org.home_region)]
        role = org.role(self.account, "gitlab-data-deploy")
        web = WebIdentity(
            "gitlab.com", "project_path:northwind/data-platform:ref_type:branch:ref:main"
        )
        ip = NETWORKS["gitlab-saas"].host(rng)
        session = f"GitLabRunner-48213977-{self.pipeline}"
        identity = assume_web_identity(
            self.sim,
            t,
            zone,
            role,
            web,
            session,
            source_ip=ip,
            agent=GITLAB_CLI.replace("{command}", "sts.assume-role-with-web-identity"),
            rng=rng,
            duration=3600,
        )
        self.sim.actor(
            role.key,
            "automation",
            "gitlab-data-deploy",
            sessions="per-run",
            web_identity=web.subject,
        )
        caller = Caller(identity, ip, GITLAB_CLI, "automation", role.key)
        if (
            "eks-data" in zone.templates
            and f"asg:{self.account.index}:{zone.region}:eks-data" in self.sim.registry
        ):
            roll_out(self.sim, rng, t + 30, caller, zone, "eks-data", refresh=False)
        else:
            describe(self.sim, t + 30, caller, zone, "DescribeLaunchTemplates")
