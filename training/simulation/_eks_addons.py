"""EKS add-ons calling AWS through IRSA: load balancer controller, cluster-autoscaler, Airflow.

See :mod:`._irsa` for how their sessions are opened and named.
"""

from __future__ import annotations

from training.simulation import _calls as calls
from training.simulation import _calls_scaling as scaling
from training.simulation._actors import every, poisson
from training.simulation._ec2_actions import describe, snapshot_volume
from training.simulation._engine import Simulation, Zone
from training.simulation._ids import resource_id
from training.simulation._irsa import Controller
from training.simulation._machines import AutoScalingGroup
from training.simulation._time import DAY, HOUR, local_time, to_date

__all__ = ["AirflowWorker", "ClusterAutoscaler", "LoadBalancerController"]


class LoadBalancerController(Controller):
    """The AWS Load Balancer Controller: target registration and node security-group rules."""

    name = "aws-load-balancer-controller"

    def __init__(self, sim: Simulation, zone: Zone, cluster: str) -> None:
        super().__init__(sim, zone, cluster)
        org, zone = sim.org, self.zone
        region, account = zone.region, zone.account.id
        self.groups = [
            f"arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/k8s-{name}/"
            f"{self.rng.getrandbits(64):016x}"
            for name in ("web-api", "web-frontend", "internal-grpc")
        ]
        self.lb_group = resource_id("sg", self.rng)
        self.registered: set[str] = set()
        step = every(org, 600)
        for t in range(org.start + self.rng.randrange(step), org.end, step):
            sim.at(t, self.reconcile)
        for day in range(org.start, org.end, DAY):
            for _ in range(poisson(self.rng, 2.0)):
                sim.at(
                    local_time(to_date(day), self.rng.uniform(8, 19), "Europe/Berlin"), self.rule
                )

    def _nodes(self, t: int) -> list[str]:
        return sorted(
            r.id
            for r in self.zone.usable(
                self.zone.instances, t, lambda r: bool(r.attrs.get("karpenter"))
            )
        )

    def reconcile(self, t: int) -> None:
        """Read load balancers and target health; register new nodes, deregister gone ones."""
        caller, sim, zone, rng = self.caller(t), self.sim, self.zone, self.rng
        elb = "elasticloadbalancing.amazonaws.com"
        sim.call(
            t,
            caller,
            zone,
            "DescribeLoadBalancers",
            scaling.elb_read("DescribeLoadBalancers"),
            source=elb,
        )
        group = rng.choice(self.groups)
        sim.call(
            t + 1,
            caller,
            zone,
            "DescribeTargetHealth",
            scaling.elb_read("DescribeTargetHealth", group),
            source=elb,
        )
        if rng.random() < 0.3:
            describe(sim, t + 2, caller, zone, "DescribeSecurityGroups", [self.lb_group])
        nodes = self._nodes(t)
        new = [n for n in nodes if n not in self.registered]
        gone = sorted(n for n in self.registered if n not in zone.instances)
        port = 30000 + self.groups.index(group) * 111
        for name, ids in (("RegisterTargets", new), ("DeregisterTargets", gone)):
            if ids:
                request, response = scaling.targets(group, ids[:10], port)
                sim.call(t + 3, caller, zone, name, request, response, source=elb)
        self.registered = set(nodes)

    def rule(self, t: int) -> None:
        """Open (or close) a node port to the load balancers' security group."""
        caller, rng = self.caller(t), self.rng
        name = (
            "AuthorizeSecurityGroupIngress" if rng.random() < 0.6 else "RevokeSecurityGroupIngress"
        )
        request, response = calls.authorize_ingress(
            rng,
            self.zone.groups["eks-nodes"],
            self.zone.account.id,
            rng.randrange(30000, 32768),
            "",
            source_group=self.lb_group,
            name=name,
        )
        self.sim.call(t, caller, self.zone, name, request, response)


