"""Hard negatives of automation and on-call: routine work that looks like an attack.

Each is something the organisation does as a matter of course, placed in the test
period and labelled ``hard_negative`` (every event it leaves):

* ``oncall_fix_outside_window``: the on-call administrator's small production fix at
  night, no ticket, as they did in the baseline;
* ``new_irsa_controller``: the EBS CSI driver installed in a cluster that did not run
  it, a new web-identity role starting the routine it has elsewhere;
* ``backup_restore_test``: the weekly restore test (snapshot -> volume -> attach);
* ``ami_share_to_org``: the weekly golden-AMI build sharing its images with the
  organisation's own accounts;
* ``deploy_new_run_session``: a production deploy in its window, under a new run id,
  hence a new session, as every run;
* ``new_region_enabled``: the platform team enabling a new region under a ticket.
"""

from __future__ import annotations

import random
from typing import Final

from training.simulation import _calls as calls
from training.simulation import _calls_images as images
from training.simulation._actors import automation_caller, person_caller
from training.simulation._backup import restore_test
from training.simulation._cicd import APP_RELEASE, GitHubDeploys
from training.simulation._clusters import cluster_without
from training.simulation._ebs_csi import EbsCsiDriver
from training.simulation._ec2_actions import describe, launch_request
from training.simulation._engine import Resource, Simulation, Zone
from training.simulation._geo import NETWORKS
from training.simulation._golden_ami import build_golden_ami, golden_ami_caller
from training.simulation._ids import resource_id
from training.simulation._lambdas import restore_caller
from training.simulation._oncall import OnCall
from training.simulation._people import browse
from training.simulation._scenario_helpers import require, zone_of
from training.simulation._scenario_record import HARD_NEGATIVE, weekday_time
from training.simulation._time import HOUR, MINUTE

__all__ = [
    "ami_share_to_org",
    "backup_restore_test",
    "deploy_new_run_session",
    "new_irsa_controller",
    "new_region_enabled",
    "oncall_fix_outside_window",
    "place_in_release",
    "place_new_region",
    "place_oncall",
]

NEW_REGIONS: Final = ("eu-west-2", "eu-north-1", "ca-central-1", "ap-southeast-2")
"""Candidates for the region the platform team enables (never the attackers' regions)."""


def oncall_fix_outside_window(sim: Simulation, t: int, rng: random.Random) -> None:
    """Answer a night page with a small production fix, without a ticket.

    The person on call that week (or, if they fixed nothing in the baseline, the one
    who fixed most; in a baseline too short for any page, the person on duty): from
    home, console or CLI, ``Describe*`` reads, then a reboot, restart,
    snapshot-and-reboot or resize of a service host.
    """
    oncall: OnCall = sim.registry["oncall"]
    person = oncall.on_duty(t)
    if oncall.fixes[person.handle] == 0 and oncall.fixes:
        person = sim.org.person(max(sorted(oncall.fixes), key=lambda h: oncall.fixes[h]))
    oncall.page(t, person, ("oncall_fix_outside_window", HARD_NEGATIVE), rng)


def place_oncall(sim: Simulation, rng: random.Random) -> int | None:
    """Saturday 03:20 Berlin time of the test period (any night would do)."""
    return weekday_time(sim, 5, 3 + 20 / 60, "Europe/Berlin")


def new_irsa_controller(sim: Simulation, t: int, rng: random.Random) -> None:
    """Install the EBS CSI driver in a cluster that lacked it: a new IRSA role at work.

    Its first ``AssumeRoleWithWebIdentity``, ``DescribeAvailabilityZones``,
    ``DescribeVolumes``, then, until the end, the routine it has in production:
    ``CreateVolume``, ``AttachVolume``, ``DetachVolume``, ``DeleteVolume``.
    """
    cluster = require(cluster_without(sim, "ebs-csi-driver"), "a cluster without the CSI driver", t)
    account = sim.org.account(cluster.account)
    zone = sim.zones[(account.index, sim.org.home_region)]
    EbsCsiDriver(sim, zone, cluster.name, start=t, label=("new_irsa_controller", HARD_NEGATIVE))


def backup_restore_test(sim: Simulation, t: int, rng: random.Random) -> None:
    """Run the weekly restore test: a backup snapshot restored onto a new test instance.

    ``DescribeSnapshots``, ``RunInstances``, ``DescribeInstances``, ``CreateVolume``
    from the night's backup snapshot, ``DescribeVolumes``, ``AttachVolume``, then
    ``DetachVolume``, ``DeleteVolume``, ``TerminateInstances``.
    """
    caller = restore_caller(sim, t, ("backup_restore_test", HARD_NEGATIVE))
    restore_test(sim, t, rng, caller, zone_of(sim, "prod"))


def ami_share_to_org(sim: Simulation, t: int, rng: random.Random) -> None:
    """Build the week's golden AMI, copy it to every region and share it in-house.

    The GitHub Actions workflow running Packer (:func:`._cicd.build_golden_ami`):
    ``ModifyImageAttribute`` grants ``launchPermission`` to the organisation's own
    accounts only.
    """
    label = ("ami_share_to_org", HARD_NEGATIVE)
    build_golden_ami(sim, t, rng, golden_ami_caller(sim, t, rng, label))


