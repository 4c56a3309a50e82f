"""Azure's compute taxonomy: which resource an Activity Log operation touches and what it does.

An Azure operation is ``<provider>/<resource type>[/<child type>...]/<verb>``:
``Microsoft.Compute/virtualMachines/write``, ``Microsoft.Compute/disks/beginGetAccess/action``.
Names are compared without case (exports spell them in upper case, lower case or as
Azure Resource Manager does); :func:`canonical_operation` gives the one spelling the
canonical table keeps. The taxonomy mirrors the AWS one (:mod:`features._taxonomy`):

* ``Microsoft.Compute`` virtual machines, scale sets, disks, snapshots, images and
  galleries, plus the network pieces AWS counts as compute (security groups, network
  interfaces, public addresses), map to the same resource types and actions;
* ``write`` creates when the outcome says ``Created`` (HTTP 201), else modifies (Azure
  has one verb for both);
* ``disks|snapshots/beginGetAccess/action`` hands out a download link (a SAS URL) that
  anyone holding it can use: a ``share`` with the target ``link``;
* ``galleries/share/action`` shares a gallery with subscriptions, tenants or the
  community (``all``); :func:`share_targets` reads whom from the request body;
* ``virtualMachines/runCommand/action``, run commands, extensions and ``customData`` run
  code on an instance: ``modify`` with the attribute ``runCommand``, ``extension`` or
  ``customData`` (as AWS ``userData``);
* ``Microsoft.SerialConsole/serialPorts/connect/action`` (a shell on a machine's serial
  port) touches the machine, as AWS's ``SendSerialConsoleSSHPublicKey``;
* every other operation keeps no resource type and an action from its verb.

Resource ids are ARM ids in lower case (``/subscriptions/<s>/resourcegroups/<g>/providers/
microsoft.compute/disks/<name>``); their type is plain from the id
(:func:`resource_type_of_arm_id`), as an EC2 id's is from its prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from features._fields import gather_ids

__all__ = [
    "AZURE_OPERATIONS",
    "LINK",
    "arm_ids",
    "canonical_operation",
    "classify_azure",
    "modified_attribute_azure",
    "resource_type_of_arm_id",
    "share_targets_azure",
]

LINK: Final = "link"
"""Share target of a download link (a SAS URL): whoever holds the link can read the data."""

_I, _V, _S, _A = "instance", "volume", "snapshot", "image"
_ASG, _SG = "autoscaling_group", "security_group"

# Known operations, spelled as Azure Resource Manager spells them: (resource type, action).
# "write" entries are creations; classify_azure turns them into modifications unless the
# outcome says Created.
AZURE_OPERATIONS: Final[Mapping[str, tuple[str, str]]] = {
    "Microsoft.Compute/virtualMachines/write": (_I, "create"),
    "Microsoft.Compute/virtualMachines/delete": (_I, "delete"),
    "Microsoft.Compute/virtualMachines/start/action": (_I, "start"),
    "Microsoft.Compute/virtualMachines/powerOff/action": (_I, "stop"),
    "Microsoft.Compute/virtualMachines/deallocate/action": (_I, "stop"),
    "Microsoft.Compute/virtualMachines/restart/action": (_I, "other"),
    "Microsoft.Compute/virtualMachines/redeploy/action": (_I, "other"),
    "Microsoft.Compute/virtualMachines/reimage/action": (_I, "modify"),
    "Microsoft.Compute/virtualMachines/generalize/action": (_I, "modify"),
    "Microsoft.Compute/virtualMachines/capture/action": (_A, "create"),
    "Microsoft.Compute/virtualMachines/runCommand/action": (_I, "modify"),
    "Microsoft.Compute/virtualMachines/runCommands/write": (_I, "modify"),
    "Microsoft.Compute/virtualMachines/runCommands/delete": (_I, "modify"),
    "Microsoft.Compute/virtualMachines/extensions/write": (_I, "modify"),
    "Microsoft.Compute/virtualMachines/extensions/delete": (_I, "modify"),
    "Microsoft.Compute/virtualMachines/attachDetachDataDisks/action": (_V, "attach"),
    "Microsoft.Compute/virtualMachines/retrieveBootDiagnosticsData/action": (_I, "read"),
    "Microsoft.Compute/virtualMachines/read": (_I, "read"),
    "Microsoft.Compute/virtualMachineScaleSets/write": (_ASG, "create"),
    "Microsoft.Compute/virtualMachineScaleSets/delete": (_ASG, "delete"),
    "Microsoft.Compute/virtualMachineScaleSets/start/action": (_ASG, "start"),
    "Microsoft.Compute/virtualMachineScaleSets/powerOff/action": (_ASG, "stop"),
    "Microsoft.Compute/virtualMachineScaleSets/deallocate/action": (_ASG, "stop"),
    "Microsoft.Compute/virtualMachineScaleSets/delete/action": (_I, "delete"),
    "Microsoft.Compute/virtualMachineScaleSets/manualUpgrade/action": (_ASG, "modify"),
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/delete": (_I, "delete"),
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action": (_I, "modify"),
    "Microsoft.Compute/virtualMachineScaleSets/extensions/write": (_ASG, "modify"),
    "Microsoft.Compute/disks/write": (_V, "create"),
    "Microsoft.Compute/disks/delete": (_V, "delete"),
    "Microsoft.Compute/disks/beginGetAccess/action": (_V, "share"),
    "Microsoft.Compute/disks/endGetAccess/action": (_V, "modify"),
    "Microsoft.Compute/disks/read": (_V, "read"),
    "Microsoft.Compute/snapshots/write": (_S, "create"),
    "Microsoft.Compute/snapshots/delete": (_S, "delete"),
    "Microsoft.Compute/snapshots/beginGetAccess/action": (_S, "share"),
    "Microsoft.Compute/snapshots/endGetAccess/action": (_S, "modify"),
    "Microsoft.Compute/snapshots/read": (_S, "read"),
    "Microsoft.Compute/images/write": (_A, "create"),
    "Microsoft.Compute/images/delete": (_A, "delete"),
    "Microsoft.Compute/galleries/write": (_A, "create"),
    "Microsoft.Compute/galleries/delete": (_A, "delete"),
    "Microsoft.Compute/galleries/share/action": (_A, "modify"),
    "Microsoft.Compute/galleries/images/write": (_A, "create"),
    "Microsoft.Compute/galleries/images/delete": (_A, "delete"),
    "Microsoft.Compute/galleries/images/versions/write": (_A, "create"),
    "Microsoft.Compute/galleries/images/versions/delete": (_A, "delete"),
    "Microsoft.Compute/restorePointCollections/write": (_S, "create"),
    "Microsoft.Compute/restorePointCollections/restorePoints/write": (_S, "create"),
    "Microsoft.Compute/sshPublicKeys/write": ("key_pair", "create"),
    "Microsoft.Compute/sshPublicKeys/delete": ("key_pair", "delete"),
    "Microsoft.Compute/hostGroups/hosts/write": ("dedicated_host", "create"),
    "Microsoft.Compute/hostGroups/hosts/delete": ("dedicated_host", "delete"),
    "Microsoft.Compute/capacityReservationGroups/capacityReservations/write": (
        "capacity_reservation",
        "create",
    ),
    "Microsoft.Compute/proximityPlacementGroups/write": ("placement_group", "create"),
    "Microsoft.Compute/availabilitySets/write": ("placement_group", "create"),
    "Microsoft.Network/networkSecurityGroups/write": (_SG, "create"),
    "Microsoft.Network/networkSecurityGroups/delete": (_SG, "delete"),
    "Microsoft.Network/networkSecurityGroups/securityRules/write": (_SG, "modify"),
    "Microsoft.Network/networkSecurityGroups/securityRules/delete": (_SG, "modify"),
    "Microsoft.Network/networkInterfaces/write": ("network_interface", "create"),
    "Microsoft.Network/networkInterfaces/delete": ("network_interface", "delete"),
    "Microsoft.Network/publicIPAddresses/write": ("elastic_ip", "create"),
    "Microsoft.Network/publicIPAddresses/delete": ("elastic_ip", "delete"),
    # A shell on a machine's serial port (as AWS's SendSerialConsoleSSHPublicKey, ADR 0056).
    "Microsoft.SerialConsole/serialPorts/connect/action": (_I, "other"),
}
"""Operations of the compute taxonomy, spelled as Azure Resource Manager spells them."""

_BY_LOWER: Final = {name.lower(): name for name in AZURE_OPERATIONS}
_TYPES_BY_SEGMENT: Final[Mapping[str, str]] = {
    "virtualmachines": _I,
    "virtualmachinescalesets": _ASG,
    "disks": _V,
    "snapshots": _S,
    "images": _A,
    "galleries": _A,
    "restorepointcollections": _S,
    "sshpublickeys": "key_pair",
    "networksecuritygroups": _SG,
    "networkinterfaces": "network_interface",
    "publicipaddresses": "elastic_ip",
    "hostgroups": "dedicated_host",
    "capacityreservationgroups": "capacity_reservation",
    "proximityplacementgroups": "placement_group",
    "availabilitysets": "placement_group",
}
_COMPUTE_PROVIDERS: Final = ("microsoft.compute/", "microsoft.network/")
_ACTION_VERBS: Final[Mapping[str, str]] = {
    "start": "start",
    "poweroff": "stop",
    "deallocate": "stop",
    "delete": "delete",
    "restart": "other",
    "read": "read",
    "listkeys": "read",
    "regeneratekey": "modify",
}
# An ARM id of a compute-like resource, possibly a child (…/virtualmachines/vm/extensions/x).
_ARM_ID: Final = re.compile(
    r"/subscriptions/[^/\"]+/resourcegroups/[^/\"]+/providers/microsoft\.(?:compute|network)/"
    r"[a-z]+/[^/\"\\]+(?:/[a-z]+/[^/\"\\]+)*",
    re.IGNORECASE,
)
_MAX_IDS: Final = 256
_CODE_KEYS: Final = ("customData", "userData")
_CUSTOM_SCRIPT_TYPES: Final = frozenset({"customscript", "customscriptextension"})


@lru_cache(maxsize=4096)
def canonical_operation(operation: str) -> str:
    """Return an operation name as the canonical table keeps it.

    Known operations take Azure Resource Manager's spelling whatever the export's case;
    others are kept in lower case, so the same operation is always one event name.

    Examples
    --------
    >>> canonical_operation("MICROSOFT.COMPUTE/DISKS/BEGINGETACCESS/ACTION")
    'Microsoft.Compute/disks/beginGetAccess/action'
    """
    lowered = operation.lower()
    return _BY_LOWER.get(lowered, lowered)


@lru_cache(maxsize=4096)
def classify_azure(operation: str, created: bool | None = None) -> tuple[str | None, str]:
    """Return ``(resource_type, action)`` of an Azure operation.

    Parameters
    ----------
    operation : str
        The operation name, any case.
    created : bool, optional
        Whether the outcome says the resource was created (status ``Created``); decides
        between ``create`` and ``modify`` for ``write``. Unknown (``None``) is ``modify``.
    """
    name = canonical_operation(operation)
    known = AZURE_OPERATIONS.get(name)
    verb = name.rsplit("/", 1)[-1].lower()
    if known is not None:
        resource_type, action = known
        if verb == "write" and action == "create" and not created:
            action = "modify"
        return resource_type, action
    lowered = name.lower()
    action = _verb_action(lowered)
    if action == "create" and not created:
        action = "modify"
    if not lowered.startswith(_COMPUTE_PROVIDERS):
        return None, action
    segments = lowered.split("/")[1:-1]
    for segment in segments:
        if segment in _TYPES_BY_SEGMENT:
            return _TYPES_BY_SEGMENT[segment], action
    return None, action


def _verb_action(lowered: str) -> str:
    parts = lowered.rsplit("/", 2)
    verb = parts[-1]
    if verb == "write":
        return "create"
    if verb in ("delete", "read"):
        return verb
    if verb == "action" and len(parts) == 3:
        return _ACTION_VERBS.get(parts[-2], "other")
    return "other"


def resource_type_of_arm_id(resource_id: str) -> str | None:
    """Return the compute resource type an ARM id names (its last typed segment), or ``None``.

    A child's type is its parent's (an extension's is the machine's).
    """
    lowered = resource_id.lower()
    _, sep, rest = lowered.partition("/providers/")
    if not sep:
        return None
    parts = rest.split("/")
    return _TYPES_BY_SEGMENT.get(parts[1]) if len(parts) > 2 else None


def _arm(value: str) -> str | None:
    match = _ARM_ID.fullmatch(value.strip()) if value.startswith("/") else None
    if match is None:
        return None
    lowered = match.group(0).lower()
    # keep the resource itself, not its children (a VM, not its extension)
    parts = lowered.split("/")
    return "/".join(parts[:9]) if len(parts) > 9 else lowered


def arm_ids(resource_id: str | None, *bodies: Any) -> list[str]:
    """Return the compute ARM ids a record names: its resource first, then its bodies' ids.

    ``bodies`` are the parsed request and response bodies; every string in them that is a
    whole compute or network ARM id is kept (a disk's ``creationData.sourceResourceId``,
    a machine's ``managedDisk.id``), lower case, without repeats, at most 256.
    """
    seen: dict[str, None] = {}
    if resource_id:
        own = _arm(resource_id)
        if own is not None:
            seen[own] = None
    return gather_ids(seen, bodies, _arm, _MAX_IDS)


def modified_attribute_azure(
    operation: str, request: Any, resource_id: str | None = None
) -> str | None:
    """Return what code-running attribute an operation changes, if any.

    ``runCommand`` for run commands; ``customScript`` for a Custom Script extension (its
    request body's ``properties.type``, else its name in ``resource_id``, as Stratus Red
    Team's ``CustomScriptExtension-...`` and the portal's ``customScript`` are named),
    ``extension`` for other machine extensions; ``customData``/``userData`` when a
    machine's request body sets them.
    """
    name = canonical_operation(operation)
    if "/runCommand" in name:
        return "runCommand"
    if "/extensions/" in name:
        return "customScript" if _custom_script(request, resource_id) else "extension"
    if name == "Microsoft.Compute/virtualMachines/write" and isinstance(request, dict):
        properties = request.get("properties")
        profile = properties.get("osProfile") if isinstance(properties, dict) else None
        if isinstance(profile, dict):
            for key in _CODE_KEYS:
                if profile.get(key):
                    return key
        if isinstance(properties, dict) and properties.get("userData"):
            return "userData"
    return None


def _custom_script(request: Any, resource_id: str | None) -> bool:
    properties = request.get("properties") if isinstance(request, dict) else None
    kind = properties.get("type") if isinstance(properties, dict) else None
    if isinstance(kind, str):
        return kind.lower() in _CUSTOM_SCRIPT_TYPES
    extension = (resource_id or "").rstrip("/").rsplit("/", 1)[-1].lower()
    return "customscript" in extension


def share_targets_azure(operation: str, request: Any, own_subscription: str | None) -> list[str]:
    """Return whom an operation shares a disk, snapshot or gallery with.

    ``beginGetAccess`` gives ``["link"]`` (:data:`LINK`); ``galleries/share/action``
    with ``operationType: Add`` gives the subscriptions it names, ``tenant:<id>`` for
    tenants and ``all`` for the community gallery. Anything else gives ``[]``.
    """
    name = canonical_operation(operation)
    if name.endswith("/beginGetAccess/action"):
        return [LINK]
    if name != "Microsoft.Compute/galleries/share/action" or not isinstance(request, dict):
        return []
    operation_type = request.get("operationType")
    if not isinstance(operation_type, str) or operation_type.lower() != "add":
        return []
    targets: dict[str, None] = {}
    groups = request.get("groups")
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict):
            continue
        kind = str(group.get("type", "")).lower()
        if kind == "community":
            targets.setdefault("all", None)
            continue
        ids = group.get("ids")
        for one in ids if isinstance(ids, list) else []:
            if not isinstance(one, str) or not one:
                continue
            target = f"tenant:{one.lower()}" if kind == "aadtenants" else one.lower()
            if target != own_subscription:
                targets.setdefault(target, None)
    return list(targets)
