"""The simulated organisation as Google Cloud Audit Logs, in a Cloud Storage sink's layout.

Each compute operation of a simulated call (:func:`._render_ops.ops_of`) becomes the
Admin Activity entries Compute Engine writes for it: the request (``operation.first``,
with its request body) and, when it succeeded, the completion (``operation.last``).
Reads with a Compute Engine equivalent become Data Access entries (``ADMIN_READ``, which
an organisation switches on for Compute Engine). An organisation-level sink writes one
entry a line to ``cloudaudit.googleapis.com/<log>/YYYY/MM/DD/HH:00:00_HH:59:59_S0.json``.
See ADR 0054.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from training.simulation._render_names import Actor, gcp_region, gcp_zone
from training.simulation._render_ops import Op, size_class

__all__ = ["gcp_entries", "gcp_key", "gcp_path"]

_AGENTS: Final[Mapping[str, str]] = {
    "autoscaling.amazonaws.com": "{n}@cloudservices.gserviceaccount.com",
    "backup.amazonaws.com": "service-{n}@gcp-sa-backupdr.iam.gserviceaccount.com",
    "config.amazonaws.com": "service-{n}@gcp-sa-cloudasset.iam.gserviceaccount.com",
}
_AGENTS_UA: Final = (
    ("Mozilla/", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36,gzip(gfe)"),
    ("aws-cli/", "google-cloud-sdk gcloud/463.0.0 command/gcloud.compute invocation-id/{id}"),
    ("Boto3/", "google-api-python-client/2.120.0 (gzip),gzip(gfe)"),
    (
        "APN/1.0 HashiCorp",
        "Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-google/5.20.0",
    ),
    ("aws-sdk-js", "google-api-nodejs-client/9.2.0 (gzip)"),
    ("aws-sdk-go", "google-api-go-client/0.5 (gzip)"),
    ("aws-sdk-java", "gcloud-java/2.34.0 (gzip)"),
)
# (kind, verb) -> (collection, method, where: zone | global | project)
_METHODS: Final[Mapping[tuple[str, str], tuple[str, str, str]]] = {
    ("instance", "create"): ("instances", "insert", "zone"),
    ("instance", "delete"): ("instances", "delete", "zone"),
    ("instance", "start"): ("instances", "start", "zone"),
    ("instance", "stop"): ("instances", "stop", "zone"),
    ("instance", "restart"): ("instances", "reset", "zone"),
    ("instance", "modify"): ("instances", "setMachineType", "zone"),
    ("instance", "code"): ("instances", "setMetadata", "zone"),
    ("instance", "ssh"): ("instances", "setMetadata", "zone"),
    ("serial", "ssh"): ("instances", "setMetadata", "zone"),
    ("serial", "enable"): ("projects", "setCommonInstanceMetadata", "project"),
    ("disk", "create"): ("disks", "insert", "zone"),
    ("disk", "delete"): ("disks", "delete", "zone"),
    ("disk", "attach"): ("instances", "attachDisk", "zone"),
    ("disk", "detach"): ("instances", "detachDisk", "zone"),
    ("snapshot", "create"): ("disks", "createSnapshot", "zone"),
    ("snapshot", "delete"): ("snapshots", "delete", "global"),
    ("snapshot", "share"): ("snapshots", "setIamPolicy", "global"),
    ("snapshot", "unshare"): ("snapshots", "setIamPolicy", "global"),
    ("image", "create"): ("images", "insert", "global"),
    ("image", "delete"): ("images", "delete", "global"),
    ("image", "share"): ("images", "setIamPolicy", "global"),
    ("image", "unshare"): ("images", "setIamPolicy", "global"),
    ("firewall", "create"): ("firewalls", "insert", "global"),
    ("firewall", "delete"): ("firewalls", "delete", "global"),
    ("sshkey", "create"): ("projects", "setCommonInstanceMetadata", "project"),
    ("sshkey", "delete"): ("projects", "setCommonInstanceMetadata", "project"),
    ("template", "create"): ("instanceTemplates", "insert", "global"),
    ("template", "modify"): ("instanceGroupManagers", "patch", "zone"),
    ("group", "modify"): ("instanceGroupManagers", "patch", "zone"),
    # what `gcloud compute instance-groups managed rolling-action start-update` calls
    ("group", "restart"): ("instanceGroupManagers", "patch", "zone"),
}


def _lower(name: str) -> str:
    return name.lower().replace("_", "-")


def gcp_key(actor: Actor, project: str) -> str:
    """Return the identity key the Google Cloud reader gives an actor (patterns keep ``*``)."""
    return f"gcp:{_principal(actor, project)[0]}"


def _principal(actor: Actor, project: str) -> tuple[str, str]:
    """Return (key body, principal e-mail)."""
    if actor.kind == "person":
        return f"user:{actor.name}", actor.name
    if actor.kind == "service":
        number = actor.account if actor.account.isdigit() else "*"
        email = _AGENTS.get(actor.name, "service-{n}@compute-system.iam.gserviceaccount.com")
        email = email.format(n=number)
        return f"service:{email}", email
    email = f"{_lower(actor.name)}@{project}.iam.gserviceaccount.com"
    return f"sa:{email}", email


def _agent(agent: str, event_id: str) -> str:
    for prefix, native in _AGENTS_UA:
        if agent.startswith(prefix):
            return native.replace("{id}", event_id[:12])
    return "google-api-go-client/0.5 (gzip)"


_MACHINES: Final[Mapping[str, str]] = {
    "gpu": "a2-highgpu-1g",
    "medium": "e2-medium",
    "large": "e2-standard-2",
    "xlarge": "e2-standard-4",
    "big": "e2-standard-8",
}


def _member(target: str, own: set[str]) -> str:
    if target == "all":
        return "allUsers"
    if target in own:
        return "group:platform@northwind.example"
    return f"user:backup-{target}@gmail.com"


def _request(op: Op, project: str, zone: str, own: set[str]) -> dict[str, Any]:
    """Return the request body of an operation (the fields the reader and an analyst read)."""
    z = f"projects/{project}/zones/{zone}"
    if op.kind == "instance" and op.verb == "create":
        return {
            "name": op.name,
            "machineType": f"{z}/machineTypes/{_MACHINES[size_class(op.detail.get('type', ''))]}",
        }
    if op.kind == "instance" and op.verb == "code":
        return {"metadata": {"items": [{"key": "startup-script", "value": "#!/bin/bash"}]}}
    if op.kind in ("instance", "serial") and op.verb == "ssh":
        return {"metadata": {"items": [{"key": "ssh-keys", "value": "root:ssh-ed25519 AAAA"}]}}
    if op.kind == "serial":
        return {"items": [{"key": "serial-port-enable", "value": "TRUE"}]}
    if op.kind == "sshkey":
        return {"items": [{"key": "ssh-keys", "value": f"{op.name}:ssh-ed25519 AAAA"}]}
    if op.kind == "disk" and op.verb == "create":
        source = {"sourceSnapshot": f"projects/{project}/global/snapshots/{op.source}"}
        return {"name": op.name} | (source if op.source else {})
    if op.kind == "disk":
        return {"source": f"{z}/disks/{op.name}", "deviceName": op.name}
    if op.kind == "snapshot" and op.verb == "create":
        return {"name": op.name}
    if op.verb in ("share", "unshare"):
        members = [] if op.verb == "unshare" else [_member(op.target, own)]
        role = "roles/compute.imageUser" if op.kind == "image" else "roles/compute.storageAdmin"
        return {"policy": {"bindings": [{"role": role, "members": members}] if members else []}}
    if op.kind == "image" and op.verb == "create":
        return {"name": op.name, "sourceDisk": f"{z}/disks/{op.source}"}
    if op.kind == "firewall" and op.verb == "create":
        allowed = [{"IPProtocol": "tcp", "ports": [str(op.detail.get("port", ""))]}]
        ranges = [op.detail.get("cidr", "")]
        return {"name": op.name, "direction": "INGRESS", "sourceRanges": ranges, "allowed": allowed}
    return {}


def _resource(op: Op, collection: str, where: str, project: str, zone: str) -> str:
    name = op.source if op.kind == "disk" and op.verb in ("attach", "detach") else op.name
    if op.kind == "snapshot" and op.verb == "create":
        name = op.source or op.name  # the disk a snapshot is taken of
    if where == "project":
        return f"projects/{project}"
    place = f"zones/{zone}" if where == "zone" else "global"
    return f"projects/{project}/{place}/{collection}/{_lower(name)}"


def _insert_id(seed: str) -> str:
    return hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()


def gcp_entries(
    record: dict[str, Any], ops: list[Op], actor: Actor, project: str, own: set[str]
) -> list[tuple[str, dict[str, Any]]]:
    """Return ``(log, entry)`` pairs of one simulated call's operations.

    ``log`` is ``activity`` or ``data_access``.
    """
    region = str(record["awsRegion"])
    when = str(record["eventTime"]).replace("Z", ".000000Z")
    email = _principal(actor, project)[1]
    authentication: dict[str, Any] = {"principalEmail": email}
    if actor.kind == "user":
        authentication["serviceAccountKeyName"] = (
            f"//iam.googleapis.com/projects/{project}/serviceAccounts/{email}/keys/"
            f"{_insert_id(email)}"
        )
    metadata: dict[str, Any] = {"callerIp": record["sourceIPAddress"]}
    if actor.kind != "service":
        metadata["callerSuppliedUserAgent"] = _agent(
            str(record.get("userAgent", "")), record["eventID"]
        )
    else:
        metadata = {"callerIp": "private"}
    failed = record.get("errorCode")
    out: list[tuple[str, dict[str, Any]]] = []
    for index, op in enumerate(ops):
        zone = gcp_zone(region, str(op.detail.get("az", "")))
        if op.kind == "read":
            method = f"v1.compute.{op.name}.{op.verb}"
            resource = f"projects/{project}/zones/{zone}/{op.name}"
            if op.verb == "get" and op.source:
                resource = f"{resource}/{_lower(op.source)}"
            log, request, where = "data_access", {}, "zone"
        else:
            found = _METHODS.get((op.kind, op.verb))
            if found is None:
                continue
            collection, verb, where = found
            method = f"v1.compute.{collection}.{verb}"
            resource = _resource(op, collection, where, project, zone)
            log, request = "activity", _request(op, project, zone, own)
        seed = f"{record['eventID']}:{index}"
        operation = f"operation-{_insert_id(seed)}"
        payload: dict[str, Any] = {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "authenticationInfo": authentication,
            "requestMetadata": metadata,
            "serviceName": "compute.googleapis.com",
            "methodName": method,
            "resourceName": resource,
            "resourceLocation": {
                "currentLocations": [zone if where == "zone" else gcp_region(region)]
            },
        }
        if request:
            payload["request"] = request | {
                "@type": f"type.googleapis.com/compute.{method.split('.', 2)[2]}"
            }
        if failed:
            payload["status"] = {"code": 7, "message": str(failed)}
        entry: dict[str, Any] = {
            "protoPayload": payload,
            "insertId": _insert_id(seed),
            "resource": {"type": "gce_instance", "labels": {"project_id": project, "zone": zone}},
            "timestamp": when,
            "severity": "ERROR" if failed else ("NOTICE" if log == "activity" else "INFO"),
            "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2F{log}",
            "receiveTimestamp": when,
        }
        if log == "activity" and not failed:
            entry["operation"] = {
                "id": operation,
                "producer": "compute.googleapis.com",
                "first": True,
            }
            last = {k: v for k, v in payload.items() if k != "request"}
            done = entry | {
                "protoPayload": last,
                "insertId": _insert_id(f"{seed}:last"),
                "operation": {"id": operation, "producer": "compute.googleapis.com", "last": True},
            }
            out.extend((("activity", entry), ("activity", done)))
        else:
            out.append((log, entry))
    return out


def gcp_path(log: str, when: str) -> str:
    """Return the sink path of the hour file holding an entry of ``log`` at ``when``."""
    y, m, d, h = when[0:4], when[5:7], when[8:10], when[11:13]
    return f"cloudaudit.googleapis.com/{log}/{y}/{m}/{d}/{h}:00:00_{h}:59:59_S0.json"
