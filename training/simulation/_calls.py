"""``requestParameters`` / ``responseElements`` of each simulated API, in CloudTrail's shapes.

Each function returns ``(request, response)`` for one call as CloudTrail records it
(EC2's XML-derived ``items`` lists, epoch-millisecond times inside responses,
``_return`` on boolean replies, ``HIDDEN_DUE_TO_SECURITY_REASONS`` / ``<sensitiveDataRemoved>``
where AWS redacts). Read calls put their filters in the request and never a response:
CloudTrail does not record the responses of ``Describe*`` calls.
"""

from __future__ import annotations

import random
from typing import Any, Final

from training.simulation._ids import resource_id, uuid

__all__ = [
    "READS",
    "attach_volume",
    "authorize_ingress",
    "create_fleet",
    "create_image",
    "create_launch_template_version",
    "create_snapshot",
    "create_tags",
    "create_volume",
    "delete_snapshot",
    "delete_volume",
    "detach_volume",
    "import_key_pair",
    "modify_image_share",
    "modify_instance_attribute",
    "modify_snapshot_share",
    "read_request",
    "run_instances",
    "state_change",
    "update_asg",
]

Pair = tuple[dict[str, Any] | None, dict[str, Any] | None]

_STATE_CODES: Final = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}

READS: Final = (
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeVolumes",
    "DescribeSnapshots",
    "DescribeImages",
    "DescribeSecurityGroups",
    "DescribeSubnets",
    "DescribeVpcs",
    "DescribeTags",
    "DescribeAddresses",
    "DescribeKeyPairs",
    "DescribeLaunchTemplates",
    "DescribeLaunchTemplateVersions",
    "DescribeNetworkInterfaces",
    "DescribeAvailabilityZones",
    "DescribeInstanceTypes",
    "DescribeVolumeStatus",
    "DescribeAccountAttributes",
    "DescribeRegions",
    "DescribeInstanceAttribute",
    "DescribeSpotPriceHistory",
    "DescribeInstanceTypeOfferings",
    "DescribeRouteTables",
)
"""The EC2 read calls the simulator makes."""


def _items(key: str, values: list[str]) -> dict[str, Any]:
    return {"items": [{key: value} for value in values]}


def read_request(
    name: str, ids: list[str] | None = None, *, region: str = ""
) -> dict[str, Any] | None:
    """Return the request of an EC2 read call, naming ``ids`` when given."""
    ids = ids or []
    if name in ("DescribeInstances", "DescribeInstanceStatus"):
        request: dict[str, Any] = {
            "instancesSet": _items("instanceId", ids) if ids else {},
            "filterSet": {},
        }
        if name == "DescribeInstanceStatus":
            request["includeAllInstances"] = True
        return request
    if name in ("DescribeVolumes", "DescribeVolumeStatus"):
        return {"volumeSet": _items("volumeId", ids) if ids else {}, "filterSet": {}}
    if name == "DescribeSnapshots":
        if ids:
            return {
                "snapshotSet": _items("snapshotId", ids),
                "ownersSet": {},
                "sharedUsersSet": {},
                "filterSet": {},
            }
        return {
            "snapshotSet": {},
            "ownersSet": {"items": [{"owner": "self"}]},
            "sharedUsersSet": {},
            "filterSet": {},
        }
    if name == "DescribeImages":
        return {
            "executableBySet": {},
            "imagesSet": _items("imageId", ids) if ids else {},
            "ownersSet": {} if ids else {"items": [{"owner": "self"}]},
            "includeDeprecated": False,
            "includeDisabled": False,
        }
    if name == "DescribeSecurityGroups":
        return {
            "securityGroupSet": {},
            "securityGroupIdSet": _items("groupId", ids) if ids else {},
            "filterSet": {},
        }
    if name == "DescribeSubnets":
        return {"subnetSet": {}, "filterSet": {}}
    if name == "DescribeVpcs":
        return {"vpcSet": {}, "filterSet": {}}
    if name == "DescribeTags":
        if ids:
            return {
                "filterSet": {"items": [{"name": "resource-id", "valueSet": _items("value", ids)}]}
            }
        return {"filterSet": {}}
    if name == "DescribeAddresses":
        return {"publicIpsSet": {}, "allocationIdsSet": {}, "filterSet": {}}
    if name == "DescribeKeyPairs":
        return {"keySet": {}, "keyPairIdSet": {}, "filterSet": {}}
    if name == "DescribeLaunchTemplates":
        return {
            "DescribeLaunchTemplatesRequest": {"LaunchTemplateId": {"content": ids[0], "tag": 1}}
            if ids
            else {}
        }
    if name == "DescribeLaunchTemplateVersions":
        return {
            "DescribeLaunchTemplateVersionsRequest": {
                "LaunchTemplateId": ids[0] if ids else "",
                "LaunchTemplateVersion": {"content": "$Latest", "tag": 1},
            }
        }
    if name == "DescribeNetworkInterfaces":
        return {
            "networkInterfaceIdSet": {},
            "filterSet": {
                "items": [{"name": "attachment.instance-id", "valueSet": _items("value", ids)}]
            }
            if ids
            else {},
        }
    if name == "DescribeAvailabilityZones":
        return {"availabilityZoneSet": {}, "availabilityZoneIdSet": {}}
    if name == "DescribeInstanceTypes":
        return {"DescribeInstanceTypesRequest": {"MaxResults": 100}}
    if name == "DescribeInstanceTypeOfferings":
        return {
            "DescribeInstanceTypeOfferingsRequest": {
                "LocationType": "availability-zone",
                "MaxResults": 1000,
            }
        }
    if name == "DescribeSpotPriceHistory":
        return {
            "startTime": None,
            "instanceTypeSet": {},
            "productDescriptionSet": {"items": [{"productDescription": "Linux/UNIX"}]},
            "filterSet": {},
            "availabilityZone": None,
        }
    if name == "DescribeAccountAttributes":
        return {
            "accountAttributeNameSet": {"items": [{"attributeName": "supported-platforms"}]},
            "filterSet": {},
        }
    if name == "DescribeRegions":
        return {"regionSet": {}, "allRegions": False}
    if name == "DescribeInstanceAttribute":
        return {"instanceId": ids[0] if ids else "", "attribute": "userData"}
    if name == "DescribeRouteTables":
        return {"routeTableIdSet": {}, "filterSet": {}}
    return None


