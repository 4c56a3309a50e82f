"""People: SSO users at work, their tickets and changes, the legacy and break-glass IAM users."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any

from training.simulation import _calls as calls
from training.simulation._actors import (
    BOTO3_UA,
    GPU_TYPES,
    LEGACY_CLI_UA,
    LEGACY_UA,
    human_scale,
    person_caller,
    poisson,
)
from training.simulation._ec2_actions import (
    describe,
    failed_call,
    fix_host,
    launch_request,
    pick_pet,
    snapshot_volume,
)
from training.simulation._engine import Caller, Resource, Simulation, Zone
from training.simulation._geo import NETWORKS
from training.simulation._ids import resource_id
from training.simulation._org import Account, Person
from training.simulation._pipeline import Pipeline
from training.simulation._time import DAY, HOUR, MINUTE, is_workday, local_time, to_date

__all__ = [
    "Human",
    "Legacy",
    "browse",
    "maintenance",
    "open_ticket",
    "run_drill",
    "scratch_instance",
]


class Human:
    """One person's working days."""

    def __init__(self, sim: Simulation, person: Person) -> None:
        self.sim, self.person = sim, person
        org = sim.org
        self.rng = random.Random(f"person:{org.seed}:{person.handle}")
        self.scale = human_scale(org)
        self.label: tuple[str, str] | None = None
        for day_start in range(org.start, org.end, DAY):
            self.plan(to_date(day_start))

    def plan(self, day: date) -> None:
        """Schedule the day's sessions in the person's business hours."""
        person, rng = self.person, self.rng
        noon = local_time(day, 12, person.timezone)
        if not person.active(noon) or not is_workday(day, person.country):
            if person.active(noon) and rng.random() < 0.03:
                self.sim.at(
                    local_time(day, rng.uniform(10, 21), person.timezone),
                    self.session,
                    "home",
                    True,
                )
            return
        if rng.random() < 0.08:
            return
        where = "office" if day.weekday() in person.office_days else "home"
        count = poisson(rng, 2.2 * person.activity)
        for _ in range(count):
            hour = rng.choice((rng.uniform(8.5, 12.0), rng.uniform(13.0, 18.5)))
            self.sim.at(local_time(day, hour, person.timezone), self.session, where, False)
        if rng.random() < 0.05:
            self.sim.at(
                local_time(day, rng.uniform(19.5, 23.0), person.timezone),
                self.session,
                "home",
                True,
            )
        if person.kind == "data-scientist" and rng.random() < 0.3:
            self.sim.at(local_time(day, rng.uniform(9.5, 16.0), person.timezone), self.gpu, where)

    def _ip(self, where: str) -> str:
        return self.person.office.host(self.rng) if where == "office" else self.person.home_ip

    def _account(self) -> Account:
        accounts = self.sim.org.accounts
        choices = [accounts[i] for i in self.person.accounts]
        return choices[0] if self.rng.random() < 0.45 else self.rng.choice(choices)

    def _zone(self, account: Account) -> Zone:
        regions = self.sim.org.regions
        region = regions[0] if self.rng.random() < 0.8 else self.rng.choice(regions)
        return self.sim.zones[(account.index, region)]

    def session(self, t: int, where: str, quiet: bool) -> None:
        """One sitting: console browsing or CLI commands, sometimes a change."""
        person, rng = self.person, self.rng
        if not person.active(t):
            return
        account = self._account()
        zone = self._zone(account)
        console = rng.random() < person.console_share
        caller = person_caller(
            self.sim.org, person, account, t, rng, console=console, source_ip=self._ip(where)
        )
        caller.label = self.label
        self._sit(t, caller, zone, console, quiet)

    def _sit(self, t: int, caller: Caller, zone: Zone, console: bool, quiet: bool) -> None:
        rng = self.rng
        when = browse(self.sim, rng, t, caller, zone, console, self.scale * (0.4 if quiet else 1.0))
        if quiet or self.person.kind == "data-scientist":
            return
        if rng.random() < 0.3:
            self.change(when + rng.randrange(30, 600), caller, zone)

    def change(self, t: int, caller: Caller, zone: Zone) -> None:
        """Make a small hands-on change; in production only under a ticket."""
        rng, sim = self.rng, self.sim
        if rng.random() < 0.15:
            instance = zone.pick(zone.instances, t, rng)
            if instance is not None:
                request, _ = calls.state_change(
                    "StopInstances", [instance.id], "running", "stopping"
                )
                dry_run = {**(request or {}), "dryRun": True}
                refusal = (
                    "Client.DryRunOperation",
                    "Request would have succeeded, but DryRun flag is set.",
                )
                failed_call(sim, t, caller, zone, "StopInstances", dry_run, refusal)
            return
        if zone.account.role == "prod":
            pipeline: Pipeline = sim.registry["pipeline"]
            if pipeline.frozen(t) or self.person.kind not in ("admin",):
                return
            reason = rng.choice(
                (
                    "pre-maintenance snapshot and reboot",
                    "resize service node",
                    "reboot stuck node",
                    "kernel patch reboot",
                )
            )
            ticket = open_ticket(
                sim,
                rng,
                t,
                caller,
                zone,
                self.person.email,
                reason,
                planned=reason != "reboot stuck node",
            )
            maintenance(sim, rng, t, caller, zone, ticket)
            return
        action = rng.choice(("stopstart", "snapshot", "tags", "testbox"))
        if action == "stopstart":
            instance = pick_pet(zone, t, rng, with_data=False)
            if instance is None:
                return
            request, response = calls.state_change(
                "StopInstances", [instance.id], "running", "stopping"
            )
            sim.call(t, caller, zone, "StopInstances", request, response)
            instance.state, instance.last = "stopped", t
            back = t + rng.randrange(5 * MINUTE, 2 * HOUR)
            sim.at(back, _start_again, sim, caller, zone, instance.id)
            instance.last = back
        elif action == "snapshot":
            volume = zone.pick(zone.volumes, t, rng, lambda v: not v.attrs.get("root"))
            if volume is None:
                return
            snapshot_volume(
                sim,
                t,
                caller,
                zone,
                volume,
                resource_id("snap", rng),
                f"manual {to_date(t).isoformat()}",
                default_size=50,
                manual=True,
            )
        elif action == "tags":
            instance = zone.pick(zone.instances, t, rng)
            if instance is None:
                return
            request, response = calls.create_tags([instance.id], {"Owner": self.person.email})
            sim.call(t, caller, zone, "CreateTags", request, response)
            instance.last = t
        else:
            scratch_instance(
                sim, rng, t, caller, zone, "t3.micro", rng.randrange(20 * MINUTE, 2 * HOUR)
            )

    def gpu(self, t: int, where: str) -> None:
        """Start a GPU instance from a notebook; it is terminated hours later."""
        rng, person = self.rng, self.person
        account = self.sim.org.accounts[person.accounts[0]]
        zone = self.sim.zones[(account.index, self.sim.org.regions[0])]
        caller = person_caller(
            self.sim.org,
            person,
            account,
            t,
            rng,
            console=False,
            source_ip=self._ip(where),
            agent=BOTO3_UA,
        )
        self.sim.call(
            t,
            caller,
            zone,
            "DescribeImages",
            {
                "executableBySet": {},
                "imagesSet": {},
                "ownersSet": {"items": [{"owner": "amazon"}]},
                "filterSet": {
                    "items": [
                        {
                            "name": "name",
                            "valueSet": {"items": [{"value": "Deep Learning AMI GPU PyTorch*"}]},
                        }
                    ]
                },
            },
        )
        kind = rng.choice(GPU_TYPES)
        if rng.random() < 0.15:
            request, _ = launch_request(rng, zone, ["i-0"], "p3.2xlarge", zone.subnets[0], t)
            refusal = (
                "Server.InsufficientInstanceCapacity",
                "We currently do not have sufficient p3.2xlarge capacity in the Availability"
                " Zone you requested.",
            )
            failed_call(self.sim, t + 5, caller, zone, "RunInstances", request, refusal)
            kind = "g5.xlarge"
            t += 40
        scratch_instance(
            self.sim,
            rng,
            t + 10,
            caller,
            zone,
            kind,
            rng.randrange(2 * HOUR, 9 * HOUR),
            waiter=True,
            tags={"Owner": person.email, "Project": "ml-experiments"},
        )


