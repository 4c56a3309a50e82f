"""Attack scenarios and hard negatives: named, documented, injectable at a chosen time.

Each scenario is a function ``run(sim, t, rng)`` that emits its events from ``t`` on,
through callers that carry the scenario's label, so every event it leaves is in
``labels.parquet`` with ``kind`` ``attack`` or ``hard_negative``. :data:`SCENARIOS`
holds them with their ATT&CK techniques, the event names each leaves, and a default
injection time (a day of the test period and a local hour).

For attacks the event names are exact: the scenario leaves those and no others. For
hard negatives, which are ordinary behaviour by construction, they are the set the
scenario may leave.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final, TypeVar

from changewatch.errors import ConfigurationError
from training.simulation import _calls as calls
from training.simulation._actors import automation_caller, person_caller, window_starts
from training.simulation._engine import Caller, Resource, Simulation, Zone
from training.simulation._geo import NETWORKS
from training.simulation._ids import resource_id
from training.simulation._org import DOMAIN, Person
from training.simulation._people import Human, browse, open_ticket
from training.simulation._pipeline import Pipeline
from training.simulation._time import DAY, HOUR, MINUTE, local_time, to_date

__all__ = ["ATTACK", "HARD_NEGATIVE", "SCENARIOS", "Scenario"]

ATTACK: Final = "attack"
HARD_NEGATIVE: Final = "hard_negative"

Run = Callable[[Simulation, int, random.Random], None]

ATTACKER_CLI: Final = (
    "aws-cli/2.13.25 Python/3.11.5 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023 prompt/off"
    " command/{command}"
)
ATTACKER_BOTO3: Final = (
    "Boto3/1.28.57 md/Botocore#1.31.57 ua/2.0 os/linux#6.1.0-13-amd64 md/arch#x86_64"
    " lang/python#3.11.2 "
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.57"
)
ATTACKER_GO: Final = (
    "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.1 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.118.0"
)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One injectable scenario.

    Parameters
    ----------
    name : str
        Registry name (``--attacks NAME``).
    kind : str
        ``attack`` or ``hard_negative``.
    techniques : tuple of str
        MITRE ATT&CK technique ids (and the analytic id where one is named).
    events : frozenset of str
        Event names the scenario leaves (exactly, for attacks).
    summary : str
        One line for the manifest and the documentation.
    day : int
        Default day of the test period (0-based; clipped to the period).
    hour : float
        Default local hour of that day.
    timezone : str
        Time zone of ``hour``.
    run : callable
        ``run(sim, t, rng)`` emits the scenario from ``t``.
    """

    name: str
    kind: str
    techniques: tuple[str, ...]
    events: frozenset[str]
    summary: str
    day: int
    hour: float
    timezone: str
    run: Run

    def default_time(self, test_start: int, end: int) -> int:
        """Return the injection time when none is chosen, inside the test period."""
        days = max(1, (end - test_start) // DAY)
        day = to_date(test_start + min(self.day, days - 1) * DAY)
        t = local_time(day, self.hour, self.timezone)
        return max(test_start + 5 * MINUTE, min(t, end - 5 * HOUR))


def _zone(sim: Simulation, role: str, region_index: int = 0) -> Zone:
    account = sim.org.account(role)
    region = sim.org.regions[min(region_index, len(sim.org.regions) - 1)]
    return sim.zones[(account.index, region)]


def _stolen_sso(
    sim: Simulation,
    handle: str,
    zone: Zone,
    t: int,
    rng: random.Random,
    network: str,
    agent: str,
    name: str,
) -> Caller:
    person = sim.org.person(handle)
    caller = person_caller(
        sim.org,
        person,
        zone.account,
        t,
        rng,
        console=False,
        source_ip=NETWORKS[network].host(rng),
        agent=agent,
    )
    caller.label = (name, ATTACK)
    return caller


_T = TypeVar("_T")


def _require(found: _T | None, what: str, t: int) -> _T:
    """Return ``found``, or say in words why a scenario cannot be injected at ``t``."""
    if found is None:
        raise ConfigurationError(
            f"cannot inject a scenario at {to_date(t).isoformat()}: the organisation has no "
            f"{what} then (earlier scenarios may have removed it); raise --scale or "
            "--test-days, or move the scenario with --at"
        )
    return found


def _any_host(zone: Zone, t: int, rng: random.Random) -> Resource | None:
    """Pick a running service host, preferring ones with data volumes, else any instance."""
    return (
        _pick_pet(zone, t, rng)
        or _pick_pet(zone, t, rng, with_data=False)
        or zone.pick(zone.instances, t, rng, lambda r: r.state == "running")
    )


def _pick_pet(zone: Zone, t: int, rng: random.Random, *, with_data: bool = True) -> Resource | None:
    return zone.pick(
        zone.instances,
        t,
        rng,
        lambda r: (
            bool(r.attrs.get("pet"))
            and r.state == "running"
            and (not with_data or bool(r.attrs.get("volumes")))
        ),
    )


def _new_snapshot(
    sim: Simulation, t: int, caller: Caller, zone: Zone, rng: random.Random, description: str
) -> tuple[int, str]:
    volume = zone.pick(zone.volumes, t, rng, lambda v: bool(v.attrs.get("backup")))
    if volume is None:
        volume = zone.pick(zone.volumes, t, rng)
    volume = _require(volume, "a production data volume", t)
    snapshot_id = resource_id("snap", rng)
    request, response = calls.create_snapshot(
        snapshot_id,
        volume.id,
        account=zone.account.id,
        size=int(volume.attrs.get("size", 100)),
        started=t,
        description=description,
    )
    sim.call(t, caller, zone, "CreateSnapshot", request, response)
    zone.snapshots[snapshot_id] = Resource(
        snapshot_id,
        t,
        t,
        "completed",
        {"volume": volume.id, "size": volume.attrs.get("size", 100), "shared": True},
    )
    volume.last = max(volume.last, t)
    return int(volume.attrs.get("size", 100)), snapshot_id


# ---------------------------------------------------------------------------------------
# Attacks


def snapshot_share_exfil(sim: Simulation, t: int, rng: random.Random) -> None:
    """Snapshot a production data volume and share it with a foreign account (T1537).

    The legacy IAM user's long-term key is used from a VPN exit in the Netherlands with
    an aws-cli the organisation does not use: ``DescribeVolumes``, ``CreateSnapshot``,
    ``DescribeSnapshots`` (waiting for completion), ``ModifySnapshotAttribute`` adding
    ``createVolumePermission`` for an account outside the organisation.
    """
    zone = _zone(sim, "prod")
    user = sim.org.legacy_user
    caller = Caller(
        user.identity(),
        NETWORKS["attacker-vpn-nl"].host(rng),
        ATTACKER_CLI,
        "iam-user",
        user.arn,
        label=("snapshot_share_exfil", ATTACK),
    )
    sim.call(t, caller, zone, "DescribeVolumes", calls.read_request("DescribeVolumes"))
    _, snapshot_id = _new_snapshot(sim, t + 40, caller, zone, rng, "")
    for poll in range(3):
        sim.call(
            t + 70 + 30 * poll,
            caller,
            zone,
            "DescribeSnapshots",
            calls.read_request("DescribeSnapshots", [snapshot_id]),
        )
    request, response = calls.modify_snapshot_share(snapshot_id, sim.org.foreign_accounts[0])
    sim.call(t + 200, caller, zone, "ModifySnapshotAttribute", request, response)


def snapshot_volume_attach(sim: Simulation, t: int, rng: random.Random) -> None:
    """Snapshot -> volume from it -> new instance -> attach, in minutes (T1578.001, T1578.002).

    The chain AN0861 names.

    A stolen SSO session of an administrator, used from a US hosting provider with a
    Python SDK: ``CreateSnapshot`` of a production data volume, ``DescribeSnapshots``,
    ``CreateVolume`` naming that snapshot, ``RunInstances`` of a small instance in the
    same availability zone, ``DescribeInstances``, ``AttachVolume`` of the new volume to
    the new instance. Nothing is cleaned up.
    """
    zone = _zone(sim, "prod")
    caller = _stolen_sso(
        sim,
        "tom.harris",
        zone,
        t,
        rng,
        "attacker-hosting-us",
        ATTACKER_BOTO3,
        "snapshot_volume_attach",
    )
    size, snapshot_id = _new_snapshot(sim, t, caller, zone, rng, "backup")
    sim.call(
        t + 45,
        caller,
        zone,
        "DescribeSnapshots",
        calls.read_request("DescribeSnapshots", [snapshot_id]),
    )
    subnet, az = zone.subnet(rng)
    volume_id = resource_id("vol", rng)
    request, response = calls.create_volume(
        volume_id, zone=az, size=size, created=t + 120, snapshot=snapshot_id
    )
    sim.call(t + 120, caller, zone, "CreateVolume", request, response)
    zone.volumes[volume_id] = Resource(
        volume_id, t + 120, t + 240, "in-use", {"size": size, "az": az, "snapshot": snapshot_id}
    )
    instance_id = resource_id("i", rng)
    request, response = calls.run_instances(
        rng,
        account=zone.account.id,
        region=zone.region,
        instance_ids=[instance_id],
        image=next(iter(zone.images)),
        instance_type="t3.medium",
        subnet=subnet,
        zone=az,
        vpc=zone.vpc,
        security_group=zone.groups["default"],
        launch=t + 150,
        key_name="ops-recovery",
    )
    sim.call(t + 150, caller, zone, "RunInstances", request, response)
    zone.instances[instance_id] = Resource(
        instance_id,
        t + 150,
        t + 240,
        "running",
        {"type": "t3.medium", "az": az, "volumes": [volume_id]},
    )
    sim.call(
        t + 200,
        caller,
        zone,
        "DescribeInstances",
        calls.read_request("DescribeInstances", [instance_id]),
    )
    request, response = calls.attach_volume(volume_id, instance_id, "/dev/sdf", t + 240)
    sim.call(t + 240, caller, zone, "AttachVolume", request, response)


def dormant_account_burst(sim: Simulation, t: int, rng: random.Random) -> None:
    """Reactivate a former administrator's SSO access for a burst of changes (T1078.004).

    Same person, home network and browser as weeks before, silent since leaving:
    ``DescribeInstances``, ``DescribeSecurityGroups``, ``DescribeKeyPairs``,
    ``ImportKeyPair``, ``AuthorizeSecurityGroupIngress`` (SSH from the world),
    ``RunInstances`` (two instances), ``CreateTags``, ``StopInstances`` of a service host.
    """
    zone = _zone(sim, "prod")
    person = sim.org.person("markus.schulz")
    caller = person_caller(
        sim.org, person, zone.account, t, rng, console=True, source_ip=person.home_ip
    )
    caller.label = ("dormant_account_burst", ATTACK)
    for offset, name in enumerate(
        ("DescribeInstances", "DescribeSecurityGroups", "DescribeKeyPairs")
    ):
        sim.call(t + offset * 20, caller, zone, name, calls.read_request(name))
    request, response = calls.import_key_pair(rng, "markus-temp")
    sim.call(t + 90, caller, zone, "ImportKeyPair", request, response)
    request, response = calls.authorize_ingress(
        rng, zone.groups["bastion"], zone.account.id, 22, "0.0.0.0/0"
    )
    sim.call(t + 130, caller, zone, "AuthorizeSecurityGroupIngress", request, response)
    subnet, az = zone.subnet(rng)
    ids = [resource_id("i", rng) for _ in range(2)]
    request, response = calls.run_instances(
        rng,
        account=zone.account.id,
        region=zone.region,
        instance_ids=ids,
        image=next(iter(zone.images)),
        instance_type="c6i.4xlarge",
        subnet=subnet,
        zone=az,
        vpc=zone.vpc,
        security_group=zone.groups["bastion"],
        launch=t + 200,
        key_name="markus-temp",
    )
    sim.call(t + 200, caller, zone, "RunInstances", request, response)
    for instance_id in ids:
        zone.instances[instance_id] = Resource(
            instance_id, t + 200, t + 230, "running", {"type": "c6i.4xlarge", "az": az}
        )
    request, response = calls.create_tags(ids, {"Name": "maintenance"})
    sim.call(t + 230, caller, zone, "CreateTags", request, response)
    victim = _pick_pet(zone, t + 300, rng, with_data=False)
    if victim is not None:
        request, response = calls.state_change("StopInstances", [victim.id], "running", "stopping")
        sim.call(t + 300, caller, zone, "StopInstances", request, response)
        victim.state, victim.last = "stopped", t + 300


def automation_off_window(sim: Simulation, t: int, rng: random.Random) -> None:
    """Use the deploy role off-window from a new network and client (T1078.004, T1578.002).

    The CI credentials are replayed from a Singapore hosting provider with aws-cli in
    the middle of the night: ``DescribeInstances``, ``DescribeSecurityGroups``,
    ``AuthorizeSecurityGroupIngress`` (SSH from the world), ``RunInstances``,
    ``CreateTags``.
    """
    zone = _zone(sim, "prod")
    caller = automation_caller(
        sim.org,
        zone.account,
        t,
        rng,
        source_ip=NETWORKS["attacker-hosting-sg"].host(rng),
        agent=ATTACKER_CLI,
    )
    caller.label = ("automation_off_window", ATTACK)
    sim.call(t, caller, zone, "DescribeInstances", calls.read_request("DescribeInstances"))
    sim.call(
        t + 15, caller, zone, "DescribeSecurityGroups", calls.read_request("DescribeSecurityGroups")
    )
    request, response = calls.authorize_ingress(
        rng, zone.groups["web"], zone.account.id, 22, "0.0.0.0/0"
    )
    sim.call(t + 60, caller, zone, "AuthorizeSecurityGroupIngress", request, response)
    subnet, az = zone.subnet(rng)
    instance_id = resource_id("i", rng)
    request, response = calls.run_instances(
        rng,
        account=zone.account.id,
        region=zone.region,
        instance_ids=[instance_id],
        image=next(iter(zone.images)),
        instance_type="t3.large",
        subnet=subnet,
        zone=az,
        vpc=zone.vpc,
        security_group=zone.groups["web"],
        launch=t + 100,
        user_data=True,
    )
    sim.call(t + 100, caller, zone, "RunInstances", request, response)
    zone.instances[instance_id] = Resource(
        instance_id, t + 100, t + 110, "running", {"type": "t3.large", "az": az}
    )
    request, response = calls.create_tags(
        [instance_id], {"Name": "web-canary", "ManagedBy": "terraform"}
    )
    sim.call(t + 110, caller, zone, "CreateTags", request, response)


def stolen_credentials_new_geo(sim: Simulation, t: int, rng: random.Random) -> None:
    """Use an administrator's session from a new country, ASN and client (T1078.004, T1580).

    Discovery by a Go SDK tool from a Russian hosting provider during the victim's
    working hours: ``GetCallerIdentity``, ``DescribeRegions``, ``DescribeInstances``,
    ``DescribeInstanceAttribute`` (user data), ``DescribeSnapshots``,
    ``DescribeSecurityGroups``, then ``ImportKeyPair`` for later access.
    """
    zone = _zone(sim, "prod")
    caller = _stolen_sso(
        sim,
        "anna.weber",
        zone,
        t,
        rng,
        "attacker-hosting-ru",
        ATTACKER_GO,
        "stolen_credentials_new_geo",
    )
    sim.call(t, caller, zone, "GetCallerIdentity", None, None, source="sts.amazonaws.com")
    sim.call(t + 3, caller, zone, "DescribeRegions", calls.read_request("DescribeRegions"))
    sim.call(t + 6, caller, zone, "DescribeInstances", calls.read_request("DescribeInstances"))
    when = t + 10
    for instance_id in sorted(zone.instances)[:6]:
        sim.call(
            when,
            caller,
            zone,
            "DescribeInstanceAttribute",
            calls.read_request("DescribeInstanceAttribute", [instance_id]),
        )
        when += rng.randrange(1, 3)
    sim.call(when + 5, caller, zone, "DescribeSnapshots", calls.read_request("DescribeSnapshots"))
    sim.call(
        when + 8,
        caller,
        zone,
        "DescribeSecurityGroups",
        calls.read_request("DescribeSecurityGroups"),
    )
    request, response = calls.import_key_pair(rng, "default-2")
    sim.call(when + 40, caller, zone, "ImportKeyPair", request, response)


def mass_deletion(sim: Simulation, t: int, rng: random.Random) -> None:
    """Mass deletion of snapshots and instances (T1485, T1490, T1578.003).

    A stolen administrator session from a Brazilian residential proxy at night:
    ``DescribeSnapshots``, ``DeleteSnapshot`` of up to 15 snapshots (backups
    included), ``DescribeInstances``, ``TerminateInstances`` of up to 4 service hosts.
    """
    zone = _zone(sim, "prod")
    caller = _stolen_sso(
        sim, "sarah.kim", zone, t, rng, "attacker-proxy-br", ATTACKER_CLI, "mass_deletion"
    )
    sim.call(t, caller, zone, "DescribeSnapshots", calls.read_request("DescribeSnapshots"))
    when = t + 20
    for snapshot in sorted(zone.usable(zone.snapshots, when), key=lambda s: s.id)[:15]:
        request, response = calls.delete_snapshot(snapshot.id)
        sim.call(when, caller, zone, "DeleteSnapshot", request, response)
        del zone.snapshots[snapshot.id]
        when += rng.randrange(1, 3)
    sim.call(when + 10, caller, zone, "DescribeInstances", calls.read_request("DescribeInstances"))
    when += 30
    victims = sorted(
        zone.usable(zone.instances, when, lambda r: bool(r.attrs.get("pet"))), key=lambda r: r.id
    )[:4]
    for victim in victims:
        request, response = calls.state_change(
            "TerminateInstances", [victim.id], victim.state, "shutting-down"
        )
        sim.call(when, caller, zone, "TerminateInstances", request, response)
        del zone.instances[victim.id]
        when += rng.randrange(1, 4)


def public_ami_share(sim: Simulation, t: int, rng: random.Random) -> None:
    """Image a production host and make the image public (T1537).

    A stolen administrator session from a VPN exit: ``CreateImage`` of a database host
    (no reboot), ``DescribeImages`` until available, ``ModifyImageAttribute`` adding
    ``launchPermission`` for ``group: all``.
    """
    zone = _zone(sim, "prod")
    caller = _stolen_sso(
        sim, "michael.okafor", zone, t, rng, "attacker-vpn-nl", ATTACKER_CLI, "public_ami_share"
    )
    host = _require(_any_host(zone, t, rng), "a running production host", t)
    image_id = resource_id("ami", rng)
    request, response = calls.create_image(
        image_id, host.id, f"{host.attrs.get('name', 'host')}-{to_date(t).isoformat()}"
    )
    sim.call(t, caller, zone, "CreateImage", request, response)
    zone.images[image_id] = Resource(image_id, t, t + 400, "available", {"public": True})
    for poll in range(3):
        sim.call(
            t + 120 * (poll + 1),
            caller,
            zone,
            "DescribeImages",
            calls.read_request("DescribeImages", [image_id]),
        )
    request, response = calls.modify_image_share(image_id, public=True)
    sim.call(t + 400, caller, zone, "ModifyImageAttribute", request, response)


def user_data_change(sim: Simulation, t: int, rng: random.Random) -> None:
    """Stop -> user-data change -> start, to run code at boot (T1578.005, T1059.009).

    A stolen administrator session from a Singapore hosting provider:
    ``DescribeInstances``, ``StopInstances``, ``DescribeInstances`` (waiting),
    ``ModifyInstanceAttribute`` of ``userData``, ``StartInstances``.
    """
    zone = _zone(sim, "prod")
    caller = _stolen_sso(
        sim,
        "lena.hoffmann",
        zone,
        t,
        rng,
        "attacker-hosting-sg",
        ATTACKER_BOTO3,
        "user_data_change",
    )
    host = _require(
        _pick_pet(zone, t, rng, with_data=False) or _any_host(zone, t, rng),
        "a running production host",
        t,
    )
    sim.call(
        t, caller, zone, "DescribeInstances", calls.read_request("DescribeInstances", [host.id])
    )
    request, response = calls.state_change("StopInstances", [host.id], "running", "stopping")
    sim.call(t + 20, caller, zone, "StopInstances", request, response)
    for poll in range(2):
        sim.call(
            t + 50 + 30 * poll,
            caller,
            zone,
            "DescribeInstances",
            calls.read_request("DescribeInstances", [host.id]),
        )
    request, response = calls.modify_instance_attribute(host.id, "userData")
    sim.call(t + 120, caller, zone, "ModifyInstanceAttribute", request, response)
    request, response = calls.state_change("StartInstances", [host.id], "stopped", "pending")
    sim.call(t + 140, caller, zone, "StartInstances", request, response)
    host.last = t + 140


def gpu_mining(sim: Simulation, t: int, rng: random.Random) -> None:
    """GPU instances for cryptocurrency mining in a region the organisation never uses (T1496.001).

    The legacy user's key from a Chinese hosting network, Go SDK: ``DescribeRegions``,
    ``DescribeInstanceTypeOfferings``, ``DescribeImages``, ``RunInstances`` of
    ``p3.16xlarge`` (refused with ``Client.VcpuLimitExceeded``) then of several
    ``g5.12xlarge``, in a region outside the organisation's list.
    """
    org = sim.org
    base = _zone(sim, "prod")
    region = next(
        r for r in ("ap-southeast-1", "sa-east-1", "ap-northeast-2") if r not in org.regions
    )
    zone = Zone(
        base.account,
        region,
        resource_id("vpc", rng),
        [(resource_id("subnet", rng), f"{region}{c}") for c in "ab"],
        {"default": resource_id("sg", rng)},
        {},
        {},
    )
    user = org.legacy_user
    caller = Caller(
        user.identity(),
        NETWORKS["attacker-hosting-cn"].host(rng),
        ATTACKER_GO,
        "iam-user",
        user.arn,
        label=("gpu_mining", ATTACK),
    )
    sim.call(t, caller, zone, "DescribeRegions", calls.read_request("DescribeRegions"))
    sim.call(
        t + 5,
        caller,
        zone,
        "DescribeInstanceTypeOfferings",
        calls.read_request("DescribeInstanceTypeOfferings"),
    )
    sim.call(t + 9, caller, zone, "DescribeImages", calls.read_request("DescribeImages"))
    image = resource_id("ami", rng)
    subnet, az = zone.subnets[0]
    request, _ = calls.run_instances(
        rng,
        account=zone.account.id,
        region=region,
        instance_ids=["i-0"],
        image=image,
        instance_type="p3.16xlarge",
        subnet=subnet,
        zone=az,
        vpc=zone.vpc,
        security_group=zone.groups["default"],
        launch=t + 20,
    )
    sim.call(
        t + 20,
        caller,
        zone,
        "RunInstances",
        request,
        None,
        error=(
            "Client.VcpuLimitExceeded",
            "You have requested more vCPU capacity than your current vCPU limit of 64 allows"
            " for the instance bucket that the specified instance type belongs to. Please visit"
            " http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
        ),
    )
    when = t + 40
    for _ in range(3):
        ids = [resource_id("i", rng) for _ in range(rng.randrange(1, 3))]
        request, response = calls.run_instances(
            rng,
            account=zone.account.id,
            region=region,
            instance_ids=ids,
            image=image,
            instance_type="g5.12xlarge",
            subnet=subnet,
            zone=az,
            vpc=zone.vpc,
            security_group=zone.groups["default"],
            launch=when,
            user_data=True,
        )
        sim.call(when, caller, zone, "RunInstances", request, response)
        when += rng.randrange(10, 40)


def ebs_direct_read(sim: Simulation, t: int, rng: random.Random) -> None:
    """Read a snapshot block by block through the EBS direct APIs (T1530, T1552.005).

    Instance-profile credentials of the web tier, stolen and used from a Russian
    hosting provider with a Python SDK: ``DescribeSnapshots``, then data events on
    ``ebs.amazonaws.com``: ``ListSnapshotBlocks`` and a run of ``GetSnapshotBlock``.
    """
    zone = _zone(sim, "prod")
    role = sim.org.role(zone.account, "app-web")
    instance_id = resource_id("i", rng)
    web = [r.id for r in zone.instances.values() if r.attrs.get("asg") == "web" and r.created <= t]
    if web:
        instance_id = sorted(web)[0]
    caller = Caller(
        role.session(instance_id, t - 2 * HOUR, rng, ec2=True),
        NETWORKS["attacker-hosting-ru"].host(rng),
        ATTACKER_BOTO3,
        "instance-profile",
        role.key,
        label=("ebs_direct_read", ATTACK),
    )
    sim.call(t, caller, zone, "DescribeSnapshots", calls.read_request("DescribeSnapshots"))
    snapshot = zone.pick(zone.snapshots, t, rng, lambda s: bool(s.attrs.get("backup")))
    if snapshot is None:
        snapshot = zone.pick(zone.snapshots, t, rng)
    snapshot = _require(snapshot, "a production backup snapshot", t)
    arn = f"arn:aws:ec2:{zone.region}::snapshot/{snapshot.id}"
    resources = {
        "resources": [{"accountId": zone.account.id, "type": "AWS::EC2::Snapshot", "ARN": arn}]
    }
    sim.call(
        t + 30,
        caller,
        zone,
        "ListSnapshotBlocks",
        {"snapshotId": snapshot.id, "maxResults": 10000},
        None,
        source="ebs.amazonaws.com",
        data_event=True,
        read_only=True,
        extra=resources,
    )
    when = t + 40
    for index in range(rng.randrange(40, 80)):
        token = "AAUBA" + "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
            for _ in range(40)
        )
        sim.call(
            when,
            caller,
            zone,
            "GetSnapshotBlock",
            {
                "snapshotId": snapshot.id,
                "blockIndex": index * rng.randrange(1, 9),
                "blockToken": token,
            },
            None,
            source="ebs.amazonaws.com",
            data_event=True,
            read_only=True,
            extra=resources,
        )
        when += rng.randrange(0, 2)
    snapshot.last = max(snapshot.last, when)


