"""Attacks that modify cloud compute (T1578): a volume attached elsewhere, boot-time user data."""

from __future__ import annotations

import random

from training.simulation import _calls as calls
from training.simulation._ec2_actions import (
    describe,
    launch_request,
    pick_pet,
)
from training.simulation._engine import Resource, Simulation
from training.simulation._ids import resource_id
from training.simulation._scenario_helpers import (
    ATTACKER_BOTO3,
    any_host,
    new_snapshot,
    require,
    stolen_sso,
    zone_of,
)

__all__ = ["snapshot_volume_attach", "user_data_change"]


def snapshot_volume_attach(sim: Simulation, t: int, rng: random.Random) -> None:
    """Snapshot -> volume from it -> new instance -> attach, in minutes (T1578.001, T1578.002).

    The chain AN0861 names.

    A stolen SSO session of an administrator, used from a US hosting provider with a
    Python SDK: ``CreateSnapshot`` of a production data volume, ``DescribeSnapshots``,
    ``CreateVolume`` naming that snapshot, ``RunInstances`` of a small instance in the
    same availability zone, ``DescribeInstances``, ``AttachVolume`` of the new volume to
    the new instance. Nothing is cleaned up.
    """
    zone = zone_of(sim, "prod")
    caller = stolen_sso(
        sim,
        "tom.harris",
        zone,
        t,
        rng,
        "attacker-hosting-us",
        ATTACKER_BOTO3,
        "snapshot_volume_attach",
    )
    size, snapshot_id = new_snapshot(sim, t, caller, zone, rng, "backup")
    describe(sim, t + 45, caller, zone, "DescribeSnapshots", [snapshot_id])
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
    request, response = launch_request(
        rng, zone, [instance_id], "t3.medium", (subnet, az), t + 150, key_name="ops-recovery"
    )
    sim.call(t + 150, caller, zone, "RunInstances", request, response)
    zone.instances[instance_id] = Resource(
        instance_id,
        t + 150,
        t + 240,
        "running",
        {"type": "t3.medium", "az": az, "volumes": [volume_id]},
    )
    describe(sim, t + 200, caller, zone, "DescribeInstances", [instance_id])
    request, response = calls.attach_volume(volume_id, instance_id, "/dev/sdf", t + 240)
    sim.call(t + 240, caller, zone, "AttachVolume", request, response)


def user_data_change(sim: Simulation, t: int, rng: random.Random) -> None:
    """Stop -> user-data change -> start, to run code at boot (T1578.005, T1059.009).

    A stolen administrator session from a Singapore hosting provider:
    ``DescribeInstances``, ``StopInstances``, ``DescribeInstances`` (waiting),
    ``ModifyInstanceAttribute`` of ``userData``, ``StartInstances``.
    """
    zone = zone_of(sim, "prod")
    caller = stolen_sso(
        sim,
        "lena.hoffmann",
        zone,
        t,
        rng,
        "attacker-hosting-sg",
        ATTACKER_BOTO3,
        "user_data_change",
    )
    host = require(
        pick_pet(zone, t, rng, with_data=False) or any_host(zone, t, rng),
        "a running production host",
        t,
    )
    describe(sim, t, caller, zone, "DescribeInstances", [host.id])
    request, response = calls.state_change("StopInstances", [host.id], "running", "stopping")
    sim.call(t + 20, caller, zone, "StopInstances", request, response)
    for poll in range(2):
        describe(sim, t + 50 + 30 * poll, caller, zone, "DescribeInstances", [host.id])
    request, response = calls.modify_instance_attribute(host.id, "userData")
    sim.call(t + 120, caller, zone, "ModifyInstanceAttribute", request, response)
    request, response = calls.state_change("StartInstances", [host.id], "stopped", "pending")
    sim.call(t + 140, caller, zone, "StartInstances", request, response)
    host.last = t + 140
