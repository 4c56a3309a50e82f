"""Google Cloud's compute taxonomy: which resource an audit-log method touches and what it does.

Compute Engine methods read ``v1.compute.<collection>.<method>`` (``beta.`` and
``alpha.`` for the other API versions); the canonical table keeps them without the API
version (:func:`canonical_method`), so the console's ``beta`` call and ``gcloud``'s
``v1`` call of the same method are one event name. The taxonomy mirrors the AWS one
(:mod:`features._taxonomy`):

* collections map to resource types (``instances`` -> instance, ``disks`` -> volume,
  ``snapshots`` -> snapshot, ``images`` and ``machineImages`` -> image, instance
  templates -> launch template, managed instance groups -> auto-scaling group,
  ``firewalls`` -> security group, ``addresses`` -> elastic IP);
* methods map to actions (``insert`` create, ``delete`` delete, ``get``/``list`` read,
  ``start``/``resume`` start, ``stop``/``suspend`` stop, ``attachDisk`` attach, ``set*``,
  ``patch``, ``update``, ``resize`` modify); ``disks.createSnapshot`` makes a snapshot;
* ``setIamPolicy`` on a disk, snapshot, image or machine image is a ``share`` when its
  bindings name anyone: ``allUsers`` and ``allAuthenticatedUsers`` are ``all`` (the
  public), other members are kept as written (``user:x@example.com``,
  ``domain:example.com``, ``serviceAccount:...``) for the change policy's
  organisation to judge;
* ``instances.setMetadata`` and ``projects.setCommonInstanceMetadata`` changing a
  ``startup-script`` (or ``startup-script-url``, ``windows-startup-script-*``) run code
  at boot: the attribute ``startup-script`` (as AWS ``userData``); ``ssh-keys`` changes
  are the attribute ``ssh-keys``.

Resource ids are paths relative to the API, ``projects/<project>/zones/<zone>/disks/<name>``
or ``projects/<project>/global/snapshots/<name>``; their type is plain from the id
(:func:`resource_type_of_gcp_id`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from features._fields import gather_ids

__all__ = [
    "COMPUTE_SERVICE",
    "canonical_method",
    "classify_gcp",
    "gcp_ids",
    "modified_attribute_gcp",
    "resource_type_of_gcp_id",
    "share_targets_gcp",
]

COMPUTE_SERVICE: Final = "compute.googleapis.com"
"""The service of Compute Engine's audit logs."""

_I, _V, _S, _A = "instance", "volume", "snapshot", "image"
_COLLECTIONS: Final[Mapping[str, str]] = {
    "instances": _I,
    "disks": _V,
    "regionDisks": _V,
    "snapshots": _S,
    "images": _A,
    "machineImages": _A,
    "instanceTemplates": "launch_template",
    "regionInstanceTemplates": "launch_template",
    "instanceGroupManagers": "autoscaling_group",
    "regionInstanceGroupManagers": "autoscaling_group",
    "autoscalers": "autoscaling_group",
    "regionAutoscalers": "autoscaling_group",
    "instanceGroups": "autoscaling_group",
    "firewalls": "security_group",
    "addresses": "elastic_ip",
    "globalAddresses": "elastic_ip",
    "reservations": "capacity_reservation",
    "nodeGroups": "dedicated_host",
    "resourcePolicies": "placement_group",
    "projects": "account_setting",
}
_METHODS: Final[Mapping[str, str]] = {
    "insert": "create",
    "bulkInsert": "create",
    "createSnapshot": "create",
    "delete": "delete",
    "deleteInstances": "delete",
    "abandonInstances": "detach",
    "get": "read",
    "list": "read",
    "aggregatedList": "read",
    "getIamPolicy": "read",
    "testIamPermissions": "read",
    "getSerialPortOutput": "read",
    "getScreenshot": "read",
    "getGuestAttributes": "read",
    "getEffectiveFirewalls": "read",
    "start": "start",
    "resume": "start",
    "startWithEncryptionKey": "start",
    "stop": "stop",
    "suspend": "stop",
    "reset": "other",
    "attachDisk": "attach",
    "detachDisk": "detach",
    "addAccessConfig": "attach",
    "deleteAccessConfig": "detach",
    "setIamPolicy": "modify",
    "setMetadata": "modify",
    "setCommonInstanceMetadata": "modify",
    "setLabels": "modify",
    "setTags": "modify",
    "setMachineType": "modify",
    "setServiceAccount": "modify",
    "setScheduling": "modify",
    "setDeletionProtection": "modify",
    "deprecate": "modify",
    "resize": "modify",
    "patch": "modify",
    "update": "modify",
    "recreateInstances": "modify",
    "setInstanceTemplate": "modify",
    "setTargetPools": "modify",
}
_SHARED_COLLECTIONS: Final = frozenset(
    {"disks", "regionDisks", "snapshots", "images", "machineImages"}
)
_PUBLIC: Final = frozenset({"allUsers", "allAuthenticatedUsers"})
_VERSION: Final = re.compile(r"^(?:v\d+|beta|alpha)\.")
_CAMEL_VERB: Final = re.compile(r"^([A-Z][a-z]+)")
_PLAIN_VERBS: Final[Mapping[str, str]] = {
    "create": "create",
    "insert": "create",
    "delete": "delete",
    "get": "read",
    "list": "read",
    "search": "read",
    "patch": "modify",
    "update": "modify",
    "set": "modify",
    "add": "modify",
    "remove": "delete",
    "enable": "modify",
    "disable": "modify",
    "undelete": "create",
    "generate": "create",
    "sign": "other",
}
_RESOURCE: Final = re.compile(
    r"projects/([^/\s\"]+)/(?:(?:zones|regions)/[^/\s\"]+|global)/([A-Za-z]+)/([^/\s\"]+)"
)
_RELATIVE: Final = re.compile(r"^(?:zones|regions)/[^/]+/[A-Za-z]+/[^/]+$|^global/[A-Za-z]+/[^/]+$")
_MAX_IDS: Final = 256
_STARTUP: Final = re.compile(r"^(?:startup-script(?:-url)?|windows-startup-script-\w+)$")
_SSH: Final = frozenset({"ssh-keys", "sshKeys", "block-project-ssh-keys", "enable-oslogin"})


