"""Google Cloud Audit Logs entries -> canonical rows.

A ``LogEntry`` whose ``protoPayload`` is an ``AuditLog`` is read as a log sink writes it
to Cloud Storage (one entry per line, ``cloudaudit.googleapis.com/activity/YYYY/MM/DD/
HH:00:00_HH:59:59_S0.json``), as ``gcloud logging read --format=json`` prints it (an
array), and as Pub/Sub delivers it: a push request ``{"message": {"data": <base64>,
...}, "subscription": ...}``, a pulled ``{"ackId": ..., "message": {...}}`` or a bare
message ``{"data": <base64>, "messageId": ...}``; the message's data is the entry.

Long-running Compute Engine operations log twice: the request (``operation.first``,
with its request body) and the completion (``operation.last``). Both are kept; only the
request is a compute change (``is_compute_change``), and the completion's
``event_type`` ends in ``.last``. ``event_type`` is the audit log the entry belongs to:
``activity``, ``system_event``, ``data_access`` or ``policy``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from features._clients import client_of
from features._exceptions import RecordRejected
from features._fields import event_time, make_row, obj, synthetic_id, text, type_name
from features._identity_gcp import gcp_identity
from features._limits import MAX_PARSED_BYTES
from features._network import GeoIP, place_of
from features._taxonomy_gcp import (
    canonical_method,
    classify_gcp,
    gcp_ids,
    modified_attribute_gcp,
    share_targets_gcp,
)

__all__ = ["gcp_row", "is_gcp", "unwrap_pubsub"]

Row = tuple[Any, ...]

_LOG_KINDS: Final = ("activity", "system_event", "data_access", "policy", "access_transparency")
_ZONE: Final = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")
_PLACE: Final = re.compile(r"/(?:zones|regions)/([a-z]+-[a-z]+\d+(?:-[a-z])?)/")
"""The zone or region of a resource path, when the entry's labels do not say."""
_CODES: Final = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}
"""Names of the ``google.rpc.Code`` values a failed call's ``status.code`` carries."""


def is_gcp(record: Mapping[str, Any]) -> bool:
    """Whether a JSON object is a Cloud Logging entry or a Pub/Sub message carrying one."""
    if "protoPayload" in record or ("logName" in record and "insertId" in record):
        return True
    message = record.get("message")
    if type(message) is dict and "data" in message:
        return True
    return "data" in record and ("messageId" in record or "message_id" in record)


