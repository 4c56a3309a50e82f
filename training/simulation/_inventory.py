"""The resources that exist before the simulation starts, per account and region.

Each zone gets a VPC with three subnets, security groups, golden images, launch
templates, long-lived ("pet") instances with root and data volumes, and the backup
snapshots of the last retention period. Their ids are listed in the manifest as
pre-existing, so lifecycle checks know what may be touched without being created.
"""

from __future__ import annotations

import random
from typing import Final

from training.simulation._engine import Resource, Simulation, Zone
from training.simulation._ids import resource_id
from training.simulation._org import Account
from training.simulation._time import DAY, HOUR

__all__ = ["ASGS", "BACKUP_RETENTION_DAYS", "PETS", "seed_zones"]

BACKUP_RETENTION_DAYS: Final = 7

# account role -> (name, instance type, data volume GiB or 0, backed up)
PETS: Final[dict[str, tuple[tuple[str, str, int, bool], ...]]] = {
    "prod": (
        ("bastion", "t3.micro", 0, False),
        ("db-primary", "r6i.xlarge", 500, True),
        ("db-replica", "r6i.xlarge", 500, True),
        ("search", "m6i.2xlarge", 200, True),
    ),
    "staging": (
        ("bastion", "t3.micro", 0, False),
        ("db-primary", "r6i.large", 200, True),
        ("search", "m6i.large", 100, True),
    ),
    "shared": (
        ("ci-runner", "m6i.large", 100, False),
        ("vpn", "t3.small", 0, False),
        ("artifacts", "m6i.large", 300, True),
    ),
    "dev": (
        ("dev-box-anna", "t3.large", 50, False),
        ("dev-box-jonas", "t3.large", 50, False),
        ("dev-db", "t3.medium", 50, False),
    ),
    "analytics": (("jupyterhub", "m6i.2xlarge", 500, True), ("airflow", "m6i.large", 100, True)),
    "sandbox": (("sandbox-1", "t3.small", 0, False),),
    "backup": (),
}
"""Long-lived instances of each kind of account."""

# account role -> (group name, base capacity, diurnal amplitude, instance type)
ASGS: Final[dict[str, tuple[tuple[str, int, int, str], ...]]] = {
    "prod": (("web", 6, 20, "m6i.large"), ("worker", 4, 12, "c6i.xlarge")),
    "staging": (("web", 2, 4, "t3.medium"),),
    "analytics": (("eks-data", 2, 6, "r6i.2xlarge"),),
}
"""Auto Scaling groups of each kind of account."""


_SCHEDULED_ACCOUNTS: Final = ("staging", "dev", "sandbox")
"""Accounts whose hosts (but bastions and databases) the instance scheduler stops at night."""


def _image(rng: random.Random, created: int, name: str) -> Resource:
    return Resource(resource_id("ami", rng), created, created, "available", {"name": name})


def seed_zones(sim: Simulation, rng: random.Random) -> None:
    """Create every zone of the organisation with its pre-existing resources."""
    org = sim.org
    for account in org.accounts:
        for region in org.regions:
            zone = _zone(account, region, rng, org.start)
            sim.zones[(account.index, region)] = zone
            _pets(sim, zone, rng, org.scale)
    for zone in sim.zones.values():
        sim.preexisting["instances"].extend(zone.instances)
        sim.preexisting["volumes"].extend(zone.volumes)
        sim.preexisting["snapshots"].extend(zone.snapshots)
        sim.preexisting["images"].extend(zone.images)


def _zone(account: Account, region: str, rng: random.Random, start: int) -> Zone:
    subnets = [(resource_id("subnet", rng), f"{region}{letter}") for letter in "abc"]
    groups = {
        name: resource_id("sg", rng)
        for name in ("default", "web", "worker", "db", "bastion", "eks-nodes")
    }
    before = start - 30 * DAY
    images = {}
    for index in range(2):
        image = _image(
            rng,
            before - index * 20 * DAY,
            f"northwind-base-al2023-2026.0{2 - index}.{rng.randrange(1, 28)}",
        )
        images[image.id] = image
    templates: dict[str, list[object]] = {}
    for name, *_ in ASGS.get(account.role, ()):
        templates[name] = [resource_id("lt", rng), f"{name}-{account.role}", rng.randrange(3, 20)]
    templates["karpenter"] = [resource_id("lt", rng), "karpenter.k8s.aws/main-default", 1]
    return Zone(account, region, resource_id("vpc", rng), subnets, groups, images, templates)


def _pets(sim: Simulation, zone: Zone, rng: random.Random, scale: float) -> None:
    start = sim.org.start
    pets = list(PETS.get(zone.account.role, ()))
    if zone.account.role in ("prod", "staging"):
        extra = max(1, round((4 if zone.account.role == "prod" else 2) * scale))
        pets.extend((f"svc-{n}", "m6i.large", 100, True) for n in range(1, extra + 1))
    if zone.region != sim.org.regions[0]:
        pets = [
            pet for pet in pets if pet[0] in ("bastion",) or pet[0].startswith("svc-") or pet[3]
        ][:4]
    image = next(iter(zone.images))
    scheduled = zone.account.role in _SCHEDULED_ACCOUNTS and zone.region == sim.org.regions[0]
    for name, kind, data_size, backed_up in pets:
        created = start - rng.randrange(40, 400) * DAY
        subnet, az = zone.subnet(rng)
        instance = Resource(
            resource_id("i", rng),
            created,
            created,
            "running",
            {
                "name": name,
                "type": kind,
                "az": az,
                "subnet": subnet,
                "image": image,
                "pet": True,
                "volumes": [],
            },
        )
        if scheduled and not name.startswith(("bastion", "db-")):
            instance.attrs["schedule"] = "office-hours"
        zone.instances[instance.id] = instance
        root = Resource(
            resource_id("vol", rng),
            created,
            created,
            "in-use",
            {"size": 20, "az": az, "instance": instance.id, "device": "/dev/xvda", "root": True},
        )
        zone.volumes[root.id] = root
        if data_size:
            volume = Resource(
                resource_id("vol", rng),
                created,
                created,
                "in-use",
                {
                    "size": data_size,
                    "az": az,
                    "instance": instance.id,
                    "device": "/dev/sdf",
                    "backup": backed_up,
                    "name": f"{name}-data",
                },
            )
            zone.volumes[volume.id] = volume
            instance.attrs["volumes"].append(volume.id)
            if backed_up:
                for age in range(1, BACKUP_RETENTION_DAYS + 1):
                    taken = start - age * DAY + 1 * HOUR + rng.randrange(3600)
                    snapshot = Resource(
                        resource_id("snap", rng),
                        taken,
                        taken,
                        "completed",
                        {"volume": volume.id, "size": data_size, "backup": True},
                    )
                    zone.snapshots[snapshot.id] = snapshot
        if name.startswith(("db", "search")) and rng.random() < 0.7:
            taken = start - rng.randrange(20, 90) * DAY
            snapshot = Resource(
                resource_id("snap", rng),
                taken,
                taken,
                "completed",
                {"volume": root.id, "size": 20, "manual": True},
            )
            zone.snapshots[snapshot.id] = snapshot
