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

from training.simulation._engine import Caller, Simulation, Zone
from training.simulation._federation import Credentials, WebIdentity

__all__ = ["Controller"]

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
