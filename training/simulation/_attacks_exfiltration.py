"""Attacks that take data out: shared snapshots, a public image, EBS direct reads."""

from __future__ import annotations

import random

from training.simulation import _calls as calls
from training.simulation._ec2_actions import (
    describe,
)
from training.simulation._engine import Caller, Resource, Simulation
from training.simulation._geo import NETWORKS
from training.simulation._ids import resource_id
from training.simulation._scenario_helpers import (
    ATTACKER_BOTO3,
    ATTACKER_CLI,
    any_host,
    legacy_key,
    new_snapshot,
    require,
    stolen_sso,
    zone_of,
)
from training.simulation._scenario_record import ATTACK
from training.simulation._time import HOUR, to_date

__all__ = ["ebs_direct_read", "public_ami_share", "snapshot_share_exfil"]


def snapshot_share_exfil(sim: Simulation, t: int, rng: random.Random) -> None:
    """Snapshot a production data volume and share it with a foreign account (T1537).

    The legacy IAM user's long-term key is used from a VPN exit in the Netherlands with
    an aws-cli the organisation does not use: ``DescribeVolumes``, ``CreateSnapshot``,
    ``DescribeSnapshots`` (waiting for completion), ``ModifySnapshotAttribute`` adding
    ``createVolumePermission`` for an account outside the organisation.
    """
    zone = zone_of(sim, "prod")
    caller = legacy_key(sim, rng, "attacker-vpn-nl", ATTACKER_CLI, "snapshot_share_exfil")
    describe(sim, t, caller, zone, "DescribeVolumes")
    _, snapshot_id = new_snapshot(sim, t + 40, caller, zone, rng, "")
    for poll in range(3):
        describe(sim, t + 70 + 30 * poll, caller, zone, "DescribeSnapshots", [snapshot_id])
    request, response = calls.modify_snapshot_share(snapshot_id, sim.org.foreign_accounts[0])
    sim.call(t + 200, caller, zone, "ModifySnapshotAttribute", request, response)


def public_ami_share(sim: Simulation, t: int, rng: random.Random) -> None:
    """Image a production host and make the image public (T1537).

    A stolen administrator session from a VPN exit: ``CreateImage`` of a database host
    (no reboot), ``DescribeImages`` until available, ``ModifyImageAttribute`` adding
    ``launchPermission`` for ``group: all``.
    """
    zone = zone_of(sim, "prod")
    caller = stolen_sso(
        sim, "michael.okafor", zone, t, rng, "attacker-vpn-nl", ATTACKER_CLI, "public_ami_share"
    )
    host = require(any_host(zone, t, rng), "a running production host", t)
    image_id = resource_id("ami", rng)
    request, response = calls.create_image(
        image_id, host.id, f"{host.attrs.get('name', 'host')}-{to_date(t).isoformat()}"
    )
    sim.call(t, caller, zone, "CreateImage", request, response)
    zone.images[image_id] = Resource(image_id, t, t + 400, "available", {"public": True})
    for poll in range(3):
        describe(sim, t + 120 * (poll + 1), caller, zone, "DescribeImages", [image_id])
    request, response = calls.modify_image_share(image_id, public=True)
    sim.call(t + 400, caller, zone, "ModifyImageAttribute", request, response)


def ebs_direct_read(sim: Simulation, t: int, rng: random.Random) -> None:
    """Read a snapshot block by block through the EBS direct APIs (T1530, T1552.005).

    Instance-profile credentials of the web tier, stolen and used from a Russian
    hosting provider with a Python SDK: ``DescribeSnapshots``, then data events on
    ``ebs.amazonaws.com``: ``ListSnapshotBlocks`` and a run of ``GetSnapshotBlock``.
    """
    zone = zone_of(sim, "prod")
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
    describe(sim, t, caller, zone, "DescribeSnapshots")
    snapshot = zone.pick(zone.snapshots, t, rng, lambda s: bool(s.attrs.get("backup")))
    if snapshot is None:
        snapshot = zone.pick(zone.snapshots, t, rng)
    snapshot = require(snapshot, "a production backup snapshot", t)
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
