"""CloudTrail shapes of the image pipeline's and the backup copies' calls.

Companions of :mod:`._calls` for what a golden-AMI build (Packer), AMI housekeeping
and AWS Backup copy jobs call: ``CopyImage``, ``DeregisterImage``, ``CreateKeyPair``,
``DeleteKeyPair``, ``CreateSecurityGroup``, ``DeleteSecurityGroup``, ``CopySnapshot``,
sharing an image with the organisation's own accounts and withdrawing a snapshot
share. ``CreateKeyPair`` and ``CreateSecurityGroup`` follow the real console
recordings in ``/work/shared/data/real``; the others follow the EC2 API reference
(no public recording holds them).
"""

from __future__ import annotations

import random
from typing import Any

from training.simulation._calls import Pair
from training.simulation._ids import resource_id

__all__ = [
    "copy_image",
    "copy_snapshot",
    "create_key_pair",
    "create_security_group",
    "delete_key_pair",
    "delete_security_group",
    "deregister_image",
    "share_image",
    "unshare_snapshot",
]


def copy_image(image_id: str, source_region: str, source_image: str, name: str) -> Pair:
    """``CopyImage``, recorded in the destination region."""
    return (
        {
            "sourceRegion": source_region,
            "sourceImageId": source_image,
            "name": name,
            "description": f"Copied from {source_image} ({source_region})",
            "encrypted": False,
            "copyImageTags": True,
        },
        {"requestId": "", "imageId": image_id},
    )


def deregister_image(image_id: str) -> Pair:
    """``DeregisterImage``."""
    return {"imageId": image_id}, {"requestId": "", "_return": True}


def share_image(image_id: str, accounts: list[str]) -> Pair:
    """``ModifyImageAttribute`` granting ``launchPermission`` to the organisation's ``accounts``."""
    return (
        {
            "imageId": image_id,
            "launchPermission": {"add": {"items": [{"userId": account} for account in accounts]}},
            "attributeType": "launchPermission",
        },
        {"requestId": "", "_return": True},
    )


def create_key_pair(rng: random.Random, name: str) -> Pair:
    """``CreateKeyPair`` (the private key is redacted, as CloudTrail does)."""
    fingerprint = ":".join(f"{rng.getrandbits(8):02x}" for _ in range(20))
    return (
        {"keyType": "rsa", "keyName": name, "keyFormat": "pem"},
        {
            "requestId": "",
            "keyPairId": resource_id("key", rng),
            "keyMaterial": "<sensitiveDataRemoved>",
            "keyName": name,
            "keyFingerprint": fingerprint,
        },
    )


def delete_key_pair(name: str) -> Pair:
    """``DeleteKeyPair`` by name."""
    return {"keyName": name}, {"requestId": "", "_return": True}


def create_security_group(group_id: str, name: str, description: str, vpc: str) -> Pair:
    """``CreateSecurityGroup``."""
    return (
        {"groupName": name, "groupDescription": description, "vpcId": vpc},
        {"requestId": "", "_return": True, "groupId": group_id},
    )


def delete_security_group(group_id: str) -> Pair:
    """``DeleteSecurityGroup``."""
    return {"groupId": group_id}, {"requestId": "", "_return": True, "groupId": group_id}


def copy_snapshot(
    snapshot_id: str, source_region: str, source_snapshot: str, description: str
) -> Pair:
    """``CopySnapshot``, recorded in the destination account and region."""
    request: dict[str, Any] = {
        "sourceRegion": source_region,
        "sourceSnapshotId": source_snapshot,
        "description": description,
        "encrypted": True,
    }
    return request, {"requestId": "", "snapshotId": snapshot_id}


def unshare_snapshot(snapshot_id: str, account: str) -> Pair:
    """``ModifySnapshotAttribute`` removing ``createVolumePermission`` of ``account``."""
    return (
        {
            "snapshotId": snapshot_id,
            "createVolumePermission": {"remove": {"items": [{"userId": account}]}},
            "attributeType": "CREATE_VOLUME_PERMISSION",
        },
        {"requestId": "", "_return": True},
    )
