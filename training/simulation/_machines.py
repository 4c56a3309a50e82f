"""Machine actors: Auto Scaling groups, the monitoring vendor, AWS Config, instance bootstrap."""

from __future__ import annotations

import random
from typing import Any, Final

from training.simulation import _calls as calls
from training.simulation._actors import (
    APP_UA,
    MONITOR_UA,
    NODE_UA,
    curve,
    poisson,
    region_tz,
    service_caller,
)
from training.simulation._ec2_actions import describe, drain, launch_request
from training.simulation._engine import Caller, Resource, Simulation, Zone
from training.simulation._geo import NETWORKS
from training.simulation._ids import resource_id
from training.simulation._inventory import ASGS
from training.simulation._org import Role
from training.simulation._time import DAY, HOUR, MINUTE

__all__ = [
    "AutoScalingGroup",
    "ConfigRecorder",
    "Monitor",
    "bootstrap",
    "launched",
    "preexisting",
]


_PROFILES: Final = {"web": "app-web", "worker": "app-worker", "eks-data": "eks-node-data"}
"""Instance profile role of each Auto Scaling group's instances."""


class AutoScalingGroup:
    """One Auto Scaling group: hourly capacity from the day curve, launches and terminations."""

    def __init__(
        self, sim: Simulation, zone: Zone, name: str, base: int, amplitude: int, kind: str
    ) -> None:
        org = sim.org
        self.sim, self.zone, self.name, self.kind = sim, zone, name, kind
        self.rng = random.Random(f"asg:{org.seed}:{zone.account.index}:{zone.region}:{name}")
        self.base = max(1, round(base * org.scale))
        self.amplitude = max(1, round(amplitude * org.scale))
        self.tz = region_tz(zone.region)
        self.role = org.role(zone.account, "AWSServiceRoleForAutoScaling")
        self.app_role = org.role(zone.account, _PROFILES.get(name, "app-worker"))
        self.agent = NODE_UA if name.startswith("eks-") else APP_UA
        self.members: list[str] = []
        self.pending = 0
        self.controller: Any = None
        self._cached: tuple[int, Caller] | None = None
        first = self._desired(org.start)
        for _ in range(first):
            self.members.append(
                preexisting(sim, zone, self.rng, 3 * DAY, {"asg": name, "type": kind})
            )
        for hour in range(org.start, org.end, HOUR):
            sim.at(hour + self.rng.randrange(0, 120), self.tick)
        sim.registry[f"asg:{zone.account.index}:{zone.region}:{name}"] = self

    @property
    def full_name(self) -> str:
        """The group's name in AWS, e.g. ``web-prod``."""
        return f"{self.name}-{self.zone.account.role}"

    def _desired(self, t: int) -> int:
        return self.base + round(self.amplitude * curve(t, self.tz))

    def _caller(self, t: int) -> Caller:
        hour = t - t % HOUR
        if self._cached is None or self._cached[0] != hour:
            self._cached = (
                hour,
                service_caller(
                    self.role, "AutoScaling", "autoscaling.amazonaws.com", hour, self.rng
                ),
            )
        return self._cached[1]

    def tick(self, t: int) -> None:
        """Bring the group to this hour's capacity; replace an unhealthy instance now and then."""
        target = self._desired(t + 30 * MINUTE) + (self.rng.random() < 0.2) * self.rng.choice(
            (-1, 1)
        )
        target = max(self.base, target)
        current = len(self.members) + self.pending
        if self.controller is not None and target > current:
            self.controller.resize(t, target)
        for _ in range(max(0, target - current)):
            self.pending += 1
            self.sim.at(t + self.rng.randrange(10, 50 * MINUTE), self.launch)
        for _ in range(max(0, current - target)):
            self.sim.at(t + self.rng.randrange(10, 50 * MINUTE), self.terminate, False)
        churn = (0.9 if self.name == "worker" else 0.2) * self.sim.org.scale
        for _ in range(poisson(self.rng, churn)):
            self.replace(t + self.rng.randrange(60, 45 * MINUTE), 1)

    def replace(self, t: int, count: int) -> None:
        """Terminate and relaunch ``count`` instances (health checks, instance refresh)."""
        for index in range(count):
            when = t + index * self.rng.randrange(60, 300)
            self.sim.at(when, self.terminate, True)
            self.pending += 1
            self.sim.at(when + self.rng.randrange(20, 90), self.launch)

    def launch(self, t: int) -> None:
        """``RunInstances`` by the service from the group's launch template."""
        self.pending = max(0, self.pending - 1)
        zone, rng = self.zone, self.rng
        subnet, az = zone.subnet(rng)
        instance_id = resource_id("i", rng)
        template = zone.templates[self.name]
        request, response = launch_request(
            rng,
            zone,
            [instance_id],
            self.kind,
            (subnet, az),
            t,
            group=self.name if self.name in zone.groups else "web",
            launch_template=str(template[0]),
            profile_arn=f"arn:aws:iam::{zone.account.id}:instance-profile/{self.app_role.name}",
            tags={"aws:autoscaling:groupName": self.full_name},
        )
        if not self.sim.call(t, self._caller(t), zone, "RunInstances", request, response):
            return
        self.members.append(instance_id)
        attrs = {"asg": self.name, "type": self.kind, "az": az, "subnet": subnet}
        boot = t + rng.randrange(50, 200)
        launched(self.sim, zone, instance_id, t, attrs, boot, self.app_role, self.agent)

    def terminate(self, t: int, replacing: bool) -> None:
        """``TerminateInstances`` by the service of the oldest usable member."""
        usable = [
            i
            for i in self.members
            if i in self.zone.instances
            and self.zone.instances[i].last <= t
            and self.zone.instances[i].created <= t
        ]
        if not usable or (len(self.members) <= self.base and not replacing):
            return
        instance_id = usable[0]
        if self.controller is not None and not replacing:
            self.controller.remove(t, instance_id)
        drain(self.sim, t, self.zone, instance_id)
        request, response = calls.state_change(
            "TerminateInstances", [instance_id], "running", "shutting-down"
        )
        self.sim.call(t + 2, self._caller(t), self.zone, "TerminateInstances", request, response)
        self.members.remove(instance_id)
        del self.zone.instances[instance_id]


