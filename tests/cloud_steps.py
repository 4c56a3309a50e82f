"""Azure Activity Log and Cloud Audit Logs records of multi-step compute changes, as exported.

The shapes follow the records the services write (and the real samples in ``tests/data``):
an Azure write's outcome carries ``statusCode`` ``Created`` and the resource in
``responseBody`` (a JSON string, as the export writes it), a ``Started`` record the
``requestbody``; a Google entry is the request (``operation.first``) with its ``request``, a
metadata change names its keys in ``protoPayload.metadata.instanceMetadataDelta``. Times are
minutes after :data:`START`; each record is distinct (its own time, ids and ``insertId``).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from tests.cloud_records import SUBSCRIPTION, azure, gcp

START = pd.Timestamp("2024-05-01T10:00:00Z")
GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/prod-rg/providers/Microsoft.Compute"
PROJECT = "acme-prod-1"
ZONE = "zones/europe-west1-b"


def at(minutes: float) -> str:
    """ISO time ``minutes`` after :data:`START`."""
    return (START + pd.Timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def az(
    minutes: float,
    operation: str,
    resource: str,
    *,
    response: dict[str, Any] | None = None,
    request: dict[str, Any] | None = None,
    created: bool = False,
    phase: str = "Succeeded",
    caller: str = "alice@corp.example",
) -> dict[str, Any]:
    """One Azure Activity Log record (resource-log shape) of an operation on ``resource``."""
    properties: dict[str, Any] = {"statusCode": "Created" if created else "OK"}
    if phase == "Started":
        properties = {}
    if request is not None:
        properties["requestbody"] = json.dumps(request)
    if response is not None:
        properties["responseBody"] = json.dumps(response)
    record = azure(
        f"Microsoft.Compute/{operation}",
        time=at(minutes),
        resourceId=f"{GROUP}/{resource}",
        resultType=phase,
        properties=properties,
        caller=caller,
        correlationId=f"{operation}-{minutes}",
    )
    record["identity"]["claims"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = (
        caller
    )
    return record


def arm(resource: str) -> str:
    """The ARM id of ``disks/x``, ``snapshots/y``, ... in the test resource group."""
    return f"{GROUP}/{resource}"


def gc(
    minutes: float,
    method: str,
    resource: str,
    *,
    request: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    caller: str = "alice@corp.example",
) -> dict[str, Any]:
    """One Cloud Audit Logs entry (the request, ``operation.first``) of ``v1.compute.<method>``."""
    extra: dict[str, Any] = {}
    if request is not None:
        extra["request"] = {"@type": f"type.googleapis.com/compute.{method}", **request}
    if metadata is not None:
        extra["metadata"] = metadata
    entry: dict[str, Any] = gcp(f"v1.compute.{method}", resource, **extra)
    entry["timestamp"] = at(minutes)
    entry["insertId"] = f"{method}-{minutes}"
    entry["operation"] = {
        "id": f"operation-{method}-{minutes}",
        "producer": "compute.googleapis.com",
        "first": True,
    }
    entry["protoPayload"]["authenticationInfo"]["principalEmail"] = caller
    return entry


def path(resource: str) -> str:
    """The full ``projects/...`` path of ``zones/.../disks/x`` or ``global/snapshots/y``."""
    return f"projects/{PROJECT}/{resource}"