def deploy_new_run_session(sim: Simulation, t: int, rng: random.Random) -> None:
    """Deploy the web application to production in its window, under a new run id.

    ``AssumeRoleWithWebIdentity`` (session ``gh-actions-<new run id>``),
    ``GetCallerIdentity``, ``DescribeLaunchTemplateVersions``,
    ``CreateLaunchTemplateVersion``, ``ModifyLaunchTemplate``,
    ``UpdateAutoScalingGroup``, ``StartInstanceRefresh``, ``DescribeInstanceRefreshes``.
    """
    github: GitHubDeploys = sim.registry["github"]
    github.run(t, sim.org.account("prod"), ("deploy_new_run_session", HARD_NEGATIVE), rng)


def place_in_release(sim: Simulation, rng: random.Random) -> int | None:
    """30-120 minutes into the test period's first unfrozen ``app-release`` window."""
    days, first, _ = APP_RELEASE
    found = [weekday_time(sim, day, first, "Europe/Berlin", skip_frozen=True) for day in days]
    starts = [t for t in found if t is not None]
    return min(starts) + rng.randrange(30, 120) * MINUTE if starts else None


def new_region_enabled(sim: Simulation, t: int, rng: random.Random) -> None:
    """Enable a new region under a ticket: the platform lead looks, Terraform builds.

    A ticket names production, the new region, the pipeline and the administrator.
    Her console session (``Describe*``), then the pipeline from its CI runners:
    ``Describe*``, ``CreateSecurityGroup``, ``AuthorizeSecurityGroupIngress``,
    ``RunInstances`` (a bastion), ``CreateTags``, ``CreateVolume``, ``AttachVolume``.
    """
    org = sim.org
    prod = org.account("prod")
    region = next(r for r in NEW_REGIONS if r not in org.regions)
    zone = Zone(
        prod,
        region,
        resource_id("vpc", rng),
        [(resource_id("subnet", rng), f"{region}{c}") for c in "abc"],
        {"default": resource_id("sg", rng), "bastion": resource_id("sg", rng)},
        {},
        {},
    )
    image = resource_id("ami", rng)
    zone.images[image] = Resource(image, t, t, "available", {"name": "al2023-ami-2023.4.20240319"})
    admin = org.person("anna.weber")
    start = t - 15 * MINUTE
    sim.tickets.append(
        {
            "id": f"CHG-{1000 + len(sim.tickets) * 7 + rng.randrange(7)}",
            "start_epoch": start,
            "end_epoch": start + 4 * HOUR,
            "owner": admin.email,
            "reason": f"enable {region} for the EU expansion (platform team)",
            "planned": True,
            "scope": {
                "accounts": [prod.id],
                "regions": [region],
                "identities": [
                    "arn:aws:iam::*:role/deploy-terraform*",
                    f"arn:aws:iam::{prod.id}:role/AWSReservedSSO_*/{admin.email}",
                ],
            },
        }
    )
    label = ("new_region_enabled", HARD_NEGATIVE)
    person = person_caller(
        org, admin, prod, t, rng, console=True, source_ip=NETWORKS["office-berlin"].host(rng)
    )
    person.label = label
    when = browse(sim, rng, t, person, zone, True, 0.5)
    caller = automation_caller(org, prod, when + 20 * MINUTE, rng)
    caller.label = label
    when += 20 * MINUTE
    for name in ("DescribeAvailabilityZones", "DescribeVpcs", "DescribeSubnets", "DescribeImages"):
        describe(sim, when, caller, zone, name)
        when += rng.randrange(1, 3)
    group = resource_id("sg", rng)
    request, response = images.create_security_group(group, "bastion", "bastion hosts", zone.vpc)
    sim.call(when, caller, zone, "CreateSecurityGroup", request, response)
    request, response = calls.authorize_ingress(rng, group, prod.id, 443, "10.80.0.0/16")
    sim.call(when + 2, caller, zone, "AuthorizeSecurityGroupIngress", request, response)
    host = resource_id("i", rng)
    subnet, az = zone.subnet(rng)
    request, response = launch_request(
        rng,
        zone,
        [host],
        "t3.micro",
        (subnet, az),
        when + 10,
        tags={"Name": "bastion", "ManagedBy": "terraform"},
    )
    sim.call(when + 10, caller, zone, "RunInstances", request, response)
    request, response = calls.create_tags([host], {"CostCenter": "platform"})
    sim.call(when + 14, caller, zone, "CreateTags", request, response)
    volume = resource_id("vol", rng)
    request, response = calls.create_volume(
        volume,
        zone=az,
        size=50,
        created=when + 60,
        tags={"Name": "bastion-data", "ManagedBy": "terraform"},
    )
    sim.call(when + 60, caller, zone, "CreateVolume", request, response)
    request, response = calls.attach_volume(volume, host, "/dev/sdf", when + 90)
    sim.call(when + 90, caller, zone, "AttachVolume", request, response)


def place_new_region(sim: Simulation, rng: random.Random) -> int | None:
    """Wednesday 15:00 Berlin of the test period: outside the Terraform window, under a ticket."""
    return weekday_time(sim, 2, 15.0, "Europe/Berlin")