@lru_cache(maxsize=4096)
def canonical_method(method: str) -> str:
    """Return a method name without its API version (``v1.``, ``beta.``, ``alpha.``).

    Examples
    --------
    >>> canonical_method("beta.compute.instances.insert")
    'compute.instances.insert'
    """
    return _VERSION.sub("", method, count=1)


def _parts(method: str) -> tuple[str, str] | None:
    """Return ``(collection, method)`` of a Compute Engine method; ``None`` for other services."""
    name = canonical_method(method)
    if not name.startswith("compute."):
        return None
    pieces = name.split(".")
    if len(pieces) < 3:
        return None
    return pieces[-2], pieces[-1]


@lru_cache(maxsize=4096)
def classify_gcp(service: str | None, method: str) -> tuple[str | None, str]:
    """Return ``(resource_type, action)`` of an audit-log method before reading its request.

    Share detection needs the request (:func:`share_targets_gcp`).
    """
    parts = _parts(method) if service in (None, COMPUTE_SERVICE) else None
    if parts is None:
        return None, _verb_action(method)
    collection, verb = parts
    action = _METHODS.get(verb) or _verb_action(verb)
    if verb == "createSnapshot":
        return _S, "create"
    if verb in ("attachDisk", "detachDisk"):
        return _V, action
    return _COLLECTIONS.get(collection), action


def _verb_action(method: str) -> str:
    last = method.rsplit(".", 1)[-1]
    match = _CAMEL_VERB.match(last)
    word = match.group(1).lower() if match is not None else re.split(r"[A-Z]", last, maxsplit=1)[0]
    return _PLAIN_VERBS.get(word, "other")


def resource_type_of_gcp_id(resource_id: str) -> str | None:
    """Return the compute resource type a ``projects/...`` path names, or ``None``."""
    match = _RESOURCE.match(resource_id)
    return _COLLECTIONS.get(match.group(2)) if match else None


def _normal(value: str, project: str | None) -> str | None:
    """Return a resource path, URL or relative path as ``projects/...``; else ``None``."""
    at = value.find("projects/")
    if at >= 0:
        match = _RESOURCE.match(value, at)
        return match.group(0) if match else None
    if project and _RELATIVE.match(value):
        return f"projects/{project}/{value}"
    return None


def gcp_ids(
    resource_name: str | None, project: str | None, method: str, request: Any, response: Any
) -> list[str]:
    """Return the compute resource paths a call names: its resource first, then the others.

    A numeric project in the resource name is replaced by the entry's project id. The
    snapshot ``disks.createSnapshot`` makes is named from its request; the boot disk an
    ``instances.insert`` makes from a snapshot is named after its device (or instance).
    """
    seen: dict[str, None] = {}
    own = _normal(resource_name, project) if resource_name else None
    if own is not None and project:
        head, _, tail = own.partition("/")[2].partition("/")
        if head.isdigit():
            own = f"projects/{project}/{tail}"
    if own is not None:
        seen[own] = None
    parts = _parts(method)
    if parts is not None and isinstance(request, dict):
        seen.update(dict.fromkeys(_made_by(parts, own, project, request)))

    def compute(value: str) -> str | None:
        found = _normal(value, project)
        return found if found is not None and resource_type_of_gcp_id(found) else None

    return gather_ids(seen, (request, response), compute, _MAX_IDS)


