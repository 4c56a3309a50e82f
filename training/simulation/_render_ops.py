"""What a simulated CloudTrail call did, in words every cloud has: the renderers' input.

The organisation is simulated once, as CloudTrail (ADR 0054). A renderer for another
cloud asks :func:`ops_of` what each record did to which resource: an :class:`Op` says
the kind of resource (``instance``, ``disk``, ``snapshot``, ``image``, ``firewall``,
``sshkey``, ``template``, ``group``, ``serial``, ``read``), the verb and the names
involved. Calls no other cloud logs as a compute operation give no operation (STS,
load balancer targets, RDS, EBS block reads, ``GetPasswordData``); :data:`DROPPED` names
them for the ADR and the manifest.

Resource names are the AWS ids (``i-0abc...``, ``vol-...``): valid names in Azure and
Google Cloud, and the links between resources (a disk made from a snapshot) survive.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["ABSENT", "DROPPED", "READS", "Op", "ops_of", "size_class"]


@dataclass(frozen=True, slots=True)
class Op:
    """One cloud-neutral operation of a simulated call.

    Attributes
    ----------
    kind : str
        Resource kind: instance, disk, snapshot, image, firewall, sshkey, template, group,
        serial (serial-console access), read (a list or get of ``name``, a collection).
    verb : str
        create, delete, start, stop, restart, modify, attach, detach, share, unshare,
        code (code that runs on the machine: user data, a command), ssh (a key pushed),
        enable, list, get.
    name : str
        The resource's name (its AWS id); the collection for reads.
    source : str
        What it is made from or acts on: a disk's snapshot, a snapshot's disk, an
        image's instance, the instance a disk is attached to.
    target : str
        Whom a share grants: an account id or ``all``.
    detail : dict
        Kind-specific facts: ``type`` (instance type), ``az``, ``port``, ``cidr``.
    """

    kind: str
    verb: str
    name: str
    source: str = ""
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


READS: Final = {
    "DescribeInstances": "instances",
    "DescribeInstanceStatus": "instances",
    "DescribeVolumes": "disks",
    "DescribeSnapshots": "snapshots",
    "DescribeImages": "images",
    "DescribeSecurityGroups": "firewalls",
    "DescribeKeyPairs": "projects",
    "DescribeRegions": "regions",
    "DescribeAvailabilityZones": "zones",
    "DescribeInstanceTypeOfferings": "machineTypes",
    "DescribeInstanceTypes": "machineTypes",
    "DescribeLaunchTemplates": "instanceTemplates",
    "DescribeLaunchTemplateVersions": "instanceTemplates",
    "DescribeAutoScalingGroups": "instanceGroupManagers",
}
"""Reads with a Compute Engine equivalent (Google Cloud logs them as Data Access; the
Azure Activity Log records no reads)."""

DROPPED: Final = (
    "sts.amazonaws.com (AssumeRoleWithWebIdentity, GetCallerIdentity: sign-ins, not compute)",
    "elasticloadbalancing (target registration: load balancer back ends)",
    "rds (database snapshots: another service in Azure and Google Cloud)",
    "ebs GetSnapshotBlock (block reads; Azure: the SAS download is data plane, unlogged)",
    "ebs ListSnapshotBlocks in Google Cloud (no direct snapshot read API)",
    "GetPasswordData (Windows password retrieval; no read equivalent)",
    "ssm SendCommand in Google Cloud (no managed run-command API)",
    "EnableSerialConsoleAccess in Azure (serial console needs no account switch)",
    "ModifySnapshotAttribute to an account of the organisation in Azure (role assignment)",
    "CreateTags (not a compute change in the AWS taxonomy; Google's setLabels would be one)",
    "Describe* without a listed equivalent, and every read in Azure",
)
"""Simulated calls that no other cloud logs as a compute operation (ADR 0054)."""


ABSENT: Final[Mapping[str, Mapping[str, str]]] = {
    "azure": {
        "rds_snapshot_share": "RDS database snapshots have no Azure compute equivalent",
        "secrets_sweep": "the Activity Log records no reads",
    },
    "gcp": {
        "rds_snapshot_share": "RDS database snapshots have no Compute Engine equivalent",
        "ebs_direct_read": "Compute Engine has no snapshot block-read API",
    },
}
"""Scenarios that do not happen in a cloud, with why: their labels are left out there."""


def size_class(instance_type: str) -> str:
    """Return ``gpu``, ``medium``, ``large``, ``xlarge`` or ``big`` for an EC2 instance type.

    Examples
    --------
    >>> size_class("g5.12xlarge"), size_class("t3.medium"), size_class("m5.4xlarge")
    ('gpu', 'medium', 'big')
    """
    family, _, size = instance_type.partition(".")
    if family.startswith(("p", "g", "inf", "trn", "dl")):
        return "gpu"
    return size if size in ("medium", "large", "xlarge") else "big"


def _items(container: Any, key: str) -> list[dict[str, Any]]:
    found = container.get(key) if isinstance(container, dict) else None
    items = found.get("items") if isinstance(found, dict) else None
    return [item for item in items or () if isinstance(item, dict)]


def _instances(record: dict[str, Any]) -> list[str]:
    response = record.get("responseElements") or {}
    ids = [i["instanceId"] for i in _items(response, "instancesSet") if "instanceId" in i]
    if not ids:
        ids = [i["instanceId"] for i in _items(record.get("requestParameters"), "instancesSet")
               if "instanceId" in i]  # fmt: skip
    return ids


def _fleet(record: dict[str, Any]) -> Iterator[Op]:
    response = (record.get("responseElements") or {}).get("CreateFleetResponse") or {}
    fleet = response.get("fleetInstanceSet") or {}
    items = fleet.get("item") if isinstance(fleet, dict) else None
    for item in items if isinstance(items, list) else [items] if items else []:
        ids = item.get("instanceIds", {}).get("item") if isinstance(item, dict) else None
        for one in ids if isinstance(ids, list) else [ids] if ids else []:
            kind = item.get("instanceType", "m5.large")
            yield Op("instance", "create", str(one), detail={"type": kind})


def _launch(record: dict[str, Any], request: dict[str, Any]) -> Iterator[Op]:
    kind = request.get("instanceType", "m5.large")
    names = _instances(record) or [f"vm-{record.get('eventID', '')[:8]}"]
    for name in names:
        yield Op("instance", "create", name, detail={"type": kind})


def _share(request: dict[str, Any], kind: str, name: str, key: str) -> Iterator[Op]:
    permission = request.get(key) or {}
    for verb, part in (("share", "add"), ("unshare", "remove")):
        for item in _items(permission, part):
            target = "all" if item.get("group") == "all" else str(item.get("userId", ""))
            if target:
                yield Op(kind, verb, name, target=target)


def _ingress(request: dict[str, Any], verb: str) -> Iterator[Op]:
    group = str(request.get("groupId", "sg"))
    for permission in _items(request, "ipPermissions"):
        port = permission.get("fromPort", 0)
        ranges = [r.get("cidrIp") for r in _items(permission, "ipRanges")] or ["10.0.0.0/8"]
        yield Op("firewall", verb, f"{group}-{port}", detail={"port": port, "cidr": ranges[0]})


def ops_of(record: dict[str, Any]) -> list[Op]:
    """Return the cloud-neutral operations of one simulated CloudTrail record ([] if none)."""
    name = record["eventName"]
    request = record.get("requestParameters") or {}
    response = record.get("responseElements") or {}
    if name in READS:
        return [Op("read", "list", READS[name])]
    if name == "DescribeInstanceAttribute":
        return [Op("read", "get", "instances", source=str(request.get("instanceId") or ""))]
    if name == "RunInstances":
        return list(_launch(record, request))
    if name == "CreateFleet":
        return list(_fleet(record))
    verbs = {
        "TerminateInstances": "delete",
        "StartInstances": "start",
        "StopInstances": "stop",
        "RebootInstances": "restart",
    }
    if name in verbs:
        return [Op("instance", verbs[name], one) for one in _instances(record)]
    return _other(name, request, response)


def _other(name: str, request: dict[str, Any], response: dict[str, Any]) -> list[Op]:
    volume = str(request.get("volumeId") or response.get("volumeId") or "")
    instance = str(request.get("instanceId") or "")
    snapshot = str(request.get("snapshotId") or response.get("snapshotId") or "")
    image = str(request.get("imageId") or response.get("imageId") or "")
    simple: dict[str, Op] = {
        "CreateVolume": Op("disk", "create", volume, source=str(request.get("snapshotId") or ""),
                           detail={"az": request.get("zone", "")}),
        "DeleteVolume": Op("disk", "delete", volume),
        "AttachVolume": Op("disk", "attach", volume, source=instance),
        "DetachVolume": Op("disk", "detach", volume, source=instance),
        "CreateSnapshot": Op("snapshot", "create", snapshot, source=volume),
        "CopySnapshot": Op("snapshot", "create", snapshot,
                           source=str(request.get("sourceSnapshotId") or "")),
        "DeleteSnapshot": Op("snapshot", "delete", snapshot),
        "CreateImage": Op("image", "create", image, source=instance),
        "CopyImage": Op("image", "create", image, source=str(request.get("sourceImageId") or "")),
        "DeregisterImage": Op("image", "delete", image),
        "CreateSecurityGroup": Op("firewall", "create", str(response.get("groupId") or "sg")),
        "DeleteSecurityGroup": Op("firewall", "delete", str(request.get("groupId") or "sg")),
        "ImportKeyPair": Op("sshkey", "create", str(request.get("keyName") or "key")),
        "CreateKeyPair": Op("sshkey", "create", str(request.get("keyName") or "key")),
        "DeleteKeyPair": Op("sshkey", "delete", str(request.get("keyName") or "key")),
        "CreateLaunchTemplateVersion": Op("template", "create", _template(request)),
        "ModifyLaunchTemplate": Op("template", "modify", _template(request)),
        "UpdateAutoScalingGroup": Op("group", "modify", str(request.get("autoScalingGroupName"))),
        "StartInstanceRefresh": Op("group", "restart", str(request.get("autoScalingGroupName"))),
        "SendSSHPublicKey": Op("instance", "ssh", instance),
        "SendSerialConsoleSSHPublicKey": Op("serial", "ssh", instance),
        "EnableSerialConsoleAccess": Op("serial", "enable", "project"),
        "SendCommand": Op("instance", "code", _first(request.get("instanceIds")) or instance),
        "ListSnapshotBlocks": Op("snapshot", "export", snapshot),
    }  # fmt: skip
    if name in simple:
        return [simple[name]]
    if name == "ModifySnapshotAttribute":
        return list(_share(request, "snapshot", snapshot, "createVolumePermission"))
    if name == "ModifyImageAttribute":
        return list(_share(request, "image", image, "launchPermission"))
    if name == "ModifyInstanceAttribute":
        verb = "code" if "userData" in request else "modify"
        return [Op("instance", verb, instance)]
    if name == "AuthorizeSecurityGroupIngress":
        return list(_ingress(request, "create"))
    if name == "RevokeSecurityGroupIngress":
        return list(_ingress(request, "delete"))
    return []


def _first(value: Any) -> str:
    return str(value[0]) if isinstance(value, list) and value else ""


def _template(request: dict[str, Any]) -> str:
    for key in ("LaunchTemplateId", "launchTemplateId", "LaunchTemplateName"):
        for container in (request, *(v for v in request.values() if isinstance(v, dict))):
            found = container.get(key) if isinstance(container, dict) else None
            if isinstance(found, str):
                return found
    return "template"
