"""The simulated organisation as Azure Activity Log, in a storage account's export layout.

Each compute operation of a simulated call (:func:`._render_ops.ops_of`) becomes the
two records the Activity Log keeps of a write: ``Start`` (with the request body) and
``Success`` or ``Failure`` (with the status, ``Created`` for a creation), in the
resource-log shape diagnostic settings write to a storage account, one record a line, in
``insights-activity-logs/resourceId=/SUBSCRIPTIONS/<SUB>/y=YYYY/m=MM/d=DD/h=HH/m=00/
PT1H.json``. Reads are not recorded (the Activity Log keeps no GETs). See ADR 0054.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

import orjson

from training.simulation._render_names import (
    DOMAIN,
    Actor,
    azure_location,
    subscription_of,
)
from training.simulation._render_ops import Op, size_class

__all__ = ["TENANT", "azure_key", "azure_path", "azure_records", "guid"]

TENANT: Final = "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
"""The simulated organisation's Entra ID tenant."""
_GROUP: Final = "rg-compute"
_IDENTITIES: Final = "rg-identities"
_GALLERY: Final = "northwind_gallery"
_APPS: Final = (
    ("Mozilla/", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),  # the portal
    ("aws-cli/", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),  # Azure CLI
    ("Boto3/", "1950a258-227b-4e31-a9cf-717495945fc2"),  # Azure PowerShell
)
_SDK_APP: Final = "872cd9fa-d31f-45e0-9eab-6e460a02d1f1"
_PROVIDERS: Final[Mapping[str, str]] = {
    "autoscaling.amazonaws.com": "Microsoft.Insights/autoscaleSettings",
    "backup.amazonaws.com": "Microsoft.RecoveryServices/vaults",
    "config.amazonaws.com": "Microsoft.PolicyInsights/policyStates",
}
# (kind, verb) -> (resource collection under Microsoft.Compute, operation suffix)
_OPERATIONS: Final[Mapping[tuple[str, str], tuple[str, str]]] = {
    ("instance", "create"): ("virtualMachines", "write"),
    ("instance", "delete"): ("virtualMachines", "delete"),
    ("instance", "start"): ("virtualMachines", "start/action"),
    ("instance", "stop"): ("virtualMachines", "deallocate/action"),
    ("instance", "restart"): ("virtualMachines", "restart/action"),
    ("instance", "modify"): ("virtualMachines", "write"),
    ("instance", "code"): ("virtualMachines", "write"),
    ("instance", "command"): ("virtualMachines", "runCommand/action"),
    ("instance", "ssh"): ("virtualMachines", "extensions/write"),
    ("disk", "create"): ("disks", "write"),
    ("disk", "delete"): ("disks", "delete"),
    ("disk", "attach"): ("virtualMachines", "attachDetachDataDisks/action"),
    ("disk", "detach"): ("virtualMachines", "attachDetachDataDisks/action"),
    ("snapshot", "create"): ("snapshots", "write"),
    ("snapshot", "delete"): ("snapshots", "delete"),
    ("snapshot", "share"): ("snapshots", "beginGetAccess/action"),
    ("snapshot", "unshare"): ("snapshots", "endGetAccess/action"),
    ("snapshot", "export"): ("snapshots", "beginGetAccess/action"),
    ("image", "create"): ("images", "write"),
    ("image", "delete"): ("images", "delete"),
    ("image", "share"): ("galleries", "share/action"),
    ("image", "unshare"): ("galleries", "share/action"),
    ("firewall", "create"): ("networkSecurityGroups", "securityRules/write"),
    ("firewall", "delete"): ("networkSecurityGroups", "securityRules/delete"),
    ("sshkey", "create"): ("sshPublicKeys", "write"),
    ("sshkey", "delete"): ("sshPublicKeys", "delete"),
    ("template", "create"): ("virtualMachineScaleSets", "write"),
    ("template", "modify"): ("virtualMachineScaleSets", "write"),
    ("group", "modify"): ("virtualMachineScaleSets", "write"),
    ("group", "restart"): ("virtualMachineScaleSets", "manualUpgrade/action"),
    ("serial", "ssh"): ("virtualMachines", "serialPorts/connect/action"),
}
_CREATES: Final = frozenset({"create"})


