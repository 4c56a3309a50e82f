"""EKS controllers calling AWS through IAM roles for service accounts (IRSA).

Each controller runs in a cluster in the home region of its account, assumes its
role with the cluster's OIDC token (``AssumeRoleWithWebIdentity`` by
``system:serviceaccount:<namespace>:<name>``), renews the session before the hour
is up, and names it the way its SDK does (:mod:`._federation`). They change compute
all day, whatever the change windows say:

* **Karpenter** (Go SDK v1, numeric sessions): ``CreateFleet`` and tags of nodes,
  consolidation ``TerminateInstances``, subnet and image polling.
* **AWS Load Balancer Controller** (Go SDK v1): load-balancer reads every ten
  minutes, ``RegisterTargets`` / ``DeregisterTargets`` of nodes, now and then a
  node security-group rule added or revoked.
* **EBS CSI driver** (Go SDK v2, ``aws-go-sdk-`` sessions): volumes created,
  attached to nodes, moved between nodes with their pods, deleted with their claims.
* **cluster-autoscaler** (Go SDK v1): reads Auto Scaling every five minutes,
  ``SetDesiredCapacity`` up and ``TerminateInstanceInAutoScalingGroup`` down.
* **Airflow workers** (boto3, ``botocore-session-`` sessions): a nightly DAG that
  snapshots the analytics data volumes and expires its old snapshots.
"""

from __future__ import annotations

import random
from typing import Final

from training.simulation import _calls as calls
from training.simulation import _calls_scaling as scaling
from training.simulation._actors import KARPENTER_VERSIONS, NODE_UA, curve, every, poisson
from training.simulation._ec2_actions import describe, drain, on_drain, snapshot_volume
from training.simulation._engine import Caller, Resource, Simulation, Zone
from training.simulation._federation import Credentials, WebIdentity
from training.simulation._ids import resource_id
from training.simulation._machines import AutoScalingGroup, launched, preexisting
from training.simulation._presets import Cluster
from training.simulation._time import DAY, HOUR, MINUTE, local_time, to_date

__all__ = ["Controller", "EbsCsiDriver", "Karpenter", "start_clusters"]

_GO_V1: Final = "aws-sdk-go/1.44.327 (go1.21.4; linux; amd64)"
LBC_UA: Final = f"{_GO_V1} elbv2.k8s.aws/v2.6.2"
CA_UA: Final = "aws-sdk-go/1.44.241 (go1.21.3; linux; amd64) cluster-autoscaler/v1.28.2"
EBS_CSI_UA: Final = (
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64 "
    "api/ec2#1.149.3 ebs-csi-driver/v1.28.0"
)
AIRFLOW_UA: Final = (
    "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy "
    "Botocore/1.34.51"
)

# controller -> (role name pattern, namespace, service account, session style, user agent)
_SPECS: Final = {
    "karpenter": ("KarpenterControllerRole-{c}", "karpenter", "karpenter", "nanos", ""),
    "aws-load-balancer-controller": (
        "AmazonEKSLoadBalancerControllerRole-{c}",
        "kube-system",
        "aws-load-balancer-controller",
        "nanos",
        LBC_UA,
    ),
    "ebs-csi-driver": (
        "AmazonEKS_EBS_CSI_DriverRole-{c}",
        "kube-system",
        "ebs-csi-controller-sa",
        "aws-go-sdk",
        EBS_CSI_UA,
    ),
    "cluster-autoscaler": (
        "eks-{c}-cluster-autoscaler",
        "kube-system",
        "cluster-autoscaler",
        "nanos",
        CA_UA,
    ),
    "airflow-worker": (
        "eks-{c}-airflow-worker",
        "airflow",
        "airflow-worker",
        "botocore",
        AIRFLOW_UA,
    ),
}