def browse(
    sim: Simulation,
    rng: random.Random,
    t: int,
    caller: Caller,
    zone: Zone,
    console: bool,
    scale: float,
) -> int:
    """Emit the reads of a console visit or a CLI sitting; return the end time."""
    when = t
    if console:
        for name in (
            "DescribeInstances",
            "DescribeInstanceStatus",
            "DescribeAvailabilityZones",
            "DescribeAccountAttributes",
            "DescribeVolumes",
            "DescribeSnapshots",
            "DescribeAddresses",
            "DescribeKeyPairs",
            "DescribeSecurityGroups",
        ):
            if rng.random() < 0.85:
                describe(sim, when, caller, zone, name)
                when += rng.randrange(0, 2)
        clicks = poisson(rng, 8 * scale)
        instance_ids = list(zone.instances)
        for _ in range(clicks):
            when += rng.randrange(5, 90)
            if instance_ids and rng.random() < 0.6:
                target = rng.choice(instance_ids)
                for name in (
                    "DescribeInstances",
                    "DescribeInstanceStatus",
                    "DescribeTags",
                    "DescribeNetworkInterfaces",
                    "DescribeVolumes",
                    "DescribeInstanceAttribute",
                ):
                    if rng.random() < 0.7:
                        describe(sim, when, caller, zone, name, [target])
                        when += rng.randrange(0, 2)
            else:
                name = rng.choice(calls.READS[:14])
                describe(sim, when, caller, zone, name)
                describe(sim, when + 1, caller, zone, "DescribeTags")
        return when
    commands = max(1, poisson(rng, 6 * scale))
    if rng.random() < 0.3:
        sim.call(when, caller, zone, "GetCallerIdentity", None, None, source="sts.amazonaws.com")
    for _ in range(commands):
        when += rng.randrange(8, 180)
        name = rng.choice(
            (
                "DescribeInstances",
                "DescribeInstances",
                "DescribeVolumes",
                "DescribeSnapshots",
                "DescribeSecurityGroups",
                "DescribeImages",
                "DescribeInstanceStatus",
                "DescribeSubnets",
            )
        )
        if rng.random() < 0.05:
            bad = resource_id("i", rng)
            request = calls.read_request("DescribeInstances", [bad])
            refusal = (
                "Client.InvalidInstanceID.NotFound",
                f"The instance ID '{bad}' does not exist",
            )
            failed_call(sim, when, caller, zone, "DescribeInstances", request, refusal)
            continue
        ids = (
            [rng.choice(list(zone.instances))]
            if name == "DescribeInstances" and zone.instances and rng.random() < 0.4
            else None
        )
        describe(sim, when, caller, zone, name, ids)
    return when