def guid(text: str) -> str:
    """Return a GUID made from ``text`` (the same text, the same GUID)."""
    h = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _identity_id(actor: Actor) -> str:
    sub = subscription_of(actor.account)
    name = actor.name.lower()
    return (
        f"/subscriptions/{sub}/resourcegroups/{_IDENTITIES}/providers/"
        f"microsoft.managedidentity/userassignedidentities/{name}"
    )


def azure_key(actor: Actor) -> str:
    """Return the identity key the Azure reader gives an actor (patterns keep their ``*``)."""
    if actor.kind == "person":
        return f"azure:user:{actor.name}"
    if actor.kind == "user":
        return f"azure:user:{actor.name.lower()}@{DOMAIN}"
    if actor.kind == "service":
        return f"azure:service:{_PROVIDERS.get(actor.name, 'Microsoft.Compute')}"
    return f"azure:mi:{_identity_id(actor)}"


def _claims(actor: Actor, agent: str, ip: str) -> tuple[dict[str, Any], str]:
    """Return the token's claims and the record's ``caller``."""
    if actor.kind == "service":
        return {}, _PROVIDERS.get(actor.name, "Microsoft.Compute")
    base = {"http://schemas.microsoft.com/identity/claims/tenantid": TENANT, "ipaddr": ip}
    if actor.kind in ("person", "user"):
        upn = actor.name if actor.kind == "person" else f"{actor.name.lower()}@{DOMAIN}"
        app = next((a for prefix, a in _APPS if agent.startswith(prefix)), _SDK_APP)
        return base | {
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn,
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": upn,
            "http://schemas.microsoft.com/identity/claims/objectidentifier": guid(upn),
            "appid": app,
            "http://schemas.microsoft.com/claims/authnmethodsreferences": (
                "pwd,mfa" if actor.kind == "person" else "pwd"
            ),
        }, upn
    mirid = _identity_id(actor)
    return base | {
        "appid": guid(f"app:{mirid}"),
        "idtyp": "app",
        "xms_mirid": mirid,
        "http://schemas.microsoft.com/identity/claims/objectidentifier": guid(f"oid:{mirid}"),
    }, guid(f"oid:{mirid}")


def _arm(sub: str, collection: str, name: str) -> str:
    group = f"/subscriptions/{sub}/resourceGroups/{_GROUP}"
    return f"{group}/providers/Microsoft.Compute/{collection}/{name}"


_SIZES: Final[Mapping[str, str]] = {
    "gpu": "Standard_NC24ads_A100_v4",
    "medium": "Standard_B2s",
    "large": "Standard_D2s_v5",
    "xlarge": "Standard_D4s_v5",
    "big": "Standard_D8s_v5",
}