class Controller:
    """One IRSA workload: its role, its service account's web identity and its credentials."""

    name = ""

    def __init__(
        self,
        sim: Simulation,
        zone: Zone,
        cluster: str,
        *,
        agent: str | None = None,
        label: tuple[str, str] | None = None,
    ) -> None:
        org = sim.org
        pattern, namespace, account, style, default_agent = _SPECS[self.name]
        self.sim, self.zone, self.cluster = sim, zone, cluster
        self.rng = random.Random(f"irsa:{org.seed}:{zone.account.index}:{cluster}:{self.name}")
        self.role = org.role(zone.account, pattern.format(c=cluster))
        web = WebIdentity(
            org.oidc[(zone.account.index, cluster)], f"system:serviceaccount:{namespace}:{account}"
        )
        self.ip = org.nat[(zone.account.index, zone.region)].host(self.rng)
        self.credentials = Credentials(
            sim,
            zone,
            self.role,
            web,
            style,
            agent or default_agent,
            self.ip,
            "automation",
            self.rng,
            label,
        )
        sim.actor(
            self.role.key,
            "automation",
            self.name,
            sessions=style,
            web_identity=web.subject,
            cluster=cluster,
        )

    def caller(self, t: int) -> Caller:
        """Return the controller's session at ``t``."""
        return self.credentials.caller(t)


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