def _start_again(t: int, sim: Simulation, caller: Caller, zone: Zone, instance_id: str) -> None:
    instance = zone.instances.get(instance_id)
    if instance is None or instance.state != "stopped":
        return
    request, response = calls.state_change("StartInstances", [instance_id], "stopped", "pending")
    sim.call(t, caller, zone, "StartInstances", request, response)
    instance.state, instance.last = "running", t


def scratch_instance(
    sim: Simulation,
    rng: random.Random,
    t: int,
    caller: Caller,
    zone: Zone,
    kind: str,
    lifetime: int,
    *,
    waiter: bool = False,
    tags: dict[str, str] | None = None,
) -> str:
    """Launch one instance by hand and terminate it ``lifetime`` seconds later."""
    subnet, az = zone.subnet(rng)
    instance_id = resource_id("i", rng)
    key_name = f"{caller.key.rsplit('/', 1)[-1].split('@')[0]}-key"
    tags = tags or {"Name": "scratch"}
    request, response = launch_request(
        rng, zone, [instance_id], kind, (subnet, az), t, key_name=key_name, tags=tags
    )
    if not sim.call(t, caller, zone, "RunInstances", request, response):
        return instance_id
    zone.instances[instance_id] = Resource(
        instance_id,
        t,
        t + lifetime,
        "running",
        {"type": kind, "az": az, "subnet": subnet, "scratch": True},
    )
    if waiter:
        for poll in range(rng.randrange(3, 7)):
            describe(sim, t + 15 * (poll + 1), caller, zone, "DescribeInstances", [instance_id])
    sim.at(t + lifetime, _terminate, sim, caller, zone, instance_id)
    return instance_id