def _made_by(
    parts: tuple[str, str], own: str | None, project: str | None, request: dict[str, Any]
) -> list[str]:
    """Resources a call makes that no field of its request names as a path."""
    collection, verb = parts
    name = request.get("name")
    if verb == "createSnapshot" and isinstance(name, str) and project:
        return [f"projects/{project}/global/snapshots/{name}"]
    if collection != "instances" or verb != "insert" or own is None:
        return []
    made: list[str] = []
    zone_path = own.rsplit("/instances/", 1)[0]
    disks = request.get("disks")
    for disk in disks if isinstance(disks, list) else []:
        if not isinstance(disk, dict) or disk.get("source"):
            continue
        params = disk.get("initializeParams")
        if isinstance(params, dict) and params.get("sourceSnapshot"):
            disk_name = params.get("diskName") or disk.get("deviceName") or own.rsplit("/", 1)[-1]
            made.append(f"{zone_path}/disks/{disk_name}")
    return made


def modified_attribute_gcp(method: str, request: Any, metadata: Any = None) -> str | None:
    """Return what a change of an instance's metadata or machine type sets, else ``None``.

    ``startup-script`` or ``ssh-keys`` when a metadata change adds or modifies them
    (``metadata`` for other keys); ``instanceType`` for ``instances.setMachineType`` (as
    AWS's ``ModifyInstanceAttribute instanceType``). The keys are read where Compute Engine
    writes them, the audit entry's ``protoPayload.metadata`` (``instanceMetadataDelta`` or
    ``projectMetadataDelta``: ``addedMetadataKeys``, ``modifiedMetadataKeys``), and from the
    request's ``metadata.items`` when a request carries them.

    A read of one instance (``instances.get``, a Data Access entry) is ``startup-script``
    too: the instance it returns carries its metadata, startup scripts included, as AWS's
    ``DescribeInstanceAttribute userData`` returns user data (ADR 0056). Lists are not:
    they are how tools and the console enumerate, not how one instance's secrets are read.
    """
    parts = _parts(method)
    if parts is not None and parts == ("instances", "setMachineType"):
        return "instanceType"
    if parts is not None and parts == ("instances", "get"):
        return "startup-script"
    if parts is None or parts[1] not in ("setMetadata", "setCommonInstanceMetadata"):
        return None
    keys = _metadata_keys(request) | _delta_keys(metadata)
    if any(_STARTUP.match(key) for key in keys):
        return "startup-script"
    if keys & _SSH:
        return "ssh-keys"
    return "metadata"


def _metadata_keys(request: Any) -> set[str]:
    if not isinstance(request, dict):
        return set()
    metadata = request.get("metadata", request)
    items = metadata.get("items") if isinstance(metadata, dict) else None
    keys: set[str] = set()
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            keys.add(item["key"])
    return keys


def _delta_keys(metadata: Any) -> set[str]:
    """Keys added or modified, from an audit entry's ``protoPayload.metadata``."""
    keys: set[str] = set()
    if not isinstance(metadata, dict):
        return keys
    for scope in ("instanceMetadataDelta", "projectMetadataDelta"):
        delta = metadata.get(scope)
        if not isinstance(delta, dict):
            continue
        for field in ("addedMetadataKeys", "modifiedMetadataKeys"):
            named = delta.get(field)
            for key in named if isinstance(named, list) else []:
                if isinstance(key, str) and key.split():
                    keys.add(key.split()[0])
    return keys


def share_targets_gcp(method: str, request: Any) -> list[str]:
    """Return whom a ``setIamPolicy`` on a disk, snapshot, image or machine image grants.

    ``all`` for ``allUsers``/``allAuthenticatedUsers``; every other member as written
    (``user:``, ``group:``, ``domain:``, ``serviceAccount:`` in lower case). ``[]`` for
    other methods or a policy without members.
    """
    parts = _parts(method)
    if parts is None or parts[1] != "setIamPolicy" or parts[0] not in _SHARED_COLLECTIONS:
        return []
    if not isinstance(request, dict):
        return []
    policy = request.get("policy")
    bindings = policy.get("bindings") if isinstance(policy, dict) else None
    targets: dict[str, None] = {}
    for binding in bindings if isinstance(bindings, list) else []:
        members = binding.get("members") if isinstance(binding, dict) else None
        for member in members if isinstance(members, list) else []:
            if not isinstance(member, str) or not member:
                continue
            targets.setdefault("all" if member in _PUBLIC else member.lower(), None)
    return list(targets)