def _tags(resource_type: str, tags: dict[str, str]) -> dict[str, Any]:
    return {
        "items": [
            {
                "resourceType": resource_type,
                "tags": [{"key": k, "value": v} for k, v in tags.items()],
            }
        ]
    }


def run_instances(
    rng: random.Random,
    *,
    account: str,
    region: str,
    instance_ids: list[str],
    image: str,
    instance_type: str,
    subnet: str,
    zone: str,
    vpc: str,
    security_group: str,
    launch: int,
    launch_template: str | None = None,
    profile_arn: str | None = None,
    key_name: str | None = None,
    tags: dict[str, str] | None = None,
    user_data: bool = False,
) -> Pair:
    """``RunInstances``: request by image or launch template; response with the new instances."""
    token = uuid(rng)
    request: dict[str, Any] = {
        "instancesSet": {
            "items": [
                {"imageId": image, "minCount": len(instance_ids), "maxCount": len(instance_ids)}
            ]
        },
        "instanceType": instance_type,
        "blockDeviceMapping": {},
        "monitoring": {"enabled": False},
        "subnetId": subnet,
        "disableApiTermination": False,
        "disableApiStop": False,
        "clientToken": token,
    }
    if launch_template:
        request["launchTemplate"] = {"launchTemplateId": launch_template, "version": "$Latest"}
        del request["instancesSet"]["items"][0]["imageId"]
    if profile_arn:
        request["iamInstanceProfile"] = {"arn": profile_arn}
    if key_name:
        request["instancesSet"]["items"][0]["keyName"] = key_name
    if user_data:
        request["userData"] = "<sensitiveDataRemoved>"
    if tags:
        request["tagSpecificationSet"] = _tags("instance", tags)
    millis = launch * 1000
    items = []
    for index, instance_id in enumerate(instance_ids):
        private = f"10.{rng.randrange(0, 64)}.{rng.randrange(0, 256)}.{rng.randrange(4, 255)}"
        items.append(
            {
                "instanceId": instance_id,
                "currentInstanceBootMode": "legacy-bios",
                "imageId": image,
                "instanceState": {"code": 0, "name": "pending"},
                "privateDnsName": f"ip-{private.replace('.', '-')}.{region}.compute.internal",
                "keyName": key_name,
                "amiLaunchIndex": index,
                "productCodes": {},
                "instanceType": instance_type,
                "launchTime": millis,
                "placement": {"availabilityZone": zone, "tenancy": "default"},
                "monitoring": {"state": "disabled"},
                "subnetId": subnet,
                "vpcId": vpc,
                "privateIpAddress": private,
                "stateReason": {"code": "pending", "message": "pending"},
                "architecture": "x86_64",
                "rootDeviceType": "ebs",
                "rootDeviceName": "/dev/xvda",
                "blockDeviceMapping": {},
                "virtualizationType": "hvm",
                "clientToken": token,
                "groupSet": {"items": [{"groupId": security_group, "groupName": "default"}]},
                "sourceDestCheck": True,
                "hypervisor": "xen",
                "networkInterfaceSet": {
                    "items": [
                        {
                            "networkInterfaceId": resource_id("eni", rng),
                            "subnetId": subnet,
                            "vpcId": vpc,
                            "ownerId": account,
                            "status": "in-use",
                            "privateIpAddress": private,
                            "sourceDestCheck": True,
                            "interfaceType": "interface",
                        }
                    ]
                },
                "ebsOptimized": False,
                "enaSupport": True,
                "cpuOptions": {"coreCount": 1, "threadsPerCore": 2},
                "capacityReservationSpecification": {"capacityReservationPreference": "open"},
                "enclaveOptions": {"enabled": False},
                "metadataOptions": {
                    "state": "pending",
                    "httpTokens": "required",
                    "httpPutResponseHopLimit": 2,
                    "httpEndpoint": "enabled",
                    "httpProtocolIpv6": "disabled",
                    "instanceMetadataTags": "disabled",
                },
                "maintenanceOptions": {"autoRecovery": "default"},
                "privateDnsNameOptions": {
                    "hostnameType": "ip-name",
                    "enableResourceNameDnsARecord": False,
                    "enableResourceNameDnsAAAARecord": False,
                },
            }
        )
        if key_name is None:
            del items[-1]["keyName"]
        if profile_arn:
            items[-1]["iamInstanceProfile"] = {
                "arn": profile_arn,
                "id": "AIPA" + f"{rng.getrandbits(80):020X}"[:17],
            }
    response = {
        "requestId": "",
        "reservationId": f"r-0{rng.getrandbits(64):016x}",
        "ownerId": account,
        "groupSet": {},
        "instancesSet": {"items": items},
    }
    return request, response


