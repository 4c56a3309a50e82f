"""Lambda automation: schedulers, scalers and housekeeping acting all day, outside every window.

A function deployed in an account acts through its execution role, whose sessions
Lambda names after the function (``.../assumed-role/instance-scheduler-role/instance-scheduler``).
Central functions of the shared account (or of staging in the small organisation)
assume a role in each account they manage and name those sessions as their code
does: ``botocore-session-<epoch>`` (boto3 with a role profile), UUIDs, hex strings,
``aws-go-sdk-<nanoseconds>``. Their calls come from the NAT of the account they run in.

* ``instance-scheduler`` (Python, per non-production account): every five minutes
  reads the tagged instances; starts them at 07:00 and stops them at 19:00 Berlin time
  on German workdays.
* ``ci-runner-scaler`` (Node.js, central): polls every two minutes; launches
  ephemeral CI runners as jobs queue (mostly on workdays) and terminates them when idle.
* ``ami-housekeeping`` (Python, central, ``botocore-session-``): nightly, deregisters
  golden images older than two weeks beyond the newest three in every account and region.
* ``backup-restore-test`` (Python, central, UUID sessions): the weekly restore test of
  :func:`._backup.restore_test`, Wednesdays 03:00 UTC in the baseline (in the test
  period it is the hard negative ``backup_restore_test``).
* ``tag-compliance`` (Python, central, hex sessions): hourly, tags new untagged
  instances and volumes with their cost centre.
* ``cost-optimizer`` (Go, central, ``aws-go-sdk-``; large organisation): nightly reads
  of the non-production accounts; on Sundays deletes their manual snapshots older than
  two weeks.
"""

from __future__ import annotations

import random
from typing import Final

from training.simulation import _calls as calls
from training.simulation import _calls_images as images
from training.simulation._actors import curve, every, poisson
from training.simulation._backup import restore_test
from training.simulation._ec2_actions import describe, launch_request
from training.simulation._engine import Caller, Resource, Simulation, Zone
from training.simulation._federation import session_name
from training.simulation._ids import resource_id
from training.simulation._org import Account
from training.simulation._time import DAY, HOUR, MINUTE, is_workday, local_time, to_date

__all__ = ["LAMBDA_UA", "Function", "restore_caller", "start_lambdas"]

_KERNEL: Final = "os/linux#5.10.209-219.811.amzn2.x86_64"
LAMBDA_UA: Final = {
    "python": (
        f"Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 {_KERNEL} md/arch#x86_64 lang/python#3.11.8 "
        "md/pyimpl#CPython exec-env/AWS_Lambda_python3.11 cfg/retry-mode#legacy Botocore/1.34.42"
    ),
    "node": (
        f"aws-sdk-js/3.496.0 ua/2.0 {_KERNEL} lang/js md/nodejs#20.11.0 api/ec2#3.496.0 "
        "exec-env/AWS_Lambda_nodejs20.x"
    ),
    "go": (
        "aws-sdk-go-v2/1.25.0 os/linux lang/go#1.22.0 md/GOOS#linux md/GOARCH#amd64 "
        "exec-env/AWS_Lambda_provided.al2 api/ec2#1.148.0"
    ),
}
"""User agents of the functions' runtimes."""


class Function:
    """One Lambda function: where it runs, the role it acts through, how its sessions look.

    Parameters
    ----------
    sim : Simulation
        The simulation.
    name : str
        The function's name.
    runtime : str
        ``python``, ``node`` or ``go`` (:data:`LAMBDA_UA`).
    assumes : str, optional
        Role the function assumes in the accounts it manages; ``None`` when it acts
        through its own execution role in the account it is deployed to.
    style : str
        How its assumed sessions are named (``function`` for the execution role).
    """

    def __init__(
        self, sim: Simulation, name: str, runtime: str, assumes: str | None, style: str
    ) -> None:
        org = sim.org
        self.sim, self.name, self.assumes, self.style = sim, name, assumes, style
        self.agent = LAMBDA_UA[runtime]
        self.rng = random.Random(f"lambda:{org.seed}:{name}")
        self.home = org.central()
        self.ip = org.nat[(self.home.index, org.home_region)].host(self.rng)
        self._warm: dict[int, tuple[int, Caller]] = {}

    def caller(self, t: int, account: Account, label: tuple[str, str] | None = None) -> Caller:
        """Return the function's session acting in ``account`` at ``t``."""
        org, rng = self.sim.org, self.rng
        if self.assumes is None:
            warm = self._warm.get(account.index)
            if warm is None or t >= warm[0]:
                role = org.role(account, f"{self.name}-role")
                ip = org.nat[(account.index, org.home_region)].host(rng)
                created = t - rng.randrange(1, 30)
                caller = Caller(
                    role.session(self.name, created, rng), ip, self.agent, "automation", role.key
                )
                warm = self._warm[account.index] = (t + rng.randrange(HOUR, 4 * HOUR), caller)
                self.sim.actor(role.key, "automation", self.name, sessions="function")
            return warm[1]
        role = org.role(account, self.assumes)
        session = session_name(self.style, t, rng)
        self.sim.actor(role.key, "automation", self.name, sessions=self.style)
        return Caller(
            role.session(session, t, rng), self.ip, self.agent, "automation", role.key, label=label
        )

    def zone(self, account: Account, region: str | None = None) -> Zone:
        """Return the zone of ``account`` in ``region`` (the home region by default)."""
        return self.sim.zones[(account.index, region or self.sim.org.home_region)]