# ---------------------------------------------------------------------------------------
# Hard negatives


def emergency_change_in_ticket(sim: Simulation, t: int, rng: random.Random) -> None:
    """Make a late-night on-call production change inside an approved emergency ticket.

    From home, console: ``DescribeInstances``, ``CreateSnapshot`` (pre-change), then
    ``StopInstances``, ``ModifyInstanceAttribute`` (instance type), ``StartInstances``
    of a service host. The ticket is written to ``change_windows.yaml``.
    """
    zone = _zone(sim, "prod")
    person = sim.org.person("jonas.becker")
    caller = person_caller(
        sim.org, person, zone.account, t, rng, console=True, source_ip=person.home_ip
    )
    caller.label = ("emergency_change_in_ticket", HARD_NEGATIVE)
    ticket = open_ticket(
        sim,
        rng,
        t,
        caller,
        zone,
        person.email,
        "emergency: search node out of memory",
        before=10 * MINUTE,
        length=4 * HOUR,
    )
    sim.call(t, caller, zone, "DescribeInstances", calls.read_request("DescribeInstances"))
    host = _require(_any_host(zone, t + 60, rng), "a running production host", t)
    volume = zone.volumes[host.attrs["volumes"][0]]
    snapshot_id = resource_id("snap", rng)
    when = max(t + 60, volume.last)
    request, response = calls.create_snapshot(
        snapshot_id,
        volume.id,
        account=zone.account.id,
        size=int(volume.attrs.get("size", 100)),
        started=when,
        description=f"pre-change {ticket['id']}",
    )
    sim.call(when, caller, zone, "CreateSnapshot", request, response)
    zone.snapshots[snapshot_id] = Resource(
        snapshot_id, when, when, "completed", {"volume": volume.id, "manual": True}
    )
    volume.last = when
    when = max(when + 300, host.last)
    request, response = calls.state_change("StopInstances", [host.id], "running", "stopping")
    sim.call(when, caller, zone, "StopInstances", request, response)
    request, response = calls.modify_instance_attribute(host.id, "instanceType", "r6i.2xlarge")
    sim.call(when + 120, caller, zone, "ModifyInstanceAttribute", request, response)
    request, response = calls.state_change("StartInstances", [host.id], "stopped", "pending")
    sim.call(when + 150, caller, zone, "StartInstances", request, response)
    host.last = when + 150


