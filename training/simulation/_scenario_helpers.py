"""What the scenarios share: the attackers' clients, callers, and the resources they pick."""

from __future__ import annotations

import random
from typing import Final, TypeVar

from features import ConfigurationError
from training.simulation._actors import person_caller
from training.simulation._ec2_actions import pick_pet, snapshot_volume
from training.simulation._engine import Caller, Resource, Simulation, Zone
from training.simulation._geo import NETWORKS
from training.simulation._ids import resource_id
from training.simulation._scenario_record import ATTACK
from training.simulation._time import to_date

__all__ = [
    "ATTACKER_BOTO3",
    "ATTACKER_CLI",
    "ATTACKER_GO",
    "any_host",
    "labelled_person",
    "legacy_key",
    "new_snapshot",
    "require",
    "stolen_sso",
    "zone_of",
]

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

_T = TypeVar("_T")


def zone_of(sim: Simulation, role: str, region_index: int = 0) -> Zone:
    """Return the zone of the account with ``role`` in the organisation's n-th region."""
    account = sim.org.account(role)
    region = sim.org.regions[min(region_index, len(sim.org.regions) - 1)]
    return sim.zones[(account.index, region)]


def labelled_person(
    sim: Simulation,
    handle: str,
    zone: Zone,
    t: int,
    rng: random.Random,
    label: tuple[str, str],
    *,
    console: bool,
    source_ip: str,
    agent: str | None = None,
) -> Caller:
    """Open an SSO session of person ``handle`` in ``zone``'s account, labelled ``label``."""
    caller = person_caller(
        sim.org,
        sim.org.person(handle),
        zone.account,
        t,
        rng,
        console=console,
        source_ip=source_ip,
        agent=agent,
    )
    caller.label = label
    return caller


def legacy_key(sim: Simulation, rng: random.Random, network: str, agent: str, name: str) -> Caller:
    """Use the legacy IAM user's long-term key from the attacker ``network`` with ``agent``."""
    user = sim.org.legacy_user
    return Caller(
        user.identity(),
        NETWORKS[network].host(rng),
        agent,
        "iam-user",
        user.arn,
        label=(name, ATTACK),
    )


def stolen_sso(
    sim: Simulation,
    handle: str,
    zone: Zone,
    t: int,
    rng: random.Random,
    network: str,
    agent: str,
    name: str,
) -> Caller:
    """Open ``handle``'s SSO session from the attacker ``network`` with ``agent``."""
    return labelled_person(
        sim,
        handle,
        zone,
        t,
        rng,
        (name, ATTACK),
        console=False,
        source_ip=NETWORKS[network].host(rng),
        agent=agent,
    )


def require(found: _T | None, what: str, t: int) -> _T:
    """Return ``found``, or say in words why a scenario cannot be injected at ``t``."""
    if found is None:
        raise ConfigurationError(
            f"cannot inject a scenario at {to_date(t).isoformat()}: the organisation has no "
            f"{what} then (earlier scenarios may have removed it); raise --scale or "
            "--test-days, or move the scenario with --at"
        )
    return found


def any_host(zone: Zone, t: int, rng: random.Random) -> Resource | None:
    """Pick a running service host, preferring ones with data volumes, else any instance."""
    return (
        pick_pet(zone, t, rng)
        or pick_pet(zone, t, rng, with_data=False)
        or zone.pick(zone.instances, t, rng, lambda r: r.state == "running")
    )


def new_snapshot(
    sim: Simulation, t: int, caller: Caller, zone: Zone, rng: random.Random, description: str
) -> tuple[int, str]:
    """Snapshot a production data volume (a backed-up one if any); return (size, snapshot id)."""
    volume = zone.pick(zone.volumes, t, rng, lambda v: bool(v.attrs.get("backup")))
    if volume is None:
        volume = zone.pick(zone.volumes, t, rng)
    volume = require(volume, "a production data volume", t)
    snapshot_id = resource_id("snap", rng)
    snapshot_volume(sim, t, caller, zone, volume, snapshot_id, description, shared=True)
    return int(volume.attrs.get("size", 100)), snapshot_id