class InstanceScheduler(Function):
    """Starts tagged non-production instances at 07:00 and stops them at 19:00 (Berlin)."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim, "instance-scheduler", "python", None, "function")
        org = sim.org
        self.accounts = [a for a in org.accounts if a.role in ("staging", "dev", "sandbox")]
        step = every(org, 300)
        for t in range(org.start + self.rng.randrange(step), org.end, step):
            sim.at(t, self.run)

    def run(self, t: int) -> None:
        """Read the scheduled instances; start or stop those not in their scheduled state."""
        day = to_date(t)
        office = is_workday(day, "DE") and (
            local_time(day, 7, "Europe/Berlin") <= t < local_time(day, 19, "Europe/Berlin")
        )
        wanted, unwanted = ("running", "stopped") if office else ("stopped", "running")
        for account in self.accounts:
            zone = self.zone(account)
            caller = self.caller(t, account)
            describe(self.sim, t, caller, zone, "DescribeInstances")
            due = zone.usable(
                zone.instances, t, lambda r: bool(r.attrs.get("schedule")) and r.state == unwanted
            )
            if not due:
                continue
            ids = sorted(r.id for r in due)
            name = "StartInstances" if office else "StopInstances"
            request, response = calls.state_change(
                name, ids, unwanted, "pending" if office else "stopping"
            )
            self.sim.call(t + 3, caller, zone, name, request, response)
            for resource in due:
                resource.state, resource.last = wanted, t + 3


class RunnerScaler(Function):
    """Launches ephemeral CI runners as jobs queue; terminates them when idle."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim, "ci-runner-scaler", "node", None, "function")
        org = sim.org
        self.zone_ = self.zone(self.home)
        self.scale = org.scale
        step = every(org, 120)
        for t in range(org.start + self.rng.randrange(step), org.end, step):
            sim.at(t, self.poll)
        for hour in range(org.start, org.end, HOUR):
            sim.at(hour + self.rng.randrange(60), self.plan)

    def poll(self, t: int) -> None:
        """Check the queue (the runners' state)."""
        describe(self.sim, t, self.caller(t, self.home), self.zone_, "DescribeInstances")

    def plan(self, t: int) -> None:
        """Schedule the hour's launches from the workday curve."""
        level = curve(t, "Europe/Berlin") * (1.0 if is_workday(to_date(t), "DE") else 0.1)
        for _ in range(poisson(self.rng, 3.0 * self.scale * level)):
            self.sim.at(t + self.rng.randrange(0, 55 * MINUTE), self.launch)

    def launch(self, t: int) -> None:
        """``RunInstances`` of one or two runners, terminated 15-90 minutes later."""
        zone, rng = self.zone_, self.rng
        ids = [resource_id("i", rng) for _ in range(rng.choice((1, 1, 2)))]
        request, response = launch_request(
            rng,
            zone,
            ids,
            "c6i.xlarge",
            zone.subnet(rng),
            t,
            tags={"Name": "ci-runner-ephemeral", "ci-runner": "ephemeral"},
        )
        if not self.sim.call(t, self.caller(t, self.home), zone, "RunInstances", request, response):
            return
        for instance_id in ids:
            zone.instances[instance_id] = Resource(instance_id, t, t, "running", {"runner": True})
        self.sim.at(t + rng.randrange(15 * MINUTE, 90 * MINUTE), self.retire, ids)

    def retire(self, t: int, ids: list[str]) -> None:
        """``TerminateInstances`` of idle runners."""
        zone = self.zone_
        live = [i for i in ids if i in zone.instances]
        if not live:
            return
        when = max(t, *(zone.instances[i].last for i in live))
        states = {zone.instances[i].state for i in live}
        request, response = calls.state_change(
            "TerminateInstances",
            live,
            "stopped" if states == {"stopped"} else "running",
            "shutting-down",
        )
        self.sim.call(
            when, self.caller(when, self.home), zone, "TerminateInstances", request, response
        )
        for instance_id in live:
            del zone.instances[instance_id]