def state_change(
    name: str, instance_ids: list[str], before: str, after: str, *, force: bool = False
) -> Pair:
    """``StartInstances`` / ``StopInstances`` / ``TerminateInstances`` / ``RebootInstances``."""
    request: dict[str, Any] = {"instancesSet": _items("instanceId", instance_ids)}
    if name == "StopInstances":
        request["force"] = force
    if name == "RebootInstances":
        return request, {"requestId": "", "_return": True}
    response = {
        "requestId": "",
        "instancesSet": {
            "items": [
                {
                    "instanceId": instance_id,
                    "currentState": {"code": _STATE_CODES[after], "name": after},
                    "previousState": {"code": _STATE_CODES[before], "name": before},
                }
                for instance_id in instance_ids
            ]
        },
    }
    return request, response


def create_tags(resource_ids: list[str], tags: dict[str, str]) -> Pair:
    """``CreateTags``."""
    return (
        {
            "resourcesSet": _items("resourceId", resource_ids),
            "tagSet": {"items": [{"key": k, "value": v} for k, v in tags.items()]},
        },
        {"requestId": "", "_return": True},
    )


def create_volume(
    volume_id: str,
    *,
    zone: str,
    size: int,
    created: int,
    snapshot: str | None = None,
    volume_type: str = "gp3",
    tags: dict[str, str] | None = None,
    kms_key: str = "",
) -> Pair:
    """``CreateVolume``, empty or from a snapshot."""
    request: dict[str, Any] = {
        "size": size,
        "zone": zone,
        "volumeType": volume_type,
        "encrypted": True,
    }
    if snapshot:
        request["snapshotId"] = snapshot
    if tags:
        request["tagSpecificationSet"] = _tags("volume", tags)
    response: dict[str, Any] = {
        "requestId": "",
        "volumeId": volume_id,
        "size": str(size),
        "snapshotId": snapshot or "",
        "zone": zone,
        "status": "creating",
        "createTime": created * 1000,
        "volumeType": volume_type,
        "iops": 3000,
        "encrypted": True,
        "masterEncryptionKeyId": kms_key,
        "throughput": 125,
        "multiAttachEnabled": False,
    }
    if tags:
        response["tagSet"] = {"items": [{"key": k, "value": v} for k, v in tags.items()]}
    return request, response


def attach_volume(volume_id: str, instance_id: str, device: str, when: int) -> Pair:
    """``AttachVolume``."""
    return (
        {
            "volumeId": volume_id,
            "instanceId": instance_id,
            "device": device,
            "deleteOnTermination": False,
        },
        {
            "requestId": "",
            "volumeId": volume_id,
            "instanceId": instance_id,
            "device": device,
            "status": "attaching",
            "attachTime": when * 1000,
            "deleteOnTermination": False,
        },
    )


