"""Attacks with valid credentials used by someone else (T1078): dormant, replayed, stolen."""

from __future__ import annotations

import random

from training.simulation import _calls as calls
from training.simulation._actors import automation_caller
from training.simulation._ec2_actions import (
    describe,
    launch_request,
    pick_pet,
)
from training.simulation._engine import Resource, Simulation
from training.simulation._geo import NETWORKS
from training.simulation._ids import resource_id
from training.simulation._scenario_helpers import (
    ATTACKER_CLI,
    ATTACKER_GO,
    labelled_person,
    stolen_sso,
    zone_of,
)
from training.simulation._scenario_record import ATTACK

__all__ = ["automation_off_window", "dormant_account_burst", "stolen_credentials_new_geo"]


def dormant_account_burst(sim: Simulation, t: int, rng: random.Random) -> None:
    """Reactivate a former administrator's SSO access for a burst of changes (T1078.004).

    Same person, home network and browser as weeks before, silent since leaving:
    ``DescribeInstances``, ``DescribeSecurityGroups``, ``DescribeKeyPairs``,
    ``ImportKeyPair``, ``AuthorizeSecurityGroupIngress`` (SSH from the world),
    ``RunInstances`` (two instances), ``CreateTags``, ``StopInstances`` of a service host.
    """
    zone = zone_of(sim, "prod")
    handle, label = "markus.schulz", ("dormant_account_burst", ATTACK)
    home = sim.org.person(handle).home_ip
    caller = labelled_person(sim, handle, zone, t, rng, label, console=True, source_ip=home)
    for offset, name in enumerate(
        ("DescribeInstances", "DescribeSecurityGroups", "DescribeKeyPairs")
    ):
        describe(sim, t + offset * 20, caller, zone, name)
    request, response = calls.import_key_pair(rng, "markus-temp")
    sim.call(t + 90, caller, zone, "ImportKeyPair", request, response)
    request, response = calls.authorize_ingress(
        rng, zone.groups["bastion"], zone.account.id, 22, "0.0.0.0/0"
    )
    sim.call(t + 130, caller, zone, "AuthorizeSecurityGroupIngress", request, response)
    subnet, az = zone.subnet(rng)
    ids = [resource_id("i", rng) for _ in range(2)]
    request, response = launch_request(
        rng,
        zone,
        ids,
        "c6i.4xlarge",
        (subnet, az),
        t + 200,
        group="bastion",
        key_name="markus-temp",
    )
    sim.call(t + 200, caller, zone, "RunInstances", request, response)
    for instance_id in ids:
        zone.instances[instance_id] = Resource(
            instance_id, t + 200, t + 230, "running", {"type": "c6i.4xlarge", "az": az}
        )
    request, response = calls.create_tags(ids, {"Name": "maintenance"})
    sim.call(t + 230, caller, zone, "CreateTags", request, response)
    victim = pick_pet(zone, t + 300, rng, with_data=False)
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
    zone = zone_of(sim, "prod")
    caller = automation_caller(
        sim.org,
        zone.account,
        t,
        rng,
        source_ip=NETWORKS["attacker-hosting-sg"].host(rng),
        agent=ATTACKER_CLI,
    )
    caller.label = ("automation_off_window", ATTACK)
    describe(sim, t, caller, zone, "DescribeInstances")
    describe(sim, t + 15, caller, zone, "DescribeSecurityGroups")
    request, response = calls.authorize_ingress(
        rng, zone.groups["web"], zone.account.id, 22, "0.0.0.0/0"
    )
    sim.call(t + 60, caller, zone, "AuthorizeSecurityGroupIngress", request, response)
    subnet, az = zone.subnet(rng)
    instance_id = resource_id("i", rng)
    request, response = launch_request(
        rng, zone, [instance_id], "t3.large", (subnet, az), t + 100, group="web", user_data=True
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
    zone = zone_of(sim, "prod")
    caller = stolen_sso(
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
    describe(sim, t + 3, caller, zone, "DescribeRegions")
    describe(sim, t + 6, caller, zone, "DescribeInstances")
    when = t + 10
    for instance_id in sorted(zone.instances)[:6]:
        describe(sim, when, caller, zone, "DescribeInstanceAttribute", [instance_id])
        when += rng.randrange(1, 3)
    describe(sim, when + 5, caller, zone, "DescribeSnapshots")
    describe(sim, when + 8, caller, zone, "DescribeSecurityGroups")
    request, response = calls.import_key_pair(rng, "default-2")
    sim.call(when + 40, caller, zone, "ImportKeyPair", request, response)