class AmiHousekeeping(Function):
    """Nightly: deregisters old golden images in every account and region."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim, "ami-housekeeping", "python", "ops-automation", "botocore")
        for day in range(sim.org.start, sim.org.end, DAY):
            sim.at(day + 2 * HOUR + 15 * MINUTE + self.rng.randrange(300), self.run)

    def run(self, t: int) -> None:
        """Per account: read images and snapshots; deregister superseded golden images."""
        org, rng = self.sim.org, self.rng
        when = t
        for account in org.accounts:
            if account.role == "backup":
                continue
            caller = self.caller(when, account)
            for region in org.regions:
                zone = self.zone(account, region)
                describe(self.sim, when, caller, zone, "DescribeImages")
                golden = sorted(
                    zone.usable(zone.images, when, lambda r: bool(r.attrs.get("golden"))),
                    key=lambda r: (r.created, r.id),
                )
                for image in golden[:-3]:
                    if image.created < t - 14 * DAY:
                        when += rng.randrange(1, 4)
                        request, response = images.deregister_image(image.id)
                        self.sim.call(when, caller, zone, "DeregisterImage", request, response)
                        del zone.images[image.id]
                when += rng.randrange(1, 5)


class TagCompliance(Function):
    """Hourly: tags new, untagged instances and volumes with their cost centre."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim, "tag-compliance", "python", "tag-compliance", "hex")
        self.accounts = [a for a in sim.org.accounts if a.role != "backup"]
        self.step = every(sim.org, HOUR)
        for hour in range(sim.org.start, sim.org.end, self.step):
            sim.at(hour + 40 * MINUTE + self.rng.randrange(600), self.run)

    def run(self, t: int) -> None:
        """Read instances and volumes of each account; tag what the last hour created."""
        for account in self.accounts:
            zone = self.zone(account)
            caller = self.caller(t, account)
            describe(self.sim, t, caller, zone, "DescribeInstances")
            describe(self.sim, t + 1, caller, zone, "DescribeVolumes")
            fresh = [
                r
                for pool in (zone.instances, zone.volumes)
                for r in zone.usable(
                    pool, t, lambda r: r.created > t - self.step and not r.attrs.get("costed")
                )
            ][:20]
            if not fresh:
                continue
            ids = sorted(r.id for r in fresh)
            request, response = calls.create_tags(ids, {"CostCenter": zone.account.role})
            self.sim.call(t + 2, caller, zone, "CreateTags", request, response)
            for resource in fresh:
                resource.attrs["costed"] = True
                resource.last = max(resource.last, t + 2)


class CostOptimizer(Function):
    """Nightly reads of non-production; on Sundays deletes old manual snapshots there."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim, "cost-optimizer", "go", "finops-rightsizing", "aws-go-sdk")
        self.accounts = [a for a in sim.org.accounts if a.role in ("dev", "sandbox", "analytics")]
        for day in range(sim.org.start, sim.org.end, DAY):
            sim.at(
                local_time(to_date(day), 21, "Europe/Berlin") + self.rng.randrange(600), self.run
            )

    def run(self, t: int) -> None:
        """Read each account; on Sunday delete its manual snapshots older than 14 days."""
        for account in self.accounts:
            zone, caller = self.zone(account), self.caller(t, account)
            for offset, name in enumerate(
                ("DescribeInstances", "DescribeVolumes", "DescribeSnapshots")
            ):
                describe(self.sim, t + offset, caller, zone, name)
            if to_date(t).weekday() != 6:
                continue
            old = zone.usable(
                zone.snapshots,
                t,
                lambda s: bool(s.attrs.get("manual")) and s.created < t - 14 * DAY,
            )
            for index, snapshot in enumerate(sorted(old, key=lambda s: s.id)[:10]):
                request, response = calls.delete_snapshot(snapshot.id)
                self.sim.call(t + 5 + index, caller, zone, "DeleteSnapshot", request, response)
                del zone.snapshots[snapshot.id]


def restore_caller(sim: Simulation, t: int, label: tuple[str, str] | None = None) -> Caller:
    """Return the restore-test function's session in production at ``t``."""
    function: Function = sim.registry["lambda:backup-restore-test"]
    return function.caller(t, sim.org.account("prod"), label)


class RestoreTest(Function):
    """The weekly backup restore test in production (baseline only)."""

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim, "backup-restore-test", "python", "backup-restore-test", "uuid")
        org = sim.org
        for day in range(org.start, org.test_start, DAY):
            if to_date(day).weekday() == 2:
                sim.at(day + 3 * HOUR + self.rng.randrange(600), self.run)

    def run(self, t: int) -> None:
        """Restore last night's backup onto a test instance and clean up."""
        prod = self.sim.org.account("prod")
        restore_test(self.sim, t, self.rng, self.caller(t, prod), self.zone(prod))


_FUNCTIONS: Final = {
    "instance-scheduler": InstanceScheduler,
    "ci-runner-scaler": RunnerScaler,
    "ami-housekeeping": AmiHousekeeping,
    "backup-restore-test": RestoreTest,
    "tag-compliance": TagCompliance,
    "cost-optimizer": CostOptimizer,
}


def start_lambdas(sim: Simulation) -> None:
    """Start the Lambda automation the organisation's preset names."""
    for name in sim.org.preset.lambdas:
        sim.registry[f"lambda:{name}"] = _FUNCTIONS[name](sim)