def detach_volume(volume_id: str, instance_id: str, device: str, when: int) -> Pair:
    """``DetachVolume``."""
    return (
        {"volumeId": volume_id, "instanceId": instance_id, "force": False},
        {
            "requestId": "",
            "volumeId": volume_id,
            "instanceId": instance_id,
            "device": device,
            "status": "detaching",
            "attachTime": when * 1000,
            "deleteOnTermination": False,
        },
    )


def delete_volume(volume_id: str) -> Pair:
    """``DeleteVolume``."""
    return {"volumeId": volume_id}, {"requestId": "", "_return": True}


def create_snapshot(
    snapshot_id: str,
    volume_id: str,
    *,
    account: str,
    size: int,
    started: int,
    description: str,
    tags: dict[str, str] | None = None,
) -> Pair:
    """``CreateSnapshot``."""
    request: dict[str, Any] = {"volumeId": volume_id, "description": description}
    if tags:
        request["tagSpecificationSet"] = _tags("snapshot", tags)
    response: dict[str, Any] = {
        "requestId": "",
        "snapshotId": snapshot_id,
        "volumeId": volume_id,
        "status": "pending",
        "startTime": started * 1000,
        "progress": "",
        "ownerId": account,
        "volumeSize": size,
        "description": description,
        "encrypted": True,
    }
    if tags:
        response["tagSet"] = {"items": [{"key": k, "value": v} for k, v in tags.items()]}
    return request, response


def delete_snapshot(snapshot_id: str) -> Pair:
    """``DeleteSnapshot``."""
    return {"snapshotId": snapshot_id}, {"requestId": "", "_return": True}


def modify_snapshot_share(snapshot_id: str, account: str) -> Pair:
    """``ModifySnapshotAttribute`` granting ``createVolumePermission`` to ``account``."""
    return (
        {
            "snapshotId": snapshot_id,
            "createVolumePermission": {"add": {"items": [{"userId": account}]}},
            "attributeType": "CREATE_VOLUME_PERMISSION",
        },
        {"requestId": "", "_return": True},
    )


def create_image(image_id: str, instance_id: str, name: str, *, no_reboot: bool = True) -> Pair:
    """``CreateImage`` (``noReboot`` unless the caller stopped the instance first)."""
    return (
        {
            "instanceId": instance_id,
            "name": name,
            "description": "",
            "noReboot": no_reboot,
            "blockDeviceMapping": {},
        },
        {"requestId": "", "imageId": image_id},
    )


def modify_image_share(image_id: str, *, public: bool, account: str = "") -> Pair:
    """``ModifyImageAttribute`` granting ``launchPermission`` to the public or an account."""
    item = {"group": "all"} if public else {"userId": account}
    return (
        {
            "imageId": image_id,
            "launchPermission": {"add": {"items": [item]}},
            "attributeType": "launchPermission",
        },
        {"requestId": "", "_return": True},
    )


def modify_instance_attribute(instance_id: str, attribute: str, value: str = "") -> Pair:
    """``ModifyInstanceAttribute`` of ``userData`` (redacted) or ``instanceType``."""
    request: dict[str, Any] = {"instanceId": instance_id}
    if attribute == "userData":
        request["userData"] = "<sensitiveDataRemoved>"
    else:
        request[attribute] = {"value": value}
    return request, {"requestId": "", "_return": True}


def authorize_ingress(
    rng: random.Random,
    group: str,
    account: str,
    port: int,
    cidr: str,
    *,
    source_group: str | None = None,
    name: str = "AuthorizeSecurityGroupIngress",
) -> Pair:
    """``AuthorizeSecurityGroupIngress`` (or ``RevokeSecurityGroupIngress`` by ``name``).

    One TCP port from one CIDR, or from another security group when ``source_group``
    is given (what the AWS Load Balancer Controller writes).
    """
    permission: dict[str, Any] = {
        "ipProtocol": "tcp",
        "fromPort": port,
        "toPort": port,
        "groups": {},
        "ipRanges": {"items": [{"cidrIp": cidr}]},
        "ipv6Ranges": {},
        "prefixListIds": {},
    }
    rule: dict[str, Any] = {
        "groupOwnerId": account,
        "groupId": group,
        "securityGroupRuleId": resource_id("sgr", rng),
        "isEgress": False,
        "ipProtocol": "tcp",
        "fromPort": port,
        "toPort": port,
    }
    if source_group:
        permission["groups"] = {"items": [{"groupId": source_group}]}
        permission["ipRanges"] = {}
        rule["referencedGroupInfo"] = {"groupId": source_group, "userId": account}
    else:
        rule["cidrIpv4"] = cidr
    request = {"groupId": group, "ipPermissions": {"items": [permission]}}
    if name == "RevokeSecurityGroupIngress":
        return request, {"requestId": "", "_return": True}
    return request, {
        "requestId": "",
        "_return": True,
        "securityGroupRuleSet": {"items": [rule]},
    }