def preexisting(
    sim: Simulation, zone: Zone, rng: random.Random, max_age: int, attrs: dict[str, Any]
) -> str:
    """Add a running instance created up to ``max_age`` before the start; return its id."""
    created = sim.org.start - rng.randrange(HOUR, max_age)
    subnet, az = zone.subnet(rng)
    resource = Resource(
        resource_id("i", rng), created, created, "running", {**attrs, "az": az, "subnet": subnet}
    )
    zone.instances[resource.id] = resource
    sim.preexisting["instances"].append(resource.id)
    return resource.id


def launched(
    sim: Simulation,
    zone: Zone,
    instance_id: str,
    t: int,
    attrs: dict[str, Any],
    boot: int,
    role: Role,
    agent: str,
) -> None:
    """Add an instance launched at ``t`` to ``zone``; it reads its own details at ``boot``."""
    zone.instances[instance_id] = Resource(instance_id, t, t, "running", attrs)
    sim.at(boot, bootstrap, sim, role, instance_id, zone, agent)


def bootstrap(
    t: int, sim: Simulation, role: Role, instance_id: str, zone: Zone, agent: str
) -> None:
    """Read an instance's own tags and description through its instance profile at boot."""
    rng = sim.registry["boot-rng"]
    caller = Caller(
        role.session(instance_id, t - 30, rng, ec2=True),
        sim.org.nat[(zone.account.index, zone.region)].host(rng),
        agent,
        "instance-profile",
        role.key,
    )
    describe(sim, t, caller, zone, "DescribeTags", [instance_id])
    describe(sim, t + rng.randrange(1, 20), caller, zone, "DescribeInstances", [instance_id])
    if rng.random() < 0.5:
        describe(
            sim, t + rng.randrange(20, 60), caller, zone, "DescribeNetworkInterfaces", [instance_id]
        )


class Monitor:
    """The monitoring vendor's cross-account role polling one zone."""

    def __init__(self, sim: Simulation, zone: Zone, interval: int) -> None:
        self.sim, self.zone = sim, zone
        self.rng = random.Random(f"monitor:{sim.org.seed}:{zone.account.index}:{zone.region}")
        self.role = sim.org.role(zone.account, "DatadogIntegrationRole")
        self.has_asg = bool(ASGS.get(zone.account.role))
        self._cached: tuple[int, Caller] | None = None
        self.hosts = [NETWORKS["vendor-monitoring"].host(self.rng) for _ in range(4)]
        for t in range(sim.org.start + self.rng.randrange(interval), sim.org.end, interval):
            sim.at(t, self.poll)

    def poll(self, t: int) -> None:
        """One polling round: instances, their status, volumes (and Auto Scaling groups)."""
        rng = self.rng
        hour = t - t % HOUR
        if self._cached is None or self._cached[0] != hour:
            identity = self.role.session("DatadogAWSIntegration", hour, rng)
            self._cached = (
                hour,
                Caller(identity, rng.choice(self.hosts), MONITOR_UA, "vendor", self.role.key),
            )
        caller = self._cached[1]
        zone = self.zone
        describe(self.sim, t, caller, zone, "DescribeInstances")
        describe(self.sim, t + rng.randrange(1, 4), caller, zone, "DescribeInstanceStatus")
        if rng.random() < 0.5:
            describe(self.sim, t + rng.randrange(2, 6), caller, zone, "DescribeVolumes")
        if self.has_asg and rng.random() < 0.5:
            self.sim.call(
                t + rng.randrange(2, 8),
                caller,
                zone,
                "DescribeAutoScalingGroups",
                {"maxRecords": 100},
                source="autoscaling.amazonaws.com",
            )


class ConfigRecorder:
    """AWS Config describing the resources each write changed, a few minutes later."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.rng = random.Random(f"config:{sim.org.seed}")
        self._cache: dict[tuple[int, int], Caller] = {}

    def __call__(self, t: int, caller: Caller, zone: Zone, name: str, ids: list[str]) -> None:
        """Schedule Config's reads of ``ids`` after a write."""
        if not ids or self.rng.random() < 0.3:
            return
        self.sim.at(t + self.rng.randrange(20, 400), self.describe, zone, ids[:5])

    def describe(self, t: int, zone: Zone, ids: list[str]) -> None:
        """Config's ``Describe*`` of the changed resources."""
        hour = t - t % HOUR
        key = (zone.account.index, hour)
        caller = self._cache.get(key)
        if caller is None:
            role = self.sim.org.role(zone.account, "AWSServiceRoleForConfig")
            caller = service_caller(
                role, "AWSConfig-Describe", "config.amazonaws.com", hour, self.rng
            )
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = caller
        by_prefix = {
            "i": "DescribeInstances",
            "vol": "DescribeVolumes",
            "snap": "DescribeSnapshots",
            "sg": "DescribeSecurityGroups",
        }
        for offset, resource in enumerate(ids):
            name = by_prefix.get(resource.split("-", 1)[0])
            if name:
                describe(self.sim, t + offset, caller, zone, name, [resource])
                if name == "DescribeInstances" and self.rng.random() < 0.5:
                    describe(
                        self.sim,
                        t + offset + 1,
                        caller,
                        zone,
                        "DescribeNetworkInterfaces",
                        [resource],
                    )