class EbsCsiDriver(Controller):
    """The EBS CSI driver: volumes of persistent volume claims, following their pods."""

    name = "ebs-csi-driver"

    def __init__(
        self,
        sim: Simulation,
        zone: Zone,
        cluster: str,
        *,
        start: int | None = None,
        label: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(sim, zone, cluster, label=label)
        org = sim.org
        self.volumes: list[str] = []
        self.rate = 1.5 * org.scale * (1.0 if zone.account.role == "prod" else 0.5)
        on_drain(sim, zone, self.drain)
        first = org.start if start is None else start
        sim.at(first, self.install)
        for hour in range(first - first % HOUR + HOUR, org.end, HOUR):
            sim.at(hour + self.rng.randrange(HOUR), self.hourly)

    def _nodes(self, t: int, az: str | None = None) -> list[Resource]:
        return self.zone.usable(
            self.zone.instances,
            t,
            lambda r: (
                r.state == "running"
                and bool(r.attrs.get("karpenter") or r.attrs.get("asg") == f"eks-{self.cluster}")
                and (az is None or r.attrs.get("az") == az)
            ),
        )

    def install(self, t: int) -> None:
        """Start: describe what exists, then provision the claims already pending."""
        caller = self.caller(t)
        describe(self.sim, t, caller, self.zone, "DescribeAvailabilityZones")
        describe(self.sim, t + 2, caller, self.zone, "DescribeVolumes")
        for offset in range(self.rng.randrange(2, 5)):
            self.create(t + 30 + offset * self.rng.randrange(20, 90))

    def hourly(self, t: int) -> None:
        """Provision, move and delete volumes at the rate of the hour's scheduling."""
        level = max(0.15, curve(t, "Europe/Berlin"))
        for _ in range(poisson(self.rng, self.rate * level)):
            self.sim.at(t + self.rng.randrange(0, 50 * MINUTE), self.create)
        for _ in range(poisson(self.rng, 2 * self.rate * level)):
            self.sim.at(t + self.rng.randrange(0, 50 * MINUTE), self.move)
        for _ in range(poisson(self.rng, self.rate * level)):
            self.sim.at(t + self.rng.randrange(0, 50 * MINUTE), self.delete)

    def create(self, t: int) -> None:
        """``CreateVolume`` for a new claim, then attach it to a node of its zone."""
        nodes = self._nodes(t)
        if not nodes:
            return
        node = self.rng.choice(nodes)
        az, rng, caller = str(node.attrs["az"]), self.rng, self.caller(t)
        volume_id = resource_id("vol", rng)
        claim = f"pvc-{rng.getrandbits(128):032x}"
        size = rng.choice((8, 20, 50, 100))
        request, response = calls.create_volume(
            volume_id,
            zone=az,
            size=size,
            created=t,
            tags={
                "CSIVolumeName": claim,
                "ebs.csi.aws.com/cluster": "true",
                f"kubernetes.io/cluster/{self.cluster}": "owned",
            },
        )
        if not self.sim.call(t, caller, self.zone, "CreateVolume", request, response):
            return
        describe(self.sim, t + 2, caller, self.zone, "DescribeVolumes", [volume_id])
        self.zone.volumes[volume_id] = Resource(
            volume_id, t, t, "available", {"az": az, "csi": True, "size": size}
        )
        self.volumes.append(volume_id)
        self._attach(t + rng.randrange(5, 30), volume_id, node)

    def _attach(self, t: int, volume_id: str, node: Resource) -> None:
        volume = self.zone.volumes[volume_id]
        first, second = self.rng.randrange(15), self.rng.randrange(8)
        device = f"/dev/xvd{'bcdefghijklmnop'[first]}{'abcdefgh'[second]}"
        request, response = calls.attach_volume(volume_id, node.id, device, t)
        self.sim.call(t, self.caller(t), self.zone, "AttachVolume", request, response)
        volume.state, volume.last = "in-use", t
        volume.attrs.update(instance=node.id, device=device)
        node.last = max(node.last, t)

    def _detach(self, t: int, volume: Resource) -> None:
        node = self.zone.instances.get(str(volume.attrs.get("instance")))
        volume.attrs["instance"] = None
        volume.state, volume.last = "available", t
        if node is None:
            return
        request, response = calls.detach_volume(volume.id, node.id, str(volume.attrs["device"]), t)
        self.sim.call(t, self.caller(t), self.zone, "DetachVolume", request, response)

    def _mine(self, t: int, attached: bool) -> list[Resource]:
        found = []
        for volume_id in self.volumes:
            volume = self.zone.volumes.get(volume_id)
            if (
                volume is not None
                and volume.last <= t
                and bool(volume.attrs.get("instance")) == attached
            ):
                found.append(volume)
        return found

    def move(self, t: int) -> None:
        """Move a pod: detach its volume and attach it to another node of the same zone."""
        candidates = self._mine(t, attached=True) + self._mine(t, attached=False)
        if not candidates:
            return
        volume = self.rng.choice(candidates)
        nodes = [
            n
            for n in self._nodes(t, str(volume.attrs["az"]))
            if n.id != volume.attrs.get("instance")
        ]
        if not nodes:
            return
        self._detach(t, volume)
        self._attach(t + self.rng.randrange(10, 60), volume.id, self.rng.choice(nodes))

    def delete(self, t: int) -> None:
        """Delete a claim: detach its volume if attached, then delete it."""
        candidates = self._mine(t, attached=True) + self._mine(t, attached=False)
        if len(candidates) <= 2:
            return
        volume = self.rng.choice(candidates)
        when = t
        if volume.attrs.get("instance"):
            self._detach(t, volume)
            when += self.rng.randrange(10, 40)
        request, response = calls.delete_volume(volume.id)
        self.sim.call(when, self.caller(when), self.zone, "DeleteVolume", request, response)
        del self.zone.volumes[volume.id]
        self.volumes.remove(volume.id)

    def drain(self, t: int, instance_id: str) -> None:
        """Detach this driver's volumes from a node about to be terminated."""
        for volume in self._mine(t, attached=True):
            if volume.attrs.get("instance") == instance_id:
                self._detach(t, volume)


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


_CONTROLLERS: Final = {
    "karpenter": Karpenter,
    "aws-load-balancer-controller": LoadBalancerController,
    "ebs-csi-driver": EbsCsiDriver,
    "cluster-autoscaler": ClusterAutoscaler,
    "airflow-worker": AirflowWorker,
}


def start_clusters(sim: Simulation) -> None:
    """Start the controllers of every EKS cluster the organisation's preset names."""
    org = sim.org
    for cluster in org.preset.clusters:
        account = org.find(cluster.account)
        if account is None:
            continue
        zone = sim.zones[(account.index, org.home_region)]
        for name in cluster.controllers:
            _CONTROLLERS[name](sim, zone, cluster.name)


def cluster_without(sim: Simulation, controller: str) -> Cluster | None:
    """Return the first cluster of the organisation not running ``controller`` yet."""
    for cluster in sim.org.preset.clusters:
        if controller not in cluster.controllers and sim.org.find(cluster.account) is not None:
            return cluster
    return None
