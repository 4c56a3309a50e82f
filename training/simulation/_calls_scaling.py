"""CloudTrail shapes of the calls Kubernetes controllers and deploy workflows make.

Companions of :mod:`._calls`: Auto Scaling's ``SetDesiredCapacity``,
``TerminateInstanceInAutoScalingGroup``, ``StartInstanceRefresh`` and
``DescribeInstanceRefreshes`` (Auto Scaling records no response elements), and
Elastic Load Balancing's ``RegisterTargets`` / ``DeregisterTargets`` and reads. They
follow the API references; no public recording holds them.
"""

from __future__ import annotations

from typing import Any

from training.simulation._calls import Pair

__all__ = [
    "describe_refreshes",
    "elb_read",
    "set_desired_capacity",
    "start_instance_refresh",
    "targets",
    "terminate_in_group",
]


def set_desired_capacity(group: str, desired: int) -> Pair:
    """``SetDesiredCapacity`` as the Kubernetes cluster autoscaler calls it."""
    return {"autoScalingGroupName": group, "desiredCapacity": desired, "honorCooldown": False}, None


def terminate_in_group(instance_id: str) -> Pair:
    """``TerminateInstanceInAutoScalingGroup`` of a node the autoscaler removes."""
    return {"instanceId": instance_id, "shouldDecrementDesiredCapacity": True}, None


def start_instance_refresh(group: str, refresh_id: str) -> Pair:
    """``StartInstanceRefresh`` rolling a group onto its launch template's latest version."""
    return (
        {"autoScalingGroupName": group, "preferences": {"minHealthyPercentage": 90}},
        {"instanceRefreshId": refresh_id},
    )


def describe_refreshes(group: str) -> Pair:
    """``DescribeInstanceRefreshes`` (a deploy waiting for its refresh)."""
    return {"autoScalingGroupName": group}, None


def elb_read(name: str, target_group: str | None = None) -> dict[str, Any]:
    """Request of an Elastic Load Balancing read (``DescribeTargetHealth`` names its group)."""
    if target_group and name == "DescribeTargetHealth":
        return {"targetGroupArn": target_group}
    return {"pageSize": 400} if name == "DescribeLoadBalancers" else {}


def targets(target_group: str, instance_ids: list[str], port: int) -> Pair:
    """``RegisterTargets`` / ``DeregisterTargets`` of node instances on their node port."""
    return (
        {
            "targetGroupArn": target_group,
            "targets": [{"id": instance_id, "port": port} for instance_id in instance_ids],
        },
        None,
    )
