"""What a call's parameters say that the rules judge: its attribute, whom it grants, what it opens.

:func:`call_attribute` fills the canonical ``attribute`` column. Its vocabulary:

* ``Modify*Attribute``, ``Reset*Attribute`` and ``DescribeInstanceAttribute``: the name of
  the attribute changed or read (``userData``, ``instanceType``, ``disableApiTermination``,
  ``createVolumePermission``, ``launchPermission``, ``restore`` for RDS snapshots). A call
  that only *removes* a snapshot or image permission is ``createVolumePermission=remove``
  (``launchPermission=remove``).
* ``CreateLaunchTemplate`` and ``CreateLaunchTemplateVersion`` whose template data carries
  user data: ``userData``.
* Launches (``RunInstances``, ``RequestSpotInstances``, ``RequestSpotFleet``,
  ``CreateFleet``): ``instanceType=p2.xlarge``, the instance types asked for or launched,
  sorted and comma-separated.
* A security-group ingress rule that opens a remote-administration port
  (:data:`ADMIN_PORTS`: SSH, Telnet, RDP, VNC, WinRM) to the whole internet (a ``/0``
  source): ``worldAdminIngress=tcp/22``, each protocol and port (or range,
  ``tcp/0-65535``; ``all`` for every protocol) so opened, sorted and comma-separated.
  Other ports opened to the world (a web server's 443) are not recorded.

Where the rules judge a value, it follows the attribute's name after ``=``
(``docs/adr/0035-compute-rule-content.md``). :func:`share_targets` says whom a snapshot or
image permission grants (EC2, EBS and RDS).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

__all__ = [
    "ADMIN_PORTS",
    "LAUNCHES",
    "call_attribute",
    "instance_types",
    "modified_attribute",
    "share_targets",
    "world_admin_ingress",
]

LAUNCHES: Final = frozenset(
    {"RunInstances", "RequestSpotInstances", "RequestSpotFleet", "CreateFleet"}
)
"""Calls that launch instances of a type the request (or the response) names."""
ADMIN_PORTS: Final = frozenset({22, 23, 3389, 5900, 5985, 5986})
"""Remote-administration ports: SSH, Telnet, RDP, VNC, WinRM (HTTP and HTTPS)."""
_TEMPLATES: Final = frozenset({"CreateLaunchTemplate", "CreateLaunchTemplateVersion"})
_INGRESS: Final = frozenset({"AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"})
_SHARE_ATTRIBUTES: Final = ("createVolumePermission", "launchPermission", "loadPermission")
_SHARE_EVENTS: Final = frozenset(
    {"ModifySnapshotAttribute", "ModifyImageAttribute", "ModifyFpgaImageAttribute"}
)
_DB_SHARE_EVENTS: Final = frozenset(
    {"ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"}
)
_ID_KEYS: Final = frozenset(
    {
        "instanceId",
        "volumeId",
        "snapshotId",
        "imageId",
        "fpgaImageId",
        "networkInterfaceId",
        "attributeType",
        "attribute",
        "operationType",
        "dryRun",
        "DryRun",
    }
)
_TYPE_KEYS: Final = frozenset({"instanceType", "InstanceType"})
_USER_DATA_KEYS: Final = frozenset({"userData", "UserData"})
_CIDR_KEYS: Final = frozenset({"cidrIp", "cidrIpv4", "cidrIpv6", "CidrIp", "CidrIpv4", "CidrIpv6"})
_PORT_KEYS: Final = {
    "protocol": ("ipProtocol", "IpProtocol"),
    "from": ("fromPort", "FromPort"),
    "to": ("toPort", "ToPort"),
}
_MAX_NODES: Final = 4096
"""At most this many values of one request are walked (a hostile request stays cheap)."""
_MAX_VALUES: Final = 32
"""At most this many instance types or open ports are kept."""


def _values_of(value: Any, keys: frozenset[str]) -> list[Any]:
    """Return the values of every key in ``keys`` of nested dicts and lists, depth first, bounded.

    One loop, no generator: the parameters of a launch hold dozens of keys, and this
    runs for every launch of a trail.
    """
    found: list[Any] = []
    stack: list[Any] = [value]
    seen = 0
    while stack and seen < _MAX_NODES:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            for key, child in node.items():
                if key in keys:
                    found.append(child)
                if isinstance(child, dict | list):
                    stack.append(child)
        elif isinstance(node, list):
            stack.extend(child for child in node if isinstance(child, dict | list))
    return found


def _text(value: Any) -> str | None:
    """Return a string, or the string inside ``{"value": ...}`` / ``{"content": ...}``."""
    if isinstance(value, dict):
        value = value.get("value", value.get("content"))
    return value if isinstance(value, str) and value else None


def instance_types(request: Any, response: Any) -> list[str]:
    """Return the instance types a launch asks for or got, sorted, without repeats."""
    found: set[str] = set()
    for part in (request, response):
        for value in _values_of(part, _TYPE_KEYS):
            if (text := _text(value)) is not None:
                found.add(text)
                if len(found) >= _MAX_VALUES:
                    return sorted(found)
    return sorted(found)


def _port(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _opening(rule: dict[str, Any]) -> dict[str, Any]:
    """Return the protocol and ports a dict states, by the names of :data:`_PORT_KEYS`."""
    found: dict[str, Any] = {}
    for name, keys in _PORT_KEYS.items():
        for key in keys:
            if key in rule:
                found[name] = rule[key]
    return found


def _token(opening: dict[str, Any]) -> str | None:
    """``tcp/22``, ``udp/3380-3390``, ``all``; ``None`` when no admin port is in it."""
    protocol = str(opening.get("protocol", "-1")).lower()
    if protocol in ("-1", "all"):
        return "all"
    if protocol not in ("tcp", "udp", "6", "17"):
        return None  # ICMP and the like carry no ports
    first, last = _port(opening.get("from")), _port(opening.get("to"))
    if first is None or first < 0:
        first, last = 0, 65535
    last = first if last is None or last < 0 else last
    if not any(first <= port <= last for port in ADMIN_PORTS):
        return None
    name = {"6": "tcp", "17": "udp"}.get(protocol, protocol)
    return f"{name}/{first}" if first == last else f"{name}/{first}-{last}"


def _world(value: Any) -> bool:
    return isinstance(value, str) and value.strip().endswith("/0")


def world_admin_ingress(request: Any, response: Any) -> list[str]:
    """Return the admin ports a security-group ingress call opens to the whole internet.

    A source CIDR with prefix length 0 (``0.0.0.0/0``, ``::/0``; the anonymised
    ``208.236.235.254/0`` of public recordings too) is the whole internet. The protocol
    and ports are those of the rule that names the CIDR, or of the dict around it
    (``ipPermissions`` items, the top level of the request, the response's
    ``securityGroupRuleSet``). Egress rules of the response are left out.
    """
    tokens: set[str] = set()
    for part in (request, response):
        stack: list[tuple[Any, dict[str, Any]]] = [(part, {})]
        seen = 0
        while stack and seen < _MAX_NODES:
            node, around = stack.pop()
            seen += 1
            if isinstance(node, list):
                stack.extend((child, around) for child in node)
                continue
            if not isinstance(node, dict) or node.get("isEgress") is True:
                continue
            here = {**around, **_opening(node)}
            if any(_world(node.get(key)) for key in _CIDR_KEYS):
                token = _token(here)
                if token is not None:
                    tokens.add(token)
            stack.extend((child, here) for child in node.values() if isinstance(child, dict | list))
    return sorted(tokens)[:_MAX_VALUES]


def _camel(name: str) -> str:
    """``CREATE_VOLUME_PERMISSION`` -> ``createVolumePermission``; other names unchanged."""
    if "_" in name or name.isupper():
        head, *rest = name.lower().split("_")
        return head + "".join(word.capitalize() for word in rest)
    return name


def modified_attribute(event_name: str, request: Any) -> str | None:
    """Return which attribute a ``Modify*Attribute`` / ``Reset*Attribute`` call changes.

    ``ModifyInstanceAttribute`` names it either as ``attribute`` or as the one key
    besides the instance id (``{"instanceId": ..., "userData": ...}``); snapshot and
    image calls as ``attributeType``; RDS snapshot calls as ``attributeName``. Also
    ``DescribeInstanceAttribute``'s ``attribute``. Returns ``None`` for other calls.
    """
    if not isinstance(request, dict) or not event_name.endswith("Attribute"):
        return None
    for key in ("attribute", "attributeType", "attributeName"):
        value = request.get(key)
        if isinstance(value, str) and value:
            return _camel(value)
    for key in request:
        if key not in _ID_KEYS:
            return _camel(key)
    return None


def _permission_items(permission: Any, operation: str) -> Iterator[Any]:
    if not isinstance(permission, dict):
        return
    part = permission.get(operation, permission.get(operation.capitalize()))
    if isinstance(part, dict):
        items = part.get("items", part.get("Items"))
        if isinstance(items, list):
            yield from items
    elif isinstance(part, list):
        yield from part


def _only_removes(request: dict[str, Any]) -> bool:
    """Whether a snapshot or image permission call removes someone and grants no one."""
    removed = added = False
    for attribute in _SHARE_ATTRIBUTES:
        removed |= any(True for _ in _permission_items(request.get(attribute), "remove"))
        added |= any(True for _ in _permission_items(request.get(attribute), "add"))
    operation = request.get("operationType")
    if isinstance(operation, str):
        removed |= operation.lower() == "remove"
        added |= operation.lower() == "add"
    return removed and not added


def call_attribute(event_name: str, request: Any, response: Any) -> str | None:
    """Return the canonical ``attribute`` of a call (the vocabulary is in the module's doc)."""
    if event_name in LAUNCHES:
        types = instance_types(request, response)
        return f"instanceType={','.join(types)}" if types else None
    if event_name in _INGRESS:
        opened = world_admin_ingress(request, response)
        return f"worldAdminIngress={','.join(opened)}" if opened else None
    if event_name in _TEMPLATES:
        carries = any(_values_of(request, _USER_DATA_KEYS))
        return "userData" if carries else None
    name = modified_attribute(event_name, request)
    if name is not None and event_name in _SHARE_EVENTS and isinstance(request, dict):
        return f"{name}=remove" if _only_removes(request) else name
    return name


def _db_share_targets(request: dict[str, Any], own_account: str | None) -> list[str]:
    """Whom ``ModifyDB(Cluster)SnapshotAttribute`` lets restore the snapshot (``all``: anyone)."""
    if str(request.get("attributeName", "")).lower() != "restore":
        return []
    values = request.get("valuesToAdd")
    values = values if isinstance(values, list) else [values]
    targets: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and value and value != own_account:
            targets.setdefault(value.lower() if value.lower() == "all" else value, None)
    return list(targets)


def share_targets(event_name: str, request: Any, own_account: str | None) -> list[str]:
    """Return whom a snapshot or image permission change grants access, if anyone.

    Parameters
    ----------
    event_name : str
        Only ``ModifySnapshotAttribute``, ``ModifyImageAttribute``,
        ``ModifyFpgaImageAttribute``, ``ModifyDBSnapshotAttribute`` and
        ``ModifyDBClusterSnapshotAttribute`` (``restore``) can share; any other name
        gives ``[]``.
    request : object
        The call's ``requestParameters``.
    own_account : str or None
        The account the resource lives in; granting it is not a share.

    Returns
    -------
    list of str
        Account ids, organisation or OU ARNs, and ``"all"`` for the public, in the
        order the request names them. Empty when nothing is granted to anyone else
        (a removal, or another attribute).
    """
    if not isinstance(request, dict):
        return []
    if event_name in _DB_SHARE_EVENTS:
        return _db_share_targets(request, own_account)
    if event_name not in _SHARE_EVENTS:
        return []
    targets: dict[str, None] = {}
    items: list[Any] = []
    for attribute in _SHARE_ATTRIBUTES:
        items.extend(_permission_items(request.get(attribute), "add"))
    operation = request.get("operationType")
    if isinstance(operation, str) and operation.lower() == "add":
        # Older and SDK-shaped requests: {"operationType": "add", "userId"/"userIds"/"groups": ...}
        for key in ("userId", "userIds", "UserId", "group", "groups", "userGroup", "userGroups"):
            value = request.get(key)
            values = value if isinstance(value, list) else [value]
            for one in values:
                if isinstance(one, dict):
                    items.append(one)
                elif isinstance(one, str):
                    items.append({"group" if "roup" in key else "userId": one})
    for item in items:
        if not isinstance(item, dict):
            continue
        for key in ("userId", "group", "organizationArn", "organizationalUnitArn"):
            value = item.get(key)
            if not isinstance(value, str) or not value:
                continue
            if key == "group":
                value = value.lower()
            if value != own_account:
                targets.setdefault(value, None)
    return list(targets)