def _target(op: Op, sub: str, foreign: set[str]) -> tuple[str, str, dict[str, Any] | None] | None:
    """Return (resource id, operation, request body) of an operation, or ``None`` to drop it."""
    found = _OPERATIONS.get((op.kind, op.verb))
    if found is None:
        return None
    collection, suffix = found
    body: dict[str, Any] | None = None
    resource = _arm(sub, collection, op.name)
    if op.kind == "disk" and op.verb in ("attach", "detach"):
        resource = _arm(sub, "virtualMachines", op.source or "vm")
        key = "dataDisksToAttach" if op.verb == "attach" else "dataDisksToDetach"
        body = {key: [{"diskId": _arm(sub, "disks", op.name), "lun": 1}]}
    elif op.kind == "instance" and op.verb == "create":
        body = {
            "properties": {
                "hardwareProfile": {"vmSize": _SIZES[size_class(op.detail.get("type", ""))]}
            }
        }
    elif op.kind == "instance" and op.verb == "code":
        body = {"properties": {"userData": "IyEvYmluL2Jhc2gK"}}
    elif op.kind == "instance" and op.verb == "ssh":
        resource = f"{resource}/extensions/enablevmaccess"
        body = {"properties": {"type": "VMAccessForLinux", "protectedSettings": {}}}
    elif op.kind == "serial":
        resource = f"{resource}/providers/Microsoft.SerialConsole/serialPorts/0"
        return resource, "Microsoft.SerialConsole/serialPorts/connect/action", None
    elif op.kind in ("disk", "snapshot") and op.verb == "create":
        collection_of = "snapshots" if op.kind == "disk" else "disks"
        option = "Copy" if op.source else "Empty"
        made = {"createOption": option}
        if op.source:
            made["sourceResourceId"] = _arm(sub, collection_of, op.source)
        body = {"properties": {"creationData": made}}
    elif op.kind == "snapshot" and op.verb == "share" and op.target not in foreign:
        return None  # within the tenant: a role assignment, not a compute operation
    elif op.kind == "image" and op.verb == "create" and op.source.startswith("i-"):
        body = {
            "properties": {"sourceVirtualMachine": {"id": _arm(sub, "virtualMachines", op.source)}}
        }
    elif op.kind == "image" and op.verb in ("share", "unshare"):
        resource = _arm(sub, "galleries", _GALLERY)
        group = (
            {"type": "Community"}
            if op.target == "all"
            else {"type": "Subscriptions", "ids": [subscription_of(op.target)]}
        )
        body = {"operationType": "Add" if op.verb == "share" else "Remove", "groups": [group]}
    elif op.kind == "firewall":
        resource = f"{_arm(sub, collection, op.name.rsplit('-', 1)[0])}/securityRules/{op.name}"
        resource = resource.replace(
            "Microsoft.Compute/networkSecurityGroups", "Microsoft.Network/networkSecurityGroups"
        )
        rule = {"protocol": "Tcp", "access": "Allow", "direction": "Inbound"}
        body = {
            "properties": rule
            | {
                "sourceAddressPrefix": op.detail.get("cidr", "*"),
                "destinationPortRange": str(op.detail.get("port", "*")),
            }
        }
        return resource, f"Microsoft.Network/networkSecurityGroups/{suffix}", body
    return resource, f"Microsoft.Compute/{collection}/{suffix}", body


def azure_records(
    record: dict[str, Any], ops: list[Op], actor: Actor, foreign: set[str], serial: int
) -> list[dict[str, Any]]:
    """Return the Activity Log records of one simulated call's operations."""
    sub = subscription_of(str(record["recipientAccountId"]))
    claims, caller = _claims(
        actor, str(record.get("userAgent", "")), str(record["sourceIPAddress"])
    )
    ip = "" if actor.kind == "service" else str(record["sourceIPAddress"])
    failed = record.get("errorCode")
    out: list[dict[str, Any]] = []
    for index, op in enumerate(ops):
        found = _target(op, sub, foreign)
        if found is None:
            continue
        resource, operation, body = found
        correlation = guid(f"{record['eventID']}:{index}:{serial}")
        common = {
            "time": record["eventTime"],
            "resourceId": resource.upper(),
            "operationName": operation.upper(),
            "category": "Administrative",
            "callerIpAddress": ip,
            "correlationId": correlation,
            "identity": {"claims": claims} if claims else {},
            "caller": caller,
            "level": "Information",
            "location": azure_location(str(record["awsRegion"])),
            "tenantId": TENANT,
        }
        started = common | {
            "resultType": "Start",
            "resultSignature": "Started.",
            "durationMs": "0",
            "properties": {"statusCode": "Started", "serviceRequestId": correlation}
            | ({"requestbody": orjson.dumps(body).decode()} if body else {}),
        }
        if failed:
            status = "Forbidden" if "Unauthorized" in str(failed) else "BadRequest"
            result, signature = "Failure", f"Failed.{status}"
        else:
            status = "Created" if op.verb in _CREATES else "OK"
            result, signature = "Success", f"Succeeded.{status}"
        finished = common | {
            "resultType": result,
            "resultSignature": signature,
            "durationMs": "1342",
            "properties": {"statusCode": status, "serviceRequestId": correlation},
        }
        out.extend((started, finished))
    return out


def azure_path(subscription: str, when: str) -> str:
    """Return the storage-account path of the hour file holding a record of ``when``."""
    y, m, d, h = when[0:4], when[5:7], when[8:10], when[11:13]
    return (
        f"insights-activity-logs/resourceId=/SUBSCRIPTIONS/{subscription.upper()}/"
        f"y={y}/m={m}/d={d}/h={h}/m=00/PT1H.json"
    )