def new_employee_first_days(sim: Simulation, t: int, rng: random.Random) -> None:
    """Play a new engineer's first three days: exploration, small changes outside production.

    A new SSO user (PowerUserAccess in non-production accounts) from the Berlin office
    and home, with ordinary clients. Leaves ``Describe*`` reads and may leave
    ``GetCallerIdentity``, ``RunInstances``, ``TerminateInstances``, ``StopInstances``,
    ``StartInstances``, ``CreateTags``, ``CreateSnapshot`` and dry-run errors.
    """
    org = sim.org
    template = org.person("felix.wagner")
    accounts = tuple(a.index for a in org.accounts if a.role != "prod") or (org.accounts[0].index,)
    person = Person(
        handle="nina.fischer",
        email=f"nina.fischer@{DOMAIN}",
        timezone="Europe/Berlin",
        country="DE",
        office=NETWORKS["office-berlin"],
        home=NETWORKS["home-de-telekom"],
        office_days=frozenset({0, 1, 2, 3}),
        permission_set="PowerUserAccess",
        accounts=accounts,
        console_share=0.7,
        joined=t,
        left=t + 3 * DAY,
        kind="new-hire",
        os_tag=template.os_tag,
        cli_versions=[(0, "2.15.40")],
        browsers=template.browsers,
        activity=1.5,
        home_ip=NETWORKS["home-de-telekom"].host(rng),
    )
    org.people.append(person)
    human = Human.__new__(Human)
    human.sim, human.person, human.rng = sim, person, rng
    human.scale = max(1.0, org.scale**0.5)
    human.label = ("new_employee_first_days", HARD_NEGATIVE)
    first = to_date(t)
    for offset in range(3):
        human.plan(date.fromordinal(first.toordinal() + offset))
    zone = sim.zones[(accounts[0], org.regions[0])]
    caller = person_caller(
        org,
        person,
        org.accounts[accounts[0]],
        t,
        rng,
        console=True,
        source_ip=NETWORKS["office-berlin"].host(rng),
    )
    caller.label = human.label
    browse(sim, rng, t, caller, zone, True, 1.0)