def import_key_pair(rng: random.Random, name: str) -> Pair:
    """``ImportKeyPair``."""
    fingerprint = ":".join(f"{rng.getrandbits(8):02x}" for _ in range(16))
    return (
        {"keyName": name, "publicKeyMaterial": "<sensitiveDataRemoved>"},
        {
            "requestId": "",
            "keyName": name,
            "keyFingerprint": fingerprint,
            "keyPairId": resource_id("key", rng),
        },
    )


def create_launch_template_version(
    template_id: str,
    template_name: str,
    version: int,
    image: str,
    instance_type: str,
    created: int,
    created_by: str,
) -> Pair:
    """``CreateLaunchTemplateVersion`` (its request and response keep the Query API's casing)."""
    data = {"ImageId": image, "InstanceType": instance_type, "UserData": "<sensitiveDataRemoved>"}
    return (
        {
            "CreateLaunchTemplateVersionRequest": {
                "LaunchTemplateId": template_id,
                "SourceVersion": str(version - 1),
                "LaunchTemplateData": data,
            }
        },
        {
            "CreateLaunchTemplateVersionResponse": {
                "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                "requestId": "",
                "launchTemplateVersion": {
                    "launchTemplateId": template_id,
                    "launchTemplateName": template_name,
                    "versionNumber": version,
                    "createTime": created * 1000,
                    "createdBy": created_by,
                    "defaultVersion": False,
                    "launchTemplateData": {
                        "imageId": image,
                        "instanceType": instance_type,
                        "userData": "<sensitiveDataRemoved>",
                    },
                },
            }
        },
    )


def update_asg(group: str, template_id: str, desired: int, minimum: int, maximum: int) -> Pair:
    """``UpdateAutoScalingGroup`` (Auto Scaling records no response)."""
    return (
        {
            "autoScalingGroupName": group,
            "launchTemplate": {"launchTemplateId": template_id, "version": "$Latest"},
            "minSize": minimum,
            "maxSize": maximum,
            "desiredCapacity": desired,
        },
        None,
    )


def create_fleet(
    rng: random.Random,
    template_id: str,
    instance_ids: list[str],
    instance_type: str,
    zone: str,
    subnet: str,
) -> Pair:
    """``CreateFleet`` of type ``instant`` as Karpenter calls it, with the launched ids."""
    fleet = f"fleet-{uuid(rng)}"
    return (
        {
            "CreateFleetRequest": {
                "TargetCapacitySpecification": {
                    "DefaultTargetCapacityType": "on-demand",
                    "TotalTargetCapacity": len(instance_ids),
                },
                "Type": "instant",
                "LaunchTemplateConfigs": {
                    "LaunchTemplateSpecification": {
                        "LaunchTemplateId": template_id,
                        "Version": "$Latest",
                    },
                    "Overrides": [
                        {
                            "InstanceType": instance_type,
                            "SubnetId": subnet,
                            "AvailabilityZone": zone,
                        }
                    ],
                    "tag": 1,
                },
                "OnDemandOptions": {"AllocationStrategy": "lowest-price"},
                "TagSpecification": {
                    "ResourceType": "instance",
                    "Tag": [{"Key": "karpenter.sh/nodepool", "Value": "default"}],
                    "tag": 1,
                },
            }
        },
        {
            "CreateFleetResponse": {
                "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                "requestId": "",
                "fleetId": fleet,
                "errorSet": "",
                "fleetInstanceSet": {
                    "item": {
                        "lifecycle": "on-demand",
                        "instanceIds": {
                            "item": instance_ids if len(instance_ids) > 1 else instance_ids[0]
                        },
                        "instanceType": instance_type,
                        "launchTemplateAndOverrides": {
                            "overrides": {
                                "availabilityZone": zone,
                                "instanceType": instance_type,
                                "subnetId": subnet,
                            },
                            "launchTemplateSpecification": {
                                "launchTemplateId": template_id,
                                "version": "$Latest",
                            },
                        },
                    }
                },
            }
        },
    )
