"""Compute-change taxonomy: which resource an API call touches and what it does.

The taxonomy has three layers, most specific first:

1. :data:`EXPLICIT` names every EC2, EBS (including the EBS direct APIs) and EC2
   Auto Scaling call whose meaning is not plain from its name, and
   :data:`EXPLICIT_BY_SOURCE` the calls of other services that touch compute data
   (RDS and Aurora snapshots, their sharing, export and restore);
2. for ``ec2``, ``ebs``, ``autoscaling`` and ``ec2-instance-connect`` calls not in
   the table, the noun after the verb picks the resource type (``DescribeVolumeStatus``
   -> volume) and the verb picks the action (:data:`VERB_ACTIONS`);
3. every other call gets no resource type and an action from its verb alone, so an
   identity's IAM or S3 activity still reads as create, delete, read ... context.

``ModifySnapshotAttribute``, ``ModifyImageAttribute``, ``ModifyFpgaImageAttribute`` and
the RDS ``ModifyDB(Cluster)SnapshotAttribute`` become ``share`` when they grant another
account, an organisation or the public; ``features._parameters`` says whom, and what
else of a call's parameters the rules judge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

import orjson

__all__ = [
    "COMPUTE_SOURCES",
    "EXPLICIT",
    "EXPLICIT_BY_SOURCE",
    "VERB_ACTIONS",
    "classify",
    "resource_ids",
    "resource_type_of_id",
]

COMPUTE_SOURCES: Final = frozenset(
    {
        "ec2.amazonaws.com",
        "ebs.amazonaws.com",
        "autoscaling.amazonaws.com",
        "ec2-instance-connect.amazonaws.com",
    }
)
"""Event sources whose calls can touch compute resources."""

_I, _V, _S, _A = "instance", "volume", "snapshot", "image"

EXPLICIT: Final[Mapping[str, tuple[str, str]]] = {
    # instances
    "RunInstances": (_I, "create"),
    "ImportInstance": (_I, "create"),
    "TerminateInstances": (_I, "delete"),
    "StartInstances": (_I, "start"),
    "StopInstances": (_I, "stop"),
    "RebootInstances": (_I, "other"),
    "MonitorInstances": (_I, "modify"),
    "UnmonitorInstances": (_I, "modify"),
    "AssociateIamInstanceProfile": (_I, "attach"),
    "DisassociateIamInstanceProfile": (_I, "detach"),
    "ReplaceIamInstanceProfileAssociation": (_I, "modify"),
    "CreateInstanceExportTask": (_I, "copy"),
    "GetPasswordData": (_I, "read"),
    "GetConsoleOutput": (_I, "read"),
    "GetConsoleScreenshot": (_I, "read"),
    "SendSSHPublicKey": (_I, "other"),
    "SendSerialConsoleSSHPublicKey": (_I, "other"),
    "CreateReplaceRootVolumeTask": (_V, "modify"),
    # volumes
    "CreateVolume": (_V, "create"),
    "ImportVolume": (_V, "create"),
    "DeleteVolume": (_V, "delete"),
    "AttachVolume": (_V, "attach"),
    "DetachVolume": (_V, "detach"),
    "EnableVolumeIO": (_V, "modify"),
    # snapshots, including the EBS direct APIs
    "CreateSnapshot": (_S, "create"),
    "CreateSnapshots": (_S, "create"),
    "ImportSnapshot": (_S, "create"),
    "CopySnapshot": (_S, "copy"),
    "DeleteSnapshot": (_S, "delete"),
    "RestoreSnapshotFromRecycleBin": (_S, "create"),
    "RestoreSnapshotTier": (_S, "modify"),
    "LockSnapshot": (_S, "modify"),
    "UnlockSnapshot": (_S, "modify"),
    "EnableFastSnapshotRestores": (_S, "modify"),
    "DisableFastSnapshotRestores": (_S, "modify"),
    "StartSnapshot": (_S, "create"),
    "PutSnapshotBlock": (_S, "modify"),
    "CompleteSnapshot": (_S, "modify"),
    "GetSnapshotBlock": (_S, "read"),
    "ListSnapshotBlocks": (_S, "read"),
    "ListChangedBlocks": (_S, "read"),
    # images
    "CreateImage": (_A, "create"),
    "RegisterImage": (_A, "create"),
    "BundleInstance": (_A, "create"),
    "ImportImage": (_A, "create"),
    "CreateRestoreImageTask": (_A, "create"),
    "RestoreImageFromRecycleBin": (_A, "create"),
    "DeregisterImage": (_A, "delete"),
    "CopyImage": (_A, "copy"),
    "ExportImage": (_A, "copy"),
    "CreateStoreImageTask": (_A, "copy"),
    "EnableFastLaunch": (_A, "modify"),
    "DisableFastLaunch": (_A, "modify"),
    "ModifyFpgaImageAttribute": (_A, "modify"),
    # launch templates and configurations
    "CreateLaunchTemplateVersion": ("launch_template", "modify"),
    "DeleteLaunchTemplateVersions": ("launch_template", "modify"),
    "GetLaunchTemplateData": ("launch_template", "read"),
    # fleets and spot
    "RequestSpotFleet": ("fleet", "create"),
    "CancelSpotFleetRequests": ("fleet", "delete"),
    "DeleteFleets": ("fleet", "delete"),
    "RequestSpotInstances": ("spot_request", "create"),
    "CancelSpotInstanceRequests": ("spot_request", "delete"),
    "CancelCapacityReservation": ("capacity_reservation", "delete"),
    "PurchaseCapacityBlock": ("capacity_reservation", "create"),
    "AllocateHosts": ("dedicated_host", "create"),
    "ReleaseHosts": ("dedicated_host", "delete"),
    "AllocateAddress": ("elastic_ip", "create"),
    "ReleaseAddress": ("elastic_ip", "delete"),
    "AssociateAddress": ("elastic_ip", "attach"),
    "DisassociateAddress": ("elastic_ip", "detach"),
    "ImportKeyPair": ("key_pair", "create"),
    "AuthorizeSecurityGroupIngress": ("security_group", "modify"),
    "AuthorizeSecurityGroupEgress": ("security_group", "modify"),
    "RevokeSecurityGroupIngress": ("security_group", "modify"),
    "RevokeSecurityGroupEgress": ("security_group", "modify"),
    # account-wide compute settings
    "EnableSerialConsoleAccess": ("account_setting", "modify"),
    "DisableSerialConsoleAccess": ("account_setting", "modify"),
    "EnableEbsEncryptionByDefault": ("account_setting", "modify"),
    "DisableEbsEncryptionByDefault": ("account_setting", "modify"),
    "ModifyEbsDefaultKmsKeyId": ("account_setting", "modify"),
    "ResetEbsDefaultKmsKeyId": ("account_setting", "modify"),
    "EnableSnapshotBlockPublicAccess": ("account_setting", "modify"),
    "DisableSnapshotBlockPublicAccess": ("account_setting", "modify"),
    "EnableImageBlockPublicAccess": ("account_setting", "modify"),
    "DisableImageBlockPublicAccess": ("account_setting", "modify"),
    "ModifyInstanceMetadataDefaults": ("account_setting", "modify"),
    "GetSerialConsoleAccessStatus": ("account_setting", "read"),
    "GetEbsEncryptionByDefault": ("account_setting", "read"),
    "GetEbsDefaultKmsKeyId": ("account_setting", "read"),
    # EC2 Auto Scaling
    "TerminateInstanceInAutoScalingGroup": (_I, "delete"),
    "AttachInstances": ("autoscaling_group", "attach"),
    "DetachInstances": ("autoscaling_group", "detach"),
    "SetDesiredCapacity": ("autoscaling_group", "modify"),
    "UpdateAutoScalingGroup": ("autoscaling_group", "modify"),
    "SetInstanceHealth": (_I, "modify"),
    "SetInstanceProtection": (_I, "modify"),
    "PutScalingPolicy": ("autoscaling_group", "modify"),
    "PutScheduledUpdateGroupAction": ("autoscaling_group", "modify"),
    "StartInstanceRefresh": ("autoscaling_group", "modify"),
    "ExecutePolicy": ("autoscaling_group", "modify"),
    "SuspendProcesses": ("autoscaling_group", "modify"),
    "ResumeProcesses": ("autoscaling_group", "modify"),
    "CompleteLifecycleAction": ("autoscaling_group", "other"),
    "RecordLifecycleActionHeartbeat": ("autoscaling_group", "other"),
}
"""Calls whose resource type and action are not plain from their names."""

_DS = "db_snapshot"
EXPLICIT_BY_SOURCE: Final[Mapping[str, Mapping[str, tuple[str, str]]]] = {
    "rds.amazonaws.com": {
        # RDS and Aurora snapshots: made, copied, shared (ModifyDB*SnapshotAttribute
        # ``restore``: features._parameters), exported to S3, deleted
        "CreateDBSnapshot": (_DS, "create"),
        "CreateDBClusterSnapshot": (_DS, "create"),
        "CopyDBSnapshot": (_DS, "copy"),
        "CopyDBClusterSnapshot": (_DS, "copy"),
        "ModifyDBSnapshotAttribute": (_DS, "modify"),
        "ModifyDBClusterSnapshotAttribute": (_DS, "modify"),
        "ModifyDBSnapshot": (_DS, "modify"),
        "StartExportTask": (_DS, "copy"),
        "CancelExportTask": (_DS, "other"),
        "DeleteDBSnapshot": (_DS, "delete"),
        "DeleteDBClusterSnapshot": (_DS, "delete"),
        "DescribeDBSnapshotAttributes": (_DS, "read"),
        "DescribeDBClusterSnapshotAttributes": (_DS, "read"),
        # ... and restored into a new database
        "RestoreDBInstanceFromDBSnapshot": ("db_instance", "create"),
        "RestoreDBInstanceToPointInTime": ("db_instance", "create"),
        "RestoreDBClusterFromSnapshot": ("db_cluster", "create"),
        "RestoreDBClusterToPointInTime": ("db_cluster", "create"),
    },
}
"""Calls of services beside EC2 that touch compute data; only these of each source count."""

VERB_ACTIONS: Final[Mapping[str, str]] = {
    "Run": "create",
    "Create": "create",
    "Register": "create",
    "Import": "create",
    "Request": "create",
    "Allocate": "create",
    "Purchase": "create",
    "Put": "modify",
    "Add": "modify",
    "Delete": "delete",
    "Deregister": "delete",
    "Terminate": "delete",
    "Cancel": "delete",
    "Release": "delete",
    "Remove": "delete",
    "Modify": "modify",
    "Update": "modify",
    "Reset": "modify",
    "Replace": "modify",
    "Set": "modify",
    "Enable": "modify",
    "Disable": "modify",
    "Lock": "modify",
    "Unlock": "modify",
    "Tag": "modify",
    "Untag": "modify",
    "Start": "start",
    "Stop": "stop",
    "Attach": "attach",
    "Associate": "attach",
    "Detach": "detach",
    "Disassociate": "detach",
    "Copy": "copy",
    "Export": "copy",
    "Describe": "read",
    "Get": "read",
    "List": "read",
    "Search": "read",
    "Lookup": "read",
    "Batch": "read",
    "Head": "read",
    "Select": "read",
}
"""Action of a call from its leading verb, for calls not in :data:`EXPLICIT`."""

# Longest nouns first so that "SpotFleet" wins over "Fleet", "InstanceExport" over "Instance".
_NOUNS: Final = (
    ("LaunchTemplate", "launch_template"),
    ("LaunchConfiguration", "launch_configuration"),
    ("AutoScalingGroup", "autoscaling_group"),
    ("AutoScaling", "autoscaling_group"),
    ("SpotFleet", "fleet"),
    ("SpotInstance", "spot_request"),
    ("CapacityReservation", "capacity_reservation"),
    ("NetworkInterface", "network_interface"),
    ("SecurityGroup", "security_group"),
    ("PlacementGroup", "placement_group"),
    ("KeyPair", "key_pair"),
    ("Address", "elastic_ip"),
    ("Fleet", "fleet"),
    ("Host", "dedicated_host"),
    ("Instance", _I),
    ("Volume", _V),
    ("Snapshot", _S),
    ("Image", _A),
)

_VERB = re.compile(r"^([A-Z][a-z]+)")
_ID_PREFIX_TYPES: Final[Mapping[str, str]] = {
    "i": _I,
    "vol": _V,
    "snap": _S,
    "ami": _A,
    "lt": "launch_template",
    "fleet": "fleet",
    "sfr": "fleet",
    "sir": "spot_request",
    "cr": "capacity_reservation",
    "h": "dedicated_host",
    "key": "key_pair",
    "sg": "security_group",
    "eni": "network_interface",
    "eipalloc": "elastic_ip",
    "pg": "placement_group",
}
_ID_PATTERN: Final = r"(?:" + "|".join(_ID_PREFIX_TYPES) + r")-[0-9a-fA-F]{8,17}"
_RESOURCE_ID = re.compile(f"^{_ID_PATTERN}$")
# Quotes consumed, not looked around: three times faster, and the same ids in valid JSON.
_QUOTED_ID = re.compile(f'"({_ID_PATTERN})"'.encode())
_MAX_IDS: Final = 256
_DB_ID_KEYS: Final = (
    "dBSnapshotIdentifier",
    "dBClusterSnapshotIdentifier",
    "sourceDBSnapshotIdentifier",
    "sourceDBClusterSnapshotIdentifier",
    "targetDBSnapshotIdentifier",
    "targetDBClusterSnapshotIdentifier",
    "sourceArn",
    "exportTaskIdentifier",
    "dBInstanceIdentifier",
    "dBClusterIdentifier",
)


@lru_cache(maxsize=4096)
def classify(event_source: str | None, event_name: str) -> tuple[str | None, str]:
    """Return ``(resource_type, action)`` of a call before looking at its parameters.

    Parameters
    ----------
    event_source : str or None
        CloudTrail ``eventSource``, e.g. ``"ec2.amazonaws.com"``.
    event_name : str
        CloudTrail ``eventName``, e.g. ``"CreateVolume"``.

    Returns
    -------
    tuple of (str or None, str)
        The compute resource type (``None`` for calls on anything else) and the action.
        Share detection needs the request and is done by
        :func:`features._parameters.share_targets`.
    """
    other = EXPLICIT_BY_SOURCE.get(event_source or "")
    if other is not None and event_name in other:
        return other[event_name]
    compute = event_source in COMPUTE_SOURCES
    if compute and event_name in EXPLICIT:
        return EXPLICIT[event_name]
    match = _VERB.match(event_name)
    verb = match.group(1) if match else ""
    action = VERB_ACTIONS.get(verb, "other")
    if not compute:
        return None, action
    noun = event_name[len(verb) :]
    for prefix, resource_type in _NOUNS:
        if noun.startswith(prefix):
            return resource_type, action
    if event_source == "autoscaling.amazonaws.com":
        return "autoscaling_group", action
    return None, action


def resource_ids(request: Any, response: Any) -> list[str]:
    """Return the compute resource ids a call names, request first, without repeats.

    Ids are recognised by their EC2 prefixes (``i-``, ``vol-``, ``snap-``, ``ami-``,
    ``lt-``, ``fleet-``, ``sfr-``, ``sir-``, ``cr-``, ``h-``, ``key-``, ``sg-``,
    ``eni-``, ``eipalloc-``, ``pg-``) wherever they stand as a whole JSON string,
    so the role of each id is plain from the id itself: for ``CreateVolume`` the
    ``vol-`` id is the new volume and the ``snap-`` id its source. RDS names its
    resources by the keys of :data:`_DB_ID_KEYS` (``dBSnapshotIdentifier``,
    ``sourceArn`` ...), which come first, as the request gives them. At most 256 ids
    are kept. (Scanning the serialised JSON with one regular expression is several
    times faster than walking the nested values in Python.)
    """
    seen: dict[str, None] = {}
    if isinstance(request, dict):
        for key in _DB_ID_KEYS:
            value = request.get(key)
            if isinstance(value, str) and value:
                seen.setdefault(value, None)
    for part in (request, response):
        if not part or not isinstance(part, dict | list):
            if isinstance(part, str) and _RESOURCE_ID.match(part):
                seen.setdefault(part, None)
            continue
        try:
            text = orjson.dumps(part, option=orjson.OPT_NON_STR_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            continue
        for found in _QUOTED_ID.findall(text):
            seen.setdefault(found.decode(), None)
            if len(seen) >= _MAX_IDS:
                return list(seen)
    return list(seen)


def resource_type_of_id(resource_id: str) -> str | None:
    """Return the resource type an EC2 id's prefix names, or ``None``."""
    prefix, _, _ = resource_id.partition("-")
    return _ID_PREFIX_TYPES.get(prefix)
