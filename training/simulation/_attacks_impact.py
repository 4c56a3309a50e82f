"""Attacks on the organisation's resources (Impact): mass deletion, GPU mining."""

from __future__ import annotations

import random

from training.simulation import _calls as calls
from training.simulation._ec2_actions import (
    describe,
    failed_call,
    launch_request,
)
from training.simulation._engine import Simulation, Zone
from training.simulation._ids import resource_id
from training.simulation._scenario_helpers import (
    ATTACKER_CLI,
    ATTACKER_GO,
    legacy_key,
    stolen_sso,
    zone_of,
)

__all__ = ["gpu_mining", "mass_deletion"]


def mass_deletion(sim: Simulation, t: int, rng: random.Random) -> None:
    """Mass deletion of snapshots and instances (T1485, T1490, T1578.003).

    A stolen administrator session from a Brazilian residential proxy at night:
    ``DescribeSnapshots``, ``DeleteSnapshot`` of up to 15 snapshots (backups
    included), ``DescribeInstances``, ``TerminateInstances`` of up to 4 service hosts.
    """
    zone = zone_of(sim, "prod")
    caller = stolen_sso(
        sim, "sarah.kim", zone, t, rng, "attacker-proxy-br", ATTACKER_CLI, "mass_deletion"
    )
    describe(sim, t, caller, zone, "DescribeSnapshots")
    when = t + 20
    for snapshot in sorted(zone.usable(zone.snapshots, when), key=lambda s: s.id)[:15]:
        request, response = calls.delete_snapshot(snapshot.id)
        sim.call(when, caller, zone, "DeleteSnapshot", request, response)
        del zone.snapshots[snapshot.id]
        when += rng.randrange(1, 3)
    describe(sim, when + 10, caller, zone, "DescribeInstances")
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


def gpu_mining(sim: Simulation, t: int, rng: random.Random) -> None:
    """GPU instances for cryptocurrency mining in a region the organisation never uses (T1496.001).

    The legacy user's key from a Chinese hosting network, Go SDK: ``DescribeRegions``,
    ``DescribeInstanceTypeOfferings``, ``DescribeImages``, ``RunInstances`` of
    ``p3.16xlarge`` (refused with ``Client.VcpuLimitExceeded``) then of several
    ``g5.12xlarge``, in a region outside the organisation's list.
    """
    org = sim.org
    base = zone_of(sim, "prod")
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
    caller = legacy_key(sim, rng, "attacker-hosting-cn", ATTACKER_GO, "gpu_mining")
    describe(sim, t, caller, zone, "DescribeRegions")
    describe(sim, t + 5, caller, zone, "DescribeInstanceTypeOfferings")
    describe(sim, t + 9, caller, zone, "DescribeImages")
    image = resource_id("ami", rng)
    subnet, az = zone.subnets[0]
    request, _ = launch_request(
        rng, zone, ["i-0"], "p3.16xlarge", (subnet, az), t + 20, image=image
    )
    failed_call(
        sim,
        t + 20,
        caller,
        zone,
        "RunInstances",
        request,
        (
            "Client.VcpuLimitExceeded",
            "You have requested more vCPU capacity than your current vCPU limit of 64 allows"
            " for the instance bucket that the specified instance type belongs to. Please visit"
            " http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.",
        ),
    )
    when = t + 40
    for _ in range(3):
        ids = [resource_id("i", rng) for _ in range(rng.randrange(1, 3))]
        request, response = launch_request(
            rng, zone, ids, "g5.12xlarge", (subnet, az), when, image=image, user_data=True
        )
        sim.call(when, caller, zone, "RunInstances", request, response)
        when += rng.randrange(10, 40)
