"""The organisation's EKS clusters: which IRSA controllers run where (see :mod:`._irsa`)."""

from __future__ import annotations

from typing import Final

from training.simulation._ebs_csi import EbsCsiDriver
from training.simulation._eks_addons import AirflowWorker, ClusterAutoscaler, LoadBalancerController
from training.simulation._engine import Simulation
from training.simulation._karpenter import Karpenter
from training.simulation._presets import Cluster

__all__ = ["cluster_without", "start_clusters"]


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
