"""Karpenter: provisions nodes toward the hour's demand and consolidates them (IRSA, Go SDK v1)."""

from __future__ import annotations

from training.simulation import _calls as calls
from training.simulation._actors import KARPENTER_VERSIONS, NODE_UA, curve, poisson
from training.simulation._ec2_actions import describe, drain
from training.simulation._engine import Simulation, Zone
from training.simulation._ids import resource_id
from training.simulation._irsa import Controller
from training.simulation._machines import launched, preexisting
from training.simulation._time import DAY, HOUR, MINUTE

__all__ = ["Karpenter"]


class Karpenter(Controller):
    """Karpenter's controller: provisions nodes toward the hour's demand, consolidates them."""

    name = "karpenter"

    def __init__(self, sim: Simulation, zone: Zone, cluster: str) -> None:
        org = sim.org
        self.upgrade = org.start + int((org.test_start - org.start) * 0.7)
        super().__init__(sim, zone, cluster, agent=self._agent(org.start))
        self.node_role = org.role(zone.account, f"eks-node-{cluster}")
        self.nodes: list[str] = []
        self.scale = org.scale * (1.0 if zone.account.role == "prod" else 0.4)
        for _ in range(self._target(org.start)):
            node = {"karpenter": True, "type": "m6i.xlarge"}
            self.nodes.append(preexisting(sim, zone, self.rng, 2 * DAY, node))
        interval = max(60, int(300 / max(0.2, self.scale)))
        for t in range(org.start + self.rng.randrange(interval), org.end, interval):
            sim.at(t, self.poll)
        for hour in range(org.start, org.end, HOUR):
            sim.at(hour + self.rng.randrange(HOUR), self.hourly)
        sim.at(self.upgrade, self._upgraded)
        sim.registry[f"karpenter:{zone.account.index}"] = self

    def _agent(self, t: int) -> str:
        version = KARPENTER_VERSIONS[1 if t >= self.upgrade else 0]
        return f"aws-sdk-go/1.44.322 (go1.21.4; linux; amd64) karpenter.sh-v{version}"

    def _upgraded(self, t: int) -> None:
        self.credentials.restart(self._agent(t))

    def _target(self, t: int) -> int:
        return max(1, round((3 + 12 * curve(t, "Europe/Berlin")) * self.scale))

    def poll(self, t: int) -> None:
        """Refresh subnets and security groups (every five minutes)."""
        caller = self.caller(t)
        describe(self.sim, t, caller, self.zone, "DescribeSubnets")
        describe(self.sim, t + 1, caller, self.zone, "DescribeSecurityGroups")

    def hourly(self, t: int) -> None:
        """Refresh images and prices; provision or consolidate toward the hour's node count."""
        caller, rng, zone = self.caller(t), self.rng, self.zone
        for offset, name in enumerate(
            (
                "DescribeImages",
                "DescribeInstanceTypes",
                "DescribeInstanceTypeOfferings",
                "DescribeSpotPriceHistory",
                "DescribeLaunchTemplates",
            )
        ):
            describe(self.sim, t + offset, caller, zone, name)
        target = self._target(t + 30 * MINUTE)
        live = [n for n in self.nodes if n in zone.instances]
        self.nodes = live
        missing = target - len(live)
        when = t + 10
        while missing > 0:
            batch = min(missing, rng.choice((1, 1, 2, 3)))
            when += rng.randrange(30, 600)
            self.sim.at(when, self.launch, batch)
            missing -= batch
        surplus = max(0, len(live) - target)
        for _ in range(poisson(rng, 0.5 * self.scale)):
            surplus += 1
            self.sim.at(when + rng.randrange(600, 1800), self.launch, 1)
        for _ in range(surplus):
            when += rng.randrange(60, 900)
            self.sim.at(when, self.consolidate)

    def launch(self, t: int, count: int) -> None:
        """``CreateFleet`` (instant) of ``count`` nodes, then tag them."""
        zone, rng = self.zone, self.rng
        caller = self.caller(t)
        subnet, az = zone.subnet(rng)
        kind = rng.choice(("m6i.xlarge", "m6i.2xlarge", "c6i.2xlarge", "r6i.xlarge"))
        ids = [resource_id("i", rng) for _ in range(count)]
        request, response = calls.create_fleet(
            rng, str(zone.templates["karpenter"][0]), ids, kind, az, subnet
        )
        if not self.sim.call(t, caller, zone, "CreateFleet", request, response):
            return
        for node_id in ids:
            self.nodes.append(node_id)
            attrs = {"karpenter": True, "type": kind, "az": az, "subnet": subnet}
            boot = t + rng.randrange(40, 120)
            launched(self.sim, zone, node_id, t, attrs, boot, self.node_role, NODE_UA)
        tag_request, tag_response = calls.create_tags(
            ids,
            {
                "Name": f"karpenter-{self.cluster}",
                "karpenter.sh/nodeclaim": f"default-{rng.getrandbits(20):05x}",
            },
        )
        self.sim.call(
            t + rng.randrange(2, 8), caller, zone, "CreateTags", tag_request, tag_response
        )
        for node_id in ids:
            zone.instances[node_id].last = t + 8

    def consolidate(self, t: int) -> None:
        """Terminate the oldest node Karpenter no longer needs (its volumes detached first)."""
        zone = self.zone
        usable = [n for n in self.nodes if n in zone.instances and zone.instances[n].last <= t]
        if len(usable) <= 1:
            return
        node_id = usable[0]
        drain(self.sim, t, zone, node_id)
        request, response = calls.state_change(
            "TerminateInstances", [node_id], "running", "shutting-down"
        )
        self.sim.call(t + 5, self.caller(t), zone, "TerminateInstances", request, response)
        self.nodes.remove(node_id)
        del zone.instances[node_id]