def _terminate(t: int, sim: Simulation, caller: Caller, zone: Zone, instance_id: str) -> None:
    instance = zone.instances.get(instance_id)
    if instance is None:
        return
    request, response = calls.state_change(
        "TerminateInstances",
        [instance_id],
        instance.state if instance.state in ("running", "stopped") else "running",
        "shutting-down",
    )
    sim.call(t, caller, zone, "TerminateInstances", request, response)
    del zone.instances[instance_id]


def open_ticket(
    sim: Simulation,
    rng: random.Random,
    t: int,
    caller: Caller,
    zone: Zone,
    owner: str,
    reason: str,
    *,
    before: int = 20 * MINUTE,
    length: int = 3 * HOUR,
    planned: bool = True,
) -> dict[str, Any]:
    """Record a one-off change ticket covering ``t`` for ``caller`` in ``zone``.

    Planned work (``planned``) is written to the realistic policy; the small changes
    people make without one are recorded too, for the complete policy only.
    """
    start = t - before
    start -= start % (15 * MINUTE)
    ticket = {
        "id": f"CHG-{1000 + len(sim.tickets) * 7 + rng.randrange(7)}",
        "start_epoch": start,
        "end_epoch": start + length,
        "owner": owner,
        "reason": reason,
        "planned": planned,
        "scope": {
            "accounts": [zone.account.id],
            "regions": [zone.region],
            "identities": [f"arn:aws:iam::{zone.account.id}:role/AWSReservedSSO_*/{owner}"],
        },
    }
    sim.tickets.append(ticket)
    return ticket


def maintenance(
    sim: Simulation, rng: random.Random, t: int, caller: Caller, zone: Zone, ticket: dict[str, Any]
) -> int:
    """Make a ticketed production change: snapshot, then resize or reboot a service host."""
    host = pick_pet(zone, t, rng, test=lambda r: r.last + 30 * MINUTE < t)
    if host is None:
        return t
    when = t
    volume = zone.volumes.get(host.attrs["volumes"][0])
    if volume is not None and volume.last <= when:
        snapshot_id = resource_id("snap", rng)
        description = f"pre-maintenance {ticket['id']}"
        snapshot_volume(sim, when, caller, zone, volume, snapshot_id, description, manual=True)
        when += rng.randrange(120, 600)
    action = "resize" if "resize" in str(ticket["reason"]) else "reboot"
    return fix_host(sim, rng, when, caller, zone, host, action)


