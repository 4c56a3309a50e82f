"""The on-call rotation: small fixes in production at night and at weekends, without a ticket.

The administrators take the pager a week each, in turn, from Monday 09:00 Berlin.
Pages come at night (19:30-06:30 in the on-call person's time zone) and at
weekends; each is a short session from home (console or CLI) ending, most of the
time, in a small fix of a production service host: a reboot, a stop and start, a
pre-fix snapshot and reboot, or a resize (stop, instance type, start). Routine
fixes get no ticket; the complete policy records one per fix. Nobody touches
production in a freeze: a page then ends with looking.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

from training.simulation._actors import person_caller, poisson
from training.simulation._ec2_actions import fix_host, pick_pet, snapshot_volume
from training.simulation._engine import Caller, Simulation, Zone
from training.simulation._ids import resource_id
from training.simulation._org import Person
from training.simulation._people import browse, open_ticket
from training.simulation._pipeline import Pipeline
from training.simulation._time import DAY, HOUR, MINUTE, is_workday, local_time, to_date

__all__ = ["OnCall", "small_fix"]


class OnCall:
    """The weekly rotation and its pages; counts each person's fixes made in the baseline."""

    def __init__(self, sim: Simulation) -> None:
        org = sim.org
        self.sim = sim
        self.rng = random.Random(f"oncall:{org.seed}")
        self.members = [p for p in org.people if p.on_call]
        self.fixes: Counter[str] = Counter()
        sim.registry["oncall"] = self
        if not self.members:
            return
        for day_start in range(org.start, org.end, DAY):
            day = to_date(day_start)
            person = self.on_duty(local_time(day, 12, "Europe/Berlin"))
            weekend = not is_workday(day, person.country)
            for _ in range(poisson(self.rng, 0.45 + (0.5 if weekend else 0.0))):
                hour = self.rng.choice(
                    (self.rng.uniform(19.5, 24.0), self.rng.uniform(24.0, 30.5))
                    + ((self.rng.uniform(10.0, 19.0),) if weekend else ())
                )
                sim.at(local_time(day, hour, person.timezone), self.page, person, None)
            if day.weekday() == 5:
                sim.at(
                    local_time(day, self.rng.uniform(20.0, 23.0), person.timezone),
                    self.page,
                    person,
                    None,
                )

    def on_duty(self, t: int) -> Person:
        """Return the person holding the pager at ``t``."""
        first = to_date(self.sim.org.start)
        monday = date.fromordinal(first.toordinal() - first.weekday())
        handover = local_time(monday, 9, "Europe/Berlin")
        week = (t - handover) // (7 * DAY)
        return self.members[int(week) % len(self.members)]

    def page(
        self,
        t: int,
        person: Person,
        label: tuple[str, str] | None,
        rng: random.Random | None = None,
    ) -> None:
        """Answer a page from home: look around, then make a small fix (counted if in baseline)."""
        sim = self.sim
        rng = rng or self.rng
        if not person.active(t):
            return
        org = sim.org
        prod = org.account("prod")
        account = (
            prod
            if rng.random() < 0.8 or len(person.accounts) == 1
            else org.accounts[rng.choice(person.accounts)]
        )
        zone = sim.zones[(account.index, org.home_region)]
        console = rng.random() < person.console_share
        caller = person_caller(
            org, person, account, t, rng, console=console, source_ip=person.home_ip
        )
        caller.label = label
        when = browse(sim, rng, t, caller, zone, console, 0.3)
        pipeline: Pipeline = sim.registry["pipeline"]
        if account.role == "prod" and pipeline.frozen(when):
            return
        if rng.random() < 0.15 and label is None:
            return
        fixed = small_fix(sim, rng, when + rng.randrange(30, 240), caller, zone, person.email)
        if fixed and t < org.test_start:
            self.fixes[person.handle] += 1


def small_fix(
    sim: Simulation, rng: random.Random, t: int, caller: Caller, zone: Zone, owner: str
) -> bool:
    """Reboot, restart, snapshot-and-reboot or resize a service host; return whether done.

    Leaves ``RebootInstances``, or ``StopInstances`` and ``StartInstances`` (with
    ``ModifyInstanceAttribute`` of the instance type for a resize), after a
    ``CreateSnapshot`` of its data volume for the snapshot-first fix. The ticket it
    records is unplanned: only the complete policy holds it.
    """
    host = pick_pet(zone, t, rng, with_data=False, test=lambda r: r.last + 30 * MINUTE < t)
    if host is None:
        return False
    fix = rng.choice(("reboot", "reboot", "restart", "snapshot", "resize"))
    open_ticket(
        sim,
        rng,
        t,
        caller,
        zone,
        owner,
        f"on-call: {fix} {host.attrs.get('name', host.id)}",
        before=5 * MINUTE,
        length=2 * HOUR,
        planned=False,
    )
    when = t
    volumes = [zone.volumes.get(v) for v in host.attrs.get("volumes", ())]
    volume = next((v for v in volumes if v is not None and v.last <= when), None)
    if fix == "snapshot" and volume is not None:
        snapshot_volume(
            sim,
            when,
            caller,
            zone,
            volume,
            resource_id("snap", rng),
            f"on-call before fix {to_date(t).isoformat()}",
            manual=True,
        )
        when += rng.randrange(60, 300)
    fix_host(sim, rng, when, caller, zone, host, "reboot" if fix == "snapshot" else fix)
    return True