def unwrap_pubsub(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the log entry inside a Pub/Sub message (push, pull or bare), or the entry itself.

    Raises
    ------
    RecordRejected
        When the message data is not base64 of a JSON object, or too long to parse.
    """
    if "protoPayload" in record or "logName" in record:
        return record
    message = record.get("message")
    container = message if type(message) is dict else record
    field = "message.data" if type(message) is dict else "data"
    data = container.get("data")
    if type(data) is not str:
        raise RecordRejected(field, f"expected base64 text, got {type_name(data)}")
    if len(data) > MAX_PARSED_BYTES * 4 // 3 + 4:
        raise RecordRejected(field, "message data longer than a record is parsed in full up to")
    try:
        entry = orjson.loads(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise RecordRejected(field, "not base64 of a JSON log entry") from None
    if type(entry) is not dict:
        raise RecordRejected(field, f"expected a log entry object, got {type_name(entry)}")
    return entry


def _log_kind(log_name: str | None) -> str | None:
    if not log_name:
        return None
    tail = log_name.rsplit("/", 1)[-1].replace("%2F", "/").replace("%2f", "/")
    kind = tail.rsplit("/", 1)[-1]
    return kind if kind in _LOG_KINDS else tail


def _project(entry: Mapping[str, Any], labels: Mapping[str, Any]) -> str | None:
    found = labels.get("project_id")
    if isinstance(found, str) and found:
        return found
    log_name = entry.get("logName")
    if isinstance(log_name, str) and log_name.startswith("projects/"):
        return log_name.split("/", 2)[1]
    return None


def _region(payload: Mapping[str, Any], labels: Mapping[str, Any]) -> str | None:
    location = payload.get("resourceLocation")
    current = location.get("currentLocations") if isinstance(location, dict) else None
    place = current[0] if isinstance(current, list) and current else None
    if not isinstance(place, str):
        for key in ("zone", "location", "region"):
            value = labels.get(key)
            if isinstance(value, str) and value:
                place = value
                break
    if not isinstance(place, str) or not place:
        named = _PLACE.search(str(payload.get("resourceName") or ""))
        place = named.group(1) if named else None
    if not isinstance(place, str) or not place:
        return None
    zone = _ZONE.match(place)
    return zone.group(1) if zone else place


def _error(payload: Mapping[str, Any]) -> str | None:
    status = payload.get("status")
    if not isinstance(status, dict):
        return None
    code = status.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or code == 0:
        return None
    return _CODES.get(code, str(code))


def gcp_row(record: Mapping[str, Any], geoip: GeoIP | None) -> Row:
    """Return the canonical row of one Cloud Audit Logs entry (or a Pub/Sub message of one).

    Raises
    ------
    RecordRejected
        Naming the field and the reason: an entry that is not an audit log (no
        ``protoPayload``), no method or time, a field of the wrong type.
    """
    entry = unwrap_pubsub(record)
    payload = obj(entry, "protoPayload", "protoPayload")
    if not payload:
        found = "jsonPayload" if "jsonPayload" in entry else "textPayload"
        reason = f"missing: a log entry with a {found}, not a Cloud Audit Logs entry"
        raise RecordRejected("protoPayload", reason)
    method = text(payload, "methodName", "protoPayload.methodName")
    if not method:
        raise RecordRejected("protoPayload.methodName", "missing")
    when = entry.get("timestamp")
    if when is None:
        raise RecordRejected("timestamp", "missing")
    micros = event_time(when, "timestamp")
    resource = obj(entry, "resource", "resource") or {}
    labels = obj(resource, "labels", "resource.labels") or {}
    project = _project(entry, labels)
    service = text(payload, "serviceName", "protoPayload.serviceName")
    name = canonical_method(method)
    resource_type, action = classify_gcp(service, method)
    request = payload.get("request")
    response = payload.get("response")
    targets = share_targets_gcp(method, request) if resource_type else []
    if targets:
        action = "share"
    resource_name = text(payload, "resourceName", "protoPayload.resourceName")
    ids = gcp_ids(resource_name, project, method, request, response) if resource_type else []
    attribute = (
        modified_attribute_gcp(method, request, payload.get("metadata")) if resource_type else None
    )
    operation = obj(entry, "operation", "operation") or {}
    completion = operation.get("last") is True and operation.get("first") is not True
    kind = _log_kind(text(entry, "logName", "logName"))
    system = kind == "system_event"
    authentication = obj(payload, "authenticationInfo", "protoPayload.authenticationInfo") or {}
    who = gcp_identity(authentication, project, system_event=system)
    metadata = obj(payload, "requestMetadata", "protoPayload.requestMetadata") or {}
    ip = text(metadata, "callerIp", "protoPayload.requestMetadata.callerIp")
    agent = text(metadata, "callerSuppliedUserAgent", "protoPayload.requestMetadata")
    family, version = client_of(agent)
    if who.by_service and not agent:
        family = "gcp-service"
    insert_id = text(entry, "insertId", "insertId")
    return make_row(
        # Cloud Logging takes entries of one project with the same timestamp and insertId
        # for duplicates, and only those: the id carries all three.
        event_id=f"{project or ''}/{insert_id}@{micros}" if insert_id else synthetic_id(entry),
        event_time=micros,
        cloud="gcp",
        account_id=project,
        region=_region(payload, labels),
        event_source=service,
        event_name=name,
        event_type=f"{kind}.last" if completion and kind else kind,
        read_only=action == "read",
        error_code=_error(payload),
        resource_type=resource_type,
        action=action,
        is_compute_change=resource_type is not None and action != "read" and not completion,
        resource_ids=ids,
        attribute=attribute,
        share_targets=targets,
        identity_key=who.key,
        identity_type=who.type,
        principal_arn=who.principal,
        actor_account_id=who.actor_project,
        session_name=who.person,
        source_identity=who.person,
        federated_provider=who.provider,
        by_service=who.by_service,
        user_agent=agent,
        client_family=family,
        client_version=version,
        **place_of(ip, geoip),
    )