class Legacy:
    """The ``ops-legacy`` IAM user: a daily report script, a weekly clean-up, a person at times."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        org = sim.org
        self.rng = random.Random(f"legacy:{org.seed}")
        self.account = org.accounts[0]
        for day_start in range(org.start, org.end, DAY):
            day = to_date(day_start)
            sim.at(day_start + 5 * HOUR + 30 * MINUTE + self.rng.randrange(0, 90), self.report)
            if day.weekday() == 6:
                sim.at(day_start + 6 * HOUR + self.rng.randrange(0, 90), self.cleanup)
            if is_workday(day, "DE") and self.rng.random() < 0.2:
                sim.at(local_time(day, self.rng.uniform(9, 17), "Europe/Berlin"), self.by_hand)

    def _caller(self, ip: str, agent: str) -> Caller:
        user = self.sim.org.legacy_user
        return Caller(user.identity(), ip, agent, "iam-user", user.arn)

    def report(self, t: int) -> None:
        """Run the cron job: instances, volumes and snapshots of every region."""
        caller = self._caller(self.sim.org.legacy_host, LEGACY_UA)
        for region in self.sim.org.regions:
            zone = self.sim.zones[(self.account.index, region)]
            for name in ("DescribeInstances", "DescribeVolumes", "DescribeSnapshots"):
                describe(self.sim, t, caller, zone, name)
                t += self.rng.randrange(1, 4)

    def cleanup(self, t: int) -> None:
        """Weekly: delete manual snapshots older than 30 days."""
        caller = self._caller(self.sim.org.legacy_host, LEGACY_UA)
        for region in self.sim.org.regions:
            zone = self.sim.zones[(self.account.index, region)]
            describe(self.sim, t, caller, zone, "DescribeSnapshots")
            old = zone.usable(zone.snapshots, t, _older_manual(t - 30 * DAY))
            for snapshot in sorted(old, key=lambda s: s.created)[:5]:
                t += self.rng.randrange(1, 5)
                request, response = calls.delete_snapshot(snapshot.id)
                self.sim.call(t, caller, zone, "DeleteSnapshot", request, response)
                del zone.snapshots[snapshot.id]

    def by_hand(self, t: int) -> None:
        """Use the old key with an old aws-cli from the office, as an engineer does now and then."""
        caller = self._caller(NETWORKS["office-berlin"].host(self.rng), LEGACY_CLI_UA)
        zone = self.sim.zones[(self.account.index, self.sim.org.regions[0])]
        for _ in range(self.rng.randrange(1, 5)):
            t += self.rng.randrange(5, 60)
            name = self.rng.choice(
                ("DescribeInstances", "DescribeVolumes", "DescribeSecurityGroups")
            )
            describe(self.sim, t, caller, zone, name)


def _older_manual(cutoff: int) -> Callable[[Resource], bool]:
    def test(snapshot: Resource) -> bool:
        return bool(snapshot.attrs.get("manual")) and snapshot.created < cutoff

    return test


def run_drill(t: int, sim: Simulation) -> None:
    """Log the break-glass user into the console with MFA and look around, once."""
    org = sim.org
    rng = random.Random(f"breakglass:{org.seed}")
    user = org.breakglass
    ip = NETWORKS["office-berlin"].host(rng)
    agent = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/122.0.0.0 Safari/537.36"
    )
    zone = sim.zones[(org.accounts[0].index, org.regions[0])]
    login = Caller(
        {
            "type": "IAMUser",
            "principalId": user.principal,
            "arn": user.arn,
            "accountId": user.account,
            "userName": user.name,
        },
        ip,
        agent,
        "break-glass",
        user.arn,
    )
    sim.call(
        t,
        login,
        zone,
        "ConsoleLogin",
        None,
        {"ConsoleLogin": "Success"},
        source="signin.amazonaws.com",
        region="us-east-1",
        read_only=False,
        event_type="AwsConsoleSignIn",
        extra={
            "additionalEventData": {
                "LoginTo": "https://console.aws.amazon.com/console/home",
                "MobileVersion": "No",
                "MFAUsed": "Yes",
            }
        },
    )
    caller = Caller(
        user.identity(console=True, created=t, rng=rng),
        ip,
        agent,
        "break-glass",
        user.arn,
        console=True,
    )
    browse(sim, rng, t + 20, caller, zone, True, 0.5)