class ClusterAutoscaler(Controller):
    """cluster-autoscaler sizing the node group of a cluster (an Auto Scaling group)."""

    name = "cluster-autoscaler"

    def __init__(self, sim: Simulation, zone: Zone, cluster: str) -> None:
        super().__init__(sim, zone, cluster)
        self.group: AutoScalingGroup = sim.registry[
            f"asg:{zone.account.index}:{zone.region}:eks-{cluster}"
        ]
        self.group.controller = self
        step = every(sim.org, 300)
        for t in range(sim.org.start + self.rng.randrange(step), sim.org.end, step):
            sim.at(t, self.poll)

    def poll(self, t: int) -> None:
        """Read the node group (and, hourly, instance types) every five minutes."""
        caller = self.caller(t)
        self.sim.call(
            t,
            caller,
            self.zone,
            "DescribeAutoScalingGroups",
            {"autoScalingGroupNames": [self.group.full_name], "maxRecords": 100},
            source="autoscaling.amazonaws.com",
        )
        if t % HOUR < every(self.sim.org, 300):
            describe(self.sim, t + 1, caller, self.zone, "DescribeInstanceTypes")
            describe(self.sim, t + 2, caller, self.zone, "DescribeLaunchTemplateVersions")

    def resize(self, t: int, desired: int) -> None:
        """``SetDesiredCapacity`` when pods are pending."""
        request, response = scaling.set_desired_capacity(self.group.full_name, desired)
        self.sim.call(
            t,
            self.caller(t),
            self.zone,
            "SetDesiredCapacity",
            request,
            response,
            source="autoscaling.amazonaws.com",
        )

    def remove(self, t: int, instance_id: str) -> None:
        """``TerminateInstanceInAutoScalingGroup`` of an underused node."""
        request, response = scaling.terminate_in_group(instance_id)
        self.sim.call(
            t,
            self.caller(t),
            self.zone,
            "TerminateInstanceInAutoScalingGroup",
            request,
            response,
            source="autoscaling.amazonaws.com",
        )


class AirflowWorker(Controller):
    """Airflow's workers: a nightly DAG snapshotting the analytics data volumes."""

    name = "airflow-worker"

    def __init__(self, sim: Simulation, zone: Zone, cluster: str) -> None:
        super().__init__(sim, zone, cluster)
        self.snapshots: list[str] = []
        for day in range(sim.org.start, sim.org.end, DAY):
            sim.at(
                local_time(to_date(day), 0.5, "Europe/Berlin") + self.rng.randrange(600), self.dag
            )
            for hour in range(9, 18, 3):
                sim.at(
                    local_time(to_date(day), hour, "Europe/Berlin") + self.rng.randrange(900),
                    self.sensor,
                )

    def sensor(self, t: int) -> None:
        """Run a sensor task polling the data hosts."""
        describe(self.sim, t, self.caller(t), self.zone, "DescribeInstances")

    def dag(self, t: int) -> None:
        """Snapshot every data volume of the account, then expire this DAG's three-day-old ones."""
        caller, zone, rng = self.caller(t), self.zone, self.rng
        describe(self.sim, t, caller, zone, "DescribeVolumes")
        when = t
        for volume in sorted(
            zone.usable(zone.volumes, t, lambda v: bool(v.attrs.get("backup"))), key=lambda v: v.id
        ):
            when += rng.randrange(2, 20)
            snapshot_id = resource_id("snap", rng)
            if snapshot_volume(
                self.sim,
                when,
                caller,
                zone,
                volume,
                snapshot_id,
                "airflow: nightly feature-store snapshot",
                dag=True,
                only_if_recorded=True,
            ):
                self.snapshots.append(snapshot_id)
        cutoff = t - 3 * DAY + HOUR
        for snapshot_id in list(self.snapshots):
            snapshot = zone.snapshots.get(snapshot_id)
            if snapshot is not None and snapshot.created < cutoff and snapshot.last <= when:
                when += rng.randrange(1, 5)
                request, response = calls.delete_snapshot(snapshot_id)
                self.sim.call(when, caller, zone, "DeleteSnapshot", request, response)
                del zone.snapshots[snapshot_id]
                self.snapshots.remove(snapshot_id)
