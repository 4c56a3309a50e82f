"""The golden-AMI build: a GitHub Actions workflow running Packer, weekly, in the central account.

The workflow's session is the ``configure-aws-credentials`` default, ``GitHubActions``
(web identity from ``token.actions.githubusercontent.com``); Packer then calls EC2
with the Go SDK. Images are copied to every region and shared with the
organisation's own accounts; ``ami-housekeeping`` (:mod:`._lambdas`) deregisters old ones.
"""

from __future__ import annotations

import random

from training.simulation import _calls as calls
from training.simulation import _calls_images as images
from training.simulation._cicd import CONFIGURE_AWS, GITHUB, PACKER_UA
from training.simulation._ec2_actions import describe, launch_request
from training.simulation._engine import Caller, Resource, Simulation
from training.simulation._federation import WebIdentity, assume_web_identity
from training.simulation._geo import NETWORKS
from training.simulation._ids import resource_id, uuid
from training.simulation._time import DAY, HOUR, MINUTE, to_date

__all__ = ["GoldenAmi", "build_golden_ami", "golden_ami_caller"]


def golden_ami_caller(
    sim: Simulation, t: int, rng: random.Random, label: tuple[str, str] | None = None
) -> Caller:
    """Open the golden-AMI workflow's session (``GitHubActions``) in the central account."""
    account = sim.org.central()
    zone = sim.zones[(account.index, sim.org.home_region)]
    role = sim.org.role(account, "packer-ami-builder")
    web = WebIdentity(GITHUB, "repo:northwind/golden-ami:ref:refs/heads/main")
    ip = NETWORKS["github-actions"].host(rng)
    identity = assume_web_identity(
        sim,
        t,
        zone,
        role,
        web,
        "GitHubActions",
        source_ip=ip,
        agent=CONFIGURE_AWS,
        rng=rng,
        duration=3600,
        label=label,
    )
    sim.actor(
        role.key, "automation", "golden-ami-pipeline", sessions="fixed", web_identity=web.subject
    )
    return Caller(identity, ip, PACKER_UA, "automation", role.key, label=label)


def build_golden_ami(sim: Simulation, t: int, rng: random.Random, caller: Caller) -> int:
    """Build this week's golden image with Packer, copy it to every region, share it in-house.

    ``DescribeImages`` (the source image), ``CreateKeyPair`` and ``CreateSecurityGroup``
    (``packer_<uuid>``, SSH from the runner), ``RunInstances`` of the builder,
    ``DescribeInstances``, ``StopInstances``, ``CreateImage``, ``DescribeImages`` until
    available, ``CopyImage`` to each other region, ``ModifyImageAttribute`` granting
    ``launchPermission`` to the organisation's other accounts in each region,
    ``CreateTags``, then ``TerminateInstances``, ``DeleteKeyPair`` and
    ``DeleteSecurityGroup``. Returns the time of the last call.
    """
    org = sim.org
    account = org.central()
    zone = sim.zones[(account.index, org.home_region)]
    name = f"packer_{uuid(rng)}"
    describe(sim, t + 5, caller, zone, "DescribeImages")
    request, response = images.create_key_pair(rng, name)
    sim.call(t + 8, caller, zone, "CreateKeyPair", request, response)
    group = resource_id("sg", rng)
    request, response = images.create_security_group(
        group, name, "Temporary group for Packer", zone.vpc
    )
    sim.call(t + 10, caller, zone, "CreateSecurityGroup", request, response)
    runner = f"{caller.source_ip}/32"
    request, response = calls.authorize_ingress(rng, group, account.id, 22, runner)
    sim.call(t + 11, caller, zone, "AuthorizeSecurityGroupIngress", request, response)
    builder = resource_id("i", rng)
    subnet, az = zone.subnet(rng)
    request, response = launch_request(
        rng,
        zone,
        [builder],
        "t3.medium",
        (subnet, az),
        t + 14,
        key_name=name,
        tags={"Name": "Packer Builder"},
    )
    sim.call(t + 14, caller, zone, "RunInstances", request, response)
    for poll in range(3):
        describe(sim, t + 30 + 15 * poll, caller, zone, "DescribeInstances", [builder])
    built = t + rng.randrange(8 * MINUTE, 14 * MINUTE)
    request, response = calls.state_change("StopInstances", [builder], "running", "stopping")
    sim.call(built, caller, zone, "StopInstances", request, response)
    image_id = resource_id("ami", rng)
    image_name = f"northwind-base-al2023-{to_date(t).isoformat()}"
    request, response = calls.create_image(image_id, builder, image_name, no_reboot=False)
    sim.call(built + 40, caller, zone, "CreateImage", request, response)
    when = built + 40
    for _ in range(rng.randrange(3, 6)):
        when += rng.randrange(30, 60)
        describe(sim, when, caller, zone, "DescribeImages", [image_id])
    others = [a.id for a in org.accounts if a.id != account.id]
    copies = {org.home_region: image_id}
    for region in org.regions[1:]:
        when += rng.randrange(2, 6)
        copy_id = resource_id("ami", rng)
        request, response = images.copy_image(copy_id, org.home_region, image_id, image_name)
        sim.call(when, caller, sim.zones[(account.index, region)], "CopyImage", request, response)
        copies[region] = copy_id
    when += rng.randrange(5 * MINUTE, 10 * MINUTE)
    for region, ami in copies.items():
        target = sim.zones[(account.index, region)]
        target.images[ami] = Resource(
            ami, when, when, "available", {"name": image_name, "golden": True, "shared": True}
        )
        if others:
            request, response = images.share_image(ami, others)
            sim.call(when, caller, target, "ModifyImageAttribute", request, response)
        request, response = calls.create_tags([ami], {"Name": image_name, "Release": "weekly"})
        sim.call(when + 1, caller, target, "CreateTags", request, response)
        when += rng.randrange(2, 8)
    request, response = calls.state_change(
        "TerminateInstances", [builder], "stopped", "shutting-down"
    )
    sim.call(when, caller, zone, "TerminateInstances", request, response)
    request, response = images.delete_key_pair(name)
    sim.call(when + 2, caller, zone, "DeleteKeyPair", request, response)
    request, response = images.delete_security_group(group)
    sim.call(when + rng.randrange(60, 120), caller, zone, "DeleteSecurityGroup", request, response)
    return when + 120


class GoldenAmi:
    """The weekly golden-AMI workflow (Mondays 04:00 UTC; in the baseline only)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.rng = random.Random(f"golden-ami:{sim.org.seed}")
        for day in range(sim.org.start, sim.org.test_start, DAY):
            if to_date(day).weekday() == 0:
                sim.at(day + 4 * HOUR + self.rng.randrange(900), self.run)

    def run(self, t: int) -> None:
        """One scheduled run."""
        build_golden_ami(self.sim, t, self.rng, golden_ami_caller(self.sim, t, self.rng))
