"""Hard negatives of people and the pipeline: a ticketed emergency, a new hire, a big deploy.

The hard negatives of automation are in :mod:`._hard_negatives_automation`.
"""

from __future__ import annotations

import random
from datetime import date

from training.simulation import _calls as calls
from training.simulation._actors import person_caller
from training.simulation._ec2_actions import (
    describe,
    snapshot_volume,
)
from training.simulation._engine import Simulation
from training.simulation._geo import NETWORKS
from training.simulation._ids import resource_id
from training.simulation._org import DOMAIN, Person
from training.simulation._people import Human, browse, open_ticket
from training.simulation._pipeline import Pipeline
from training.simulation._scenario_helpers import (
    any_host,
    labelled_person,
    require,
    zone_of,
)
from training.simulation._scenario_record import HARD_NEGATIVE
from training.simulation._time import DAY, HOUR, MINUTE, to_date

__all__ = ["emergency_change_in_ticket", "large_in_window_deploy", "new_employee_first_days"]


def emergency_change_in_ticket(sim: Simulation, t: int, rng: random.Random) -> None:
    """Make a late-night on-call production change inside an approved emergency ticket.

    From home, console: ``DescribeInstances``, ``CreateSnapshot`` (pre-change), then
    ``StopInstances``, ``ModifyInstanceAttribute`` (instance type), ``StartInstances``
    of a service host. The ticket is written to ``change_windows.yaml``.
    """
    zone = zone_of(sim, "prod")
    person = sim.org.person("jonas.becker")
    label = ("emergency_change_in_ticket", HARD_NEGATIVE)
    caller = labelled_person(
        sim, person.handle, zone, t, rng, label, console=True, source_ip=person.home_ip
    )
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
    describe(sim, t, caller, zone, "DescribeInstances")
    host = require(any_host(zone, t + 60, rng), "a running production host", t)
    volumes = host.attrs.get("volumes") or []
    volume = zone.volumes.get(volumes[0]) if volumes else None
    when = t + 60
    if volume is not None:  # a host without a data volume (a small --scale) is not snapshotted
        snapshot_id = resource_id("snap", rng)
        when = max(when, volume.last)
        description = f"pre-change {ticket['id']}"
        snapshot_volume(sim, when, caller, zone, volume, snapshot_id, description, manual=True)
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
    """Run a Terraform apply five times larger than usual inside the approved deploy window.

    The pipeline's usual identity, network and client in production: a longer refresh
    (``Describe*``) and about ten changes among ``CreateLaunchTemplateVersion``,
    ``ModifyLaunchTemplate``, ``UpdateAutoScalingGroup``, ``StartInstanceRefresh``,
    ``AuthorizeSecurityGroupIngress``, ``RunInstances``, ``TerminateInstances``,
    ``CreateVolume``, ``AttachVolume``, ``DetachVolume``, ``DeleteVolume``,
    ``CreateTags``.
    """
    pipeline: Pipeline = sim.registry["pipeline"]
    with sim.labelled("large_in_window_deploy", HARD_NEGATIVE):
        pipeline.apply(t, sim.org.account("prod"), 5)