def large_in_window_deploy(sim: Simulation, t: int, rng: random.Random) -> None:
    """Run a Terraform apply four times larger than usual inside the approved deploy window.

    The pipeline's usual identity, network and client in production: a longer refresh
    (``Describe*``) and about eight changes among ``CreateLaunchTemplateVersion``,
    ``ModifyLaunchTemplate``, ``UpdateAutoScalingGroup``, ``StartInstanceRefresh``,
    ``AuthorizeSecurityGroupIngress``, ``RunInstances``, ``TerminateInstances``,
    ``CreateVolume``, ``AttachVolume``, ``DetachVolume``, ``DeleteVolume``,
    ``CreateTags``.
    """
    pipeline: Pipeline = sim.registry["pipeline"]
    with sim.labelled("large_in_window_deploy", HARD_NEGATIVE):
        pipeline.apply(t, sim.org.account("prod"), 4)


_DESCRIBES: Final = frozenset(calls.READS) | {"DescribeAutoScalingGroups"}

SCENARIOS: Final[dict[str, Scenario]] = {
    s.name: s
    for s in (
        Scenario(
            "snapshot_share_exfil",
            ATTACK,
            ("T1537",),
            frozenset(
                {
                    "DescribeVolumes",
                    "CreateSnapshot",
                    "DescribeSnapshots",
                    "ModifySnapshotAttribute",
                }
            ),
            "snapshot a production volume and share it with a foreign account",
            1,
            3.2,
            "Europe/Berlin",
            snapshot_share_exfil,
        ),
        Scenario(
            "snapshot_volume_attach",
            ATTACK,
            ("T1578.001", "T1578.002", "AN0861"),
            frozenset(
                {
                    "CreateSnapshot",
                    "DescribeSnapshots",
                    "CreateVolume",
                    "RunInstances",
                    "DescribeInstances",
                    "AttachVolume",
                }
            ),
            "snapshot -> volume from snapshot -> new instance -> attach, within minutes",
            2,
            19.75,
            "UTC",
            snapshot_volume_attach,
        ),
        Scenario(
            "dormant_account_burst",
            ATTACK,
            ("T1078.004",),
            frozenset(
                {
                    "DescribeInstances",
                    "DescribeSecurityGroups",
                    "DescribeKeyPairs",
                    "ImportKeyPair",
                    "AuthorizeSecurityGroupIngress",
                    "RunInstances",
                    "CreateTags",
                    "StopInstances",
                }
            ),
            "a departed administrator's SSO access reactivated for a burst of changes",
            3,
            11.0,
            "Europe/Berlin",
            dormant_account_burst,
        ),
        Scenario(
            "automation_off_window",
            ATTACK,
            ("T1078.004", "T1578.002"),
            frozenset(
                {
                    "DescribeInstances",
                    "DescribeSecurityGroups",
                    "AuthorizeSecurityGroupIngress",
                    "RunInstances",
                    "CreateTags",
                }
            ),
            "deploy-role credentials used outside their windows from a new network and client",
            4,
            2.66,
            "UTC",
            automation_off_window,
        ),
        Scenario(
            "stolen_credentials_new_geo",
            ATTACK,
            ("T1078.004", "T1580"),
            frozenset(
                {
                    "GetCallerIdentity",
                    "DescribeRegions",
                    "DescribeInstances",
                    "DescribeInstanceAttribute",
                    "DescribeSnapshots",
                    "DescribeSecurityGroups",
                    "ImportKeyPair",
                }
            ),
            "an administrator's session from a new country, ASN and user agent",
            1,
            16.3,
            "Europe/Berlin",
            stolen_credentials_new_geo,
        ),
        Scenario(
            "mass_deletion",
            ATTACK,
            ("T1485", "T1490", "T1578.003"),
            frozenset(
                {"DescribeSnapshots", "DeleteSnapshot", "DescribeInstances", "TerminateInstances"}
            ),
            "mass deletion of snapshots and instances",
            6,
            3.0,
            "America/New_York",
            mass_deletion,
        ),
        Scenario(
            "public_ami_share",
            ATTACK,
            ("T1537",),
            frozenset({"CreateImage", "DescribeImages", "ModifyImageAttribute"}),
            "image a production host and make the image public",
            4,
            20.0,
            "America/New_York",
            public_ami_share,
        ),
        Scenario(
            "user_data_change",
            ATTACK,
            ("T1578.005", "T1059.009"),
            frozenset(
                {"DescribeInstances", "StopInstances", "ModifyInstanceAttribute", "StartInstances"}
            ),
            "stop -> user-data change -> start",
            3,
            1.5,
            "Europe/Berlin",
            user_data_change,
        ),
        Scenario(
            "gpu_mining",
            ATTACK,
            ("T1496.001",),
            frozenset(
                {
                    "DescribeRegions",
                    "DescribeInstanceTypeOfferings",
                    "DescribeImages",
                    "RunInstances",
                }
            ),
            "GPU instance launches for mining in an unused region",
            5,
            23.0,
            "UTC",
            gpu_mining,
        ),
        Scenario(
            "ebs_direct_read",
            ATTACK,
            ("T1530", "T1552.005"),
            frozenset({"DescribeSnapshots", "ListSnapshotBlocks", "GetSnapshotBlock"}),
            "EBS direct-API reads of a snapshot with stolen instance credentials",
            5,
            4.0,
            "UTC",
            ebs_direct_read,
        ),
        Scenario(
            "emergency_change_in_ticket",
            HARD_NEGATIVE,
            (),
            frozenset(
                {
                    "DescribeInstances",
                    "CreateSnapshot",
                    "StopInstances",
                    "ModifyInstanceAttribute",
                    "StartInstances",
                }
            ),
            "late-night production change inside an approved emergency ticket",
            2,
            22.5,
            "Europe/Berlin",
            emergency_change_in_ticket,
        ),
        Scenario(
            "new_employee_first_days",
            HARD_NEGATIVE,
            (),
            _DESCRIBES
            | {
                "GetCallerIdentity",
                "RunInstances",
                "TerminateInstances",
                "StopInstances",
                "StartInstances",
                "CreateTags",
                "CreateSnapshot",
            },
            "a new engineer's first three days",
            0,
            9.0,
            "Europe/Berlin",
            new_employee_first_days,
        ),
        Scenario(
            "large_in_window_deploy",
            HARD_NEGATIVE,
            (),
            _DESCRIBES
            | {
                "CreateLaunchTemplateVersion",
                "ModifyLaunchTemplate",
                "UpdateAutoScalingGroup",
                "StartInstanceRefresh",
                "AuthorizeSecurityGroupIngress",
                "RunInstances",
                "TerminateInstances",
                "CreateVolume",
                "AttachVolume",
                "DetachVolume",
                "DeleteVolume",
                "CreateTags",
            },
            "an in-window Terraform apply four times larger than usual",
            0,
            10.5,
            "Europe/Berlin",
            large_in_window_deploy,
        ),
    )
}
"""Every scenario by name: ten attacks, then three hard negatives."""


def window_time(sim: Simulation, rng: random.Random) -> int | None:
    """Return a time 30-90 minutes into the test period's first unfrozen window, or ``None``."""
    pipeline: Pipeline = sim.registry["pipeline"]
    for start in window_starts(sim.org):
        if (
            start >= sim.org.test_start
            and not pipeline.frozen(start)
            and start + 4 * HOUR <= sim.org.end
        ):
            return start + rng.randrange(30, 90) * MINUTE
    return None
