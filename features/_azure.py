"""Azure Activity Log records -> canonical rows.

Four shapes of the same record are read (docs/multicloud.md):

* the resource-log shape of diagnostic settings, as a storage account receives it (one
  record per line, ``insights-activity-logs/.../PT1H.json``) and as Event Hubs deliver
  it (``{"records": [...]}``): ``time``, ``operationName``, ``resultType``,
  ``callerIpAddress``, ``identity.claims``, ``properties``;
* the REST API / ``az monitor activity-log list`` shape: ``eventTimestamp``,
  ``operationName.value``, ``status.value``, ``caller``, ``claims``, ``eventDataId``;
* the same in the Python SDK's snake case (``event_timestamp``, ``operation_name``);
* a Log Analytics ``AzureActivity`` row as a workspace data export or a query export
  writes it: ``TimeGenerated``, ``OperationNameValue``, ``ActivityStatusValue``,
  ``Claims_d`` or ``Claims``, ``Properties_d`` or ``Properties``.

Azure logs one operation as several records: ``Started`` (the request), sometimes
``Accepted`` (a long-running operation began), then ``Succeeded``, ``Failed`` or
``Canceled``. Every record is kept; only the outcome is a compute change
(``is_compute_change``), so an operation counts once. ``event_type`` says
``<category>.<phase>`` (``Administrative.Succeeded``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from features._exceptions import RecordRejected
from features._fields import as_object, event_time, make_row, obj, synthetic_id, text
from features._identity_azure import azure_identity
from features._network import GeoIP, place_of
from features._taxonomy_azure import (
    arm_ids,
    canonical_operation,
    classify_azure,
    modified_attribute_azure,
    share_targets_azure,
)

__all__ = ["azure_row", "is_azure"]

Row = tuple[Any, ...]

_PHASES: Final[Mapping[str, str]] = {
    "start": "Started",
    "started": "Started",
    "beginrequest": "Started",
    "accept": "Accepted",
    "accepted": "Accepted",
    "success": "Succeeded",
    "succeeded": "Succeeded",
    "failure": "Failed",
    "failed": "Failed",
    "canceled": "Canceled",
    "cancelled": "Canceled",
}
_FINAL: Final = frozenset({"Succeeded", "Failed", "Canceled", None})
# Keys that tell each shape apart; ``operationName`` is a string in one, an object in another.
_LA_KEYS: Final = ("OperationNameValue", "ActivityStatusValue")


def is_azure(record: Mapping[str, Any]) -> bool:
    """Whether a JSON object is an Azure Activity Log record of a shape read here."""
    if "operationName" in record:
        return "resourceId" in record or "time" in record or "eventTimestamp" in record
    return "operation_name" in record or any(key in record for key in _LA_KEYS)


def _value(container: Mapping[str, Any], key: str, path: str) -> str | None:
    """Return a string field, or the ``value`` of a ``{"value", "localizedValue"}`` one."""
    found = container.get(key)
    if type(found) is dict:
        return text(found, "value", f"{path}.value")
    if found is None or type(found) is str:
        return found
    raise RecordRejected(path, f"expected a string or a value object, got {type(found).__name__}")


class _View:
    """The fields a row needs, whichever shape the record has."""

    __slots__ = (
        "caller",
        "category",
        "claims",
        "event_id",
        "ip",
        "location",
        "operation",
        "phase",
        "properties",
        "resource_id",
        "status",
        "subscription",
        "tenant",
        "time",
    )

    caller: str | None
    category: str | None
    event_id: str | None
    ip: str | None
    location: str | None
    operation: str | None
    phase: str | None
    resource_id: str | None
    status: str | None
    subscription: str | None
    tenant: str | None

    def __init__(self, record: Mapping[str, Any]) -> None:
        if "OperationNameValue" in record or "ActivityStatusValue" in record:
            self._log_analytics(record)
        elif "operation_name" in record:
            self._rest(record, snake=True)
        elif type(record.get("operationName")) is dict or "eventTimestamp" in record:
            self._rest(record, snake=False)
        else:
            self._resource_log(record)

    def _resource_log(self, record: Mapping[str, Any]) -> None:
        self.time = record.get("time")
        self.operation = text(record, "operationName", "operationName")
        self.category = _value(record, "category", "category")
        self.phase = text(record, "resultType", "resultType")
        identity = obj(record, "identity", "identity") or {}
        self.claims = obj(identity, "claims", "identity.claims") or {}
        self.caller = text(record, "caller", "caller")
        self.ip = text(record, "callerIpAddress", "callerIpAddress")
        self.properties = obj(record, "properties", "properties") or {}
        self.resource_id = text(record, "resourceId", "resourceId")
        self.subscription = None
        self.tenant = text(record, "tenantId", "tenantId")
        self.event_id = text(record, "eventDataId", "eventDataId")
        self.location = text(record, "location", "location")
        signature = text(record, "resultSignature", "resultSignature")
        self.status = text(self.properties, "statusCode", "properties.statusCode") or signature

    def _rest(self, record: Mapping[str, Any], *, snake: bool) -> None:
        def key(camel: str, snaked: str) -> str:
            return snaked if snake else camel

        self.time = record.get(key("eventTimestamp", "event_timestamp"))
        self.operation = _value(record, key("operationName", "operation_name"), "operationName")
        self.category = _value(record, "category", "category")
        self.phase = _value(record, "status", "status")
        self.claims = obj(record, "claims", "claims") or {}
        self.caller = text(record, "caller", "caller")
        request = obj(record, key("httpRequest", "http_request"), "httpRequest") or {}
        self.ip = text(request, key("clientIpAddress", "client_ip_address"), "httpRequest")
        self.properties = obj(record, "properties", "properties") or {}
        self.resource_id = text(record, key("resourceId", "resource_id"), "resourceId")
        self.subscription = text(record, key("subscriptionId", "subscription_id"), "subscriptionId")
        self.tenant = text(record, key("tenantId", "tenant_id"), "tenantId")
        self.event_id = text(record, key("eventDataId", "event_data_id"), "eventDataId")
        self.location = None
        sub_status = _value(record, key("subStatus", "sub_status"), "subStatus")
        self.status = text(self.properties, "statusCode", "properties.statusCode") or sub_status

    def _log_analytics(self, record: Mapping[str, Any]) -> None:
        self.time = record.get("TimeGenerated")
        self.operation = text(record, "OperationNameValue", "OperationNameValue")
        self.category = text(record, "CategoryValue", "CategoryValue")
        self.phase = text(record, "ActivityStatusValue", "ActivityStatusValue")
        self.claims = as_object(record.get("Claims_d") or record.get("Claims"), "Claims") or {}
        self.caller = text(record, "Caller", "Caller")
        self.ip = text(record, "CallerIpAddress", "CallerIpAddress")
        found = record.get("Properties_d") or record.get("Properties")
        self.properties = as_object(found, "Properties") or {}
        self.resource_id = text(record, "_ResourceId", "_ResourceId") or text(
            record, "ResourceId", "ResourceId"
        )
        self.subscription = text(record, "SubscriptionId", "SubscriptionId")
        self.tenant = text(record, "TenantId", "TenantId")
        self.event_id = text(record, "EventDataId", "EventDataId")
        self.location = None
        self.status = text(record, "ActivitySubstatusValue", "ActivitySubstatusValue")


def _subscription(view: _View) -> str | None:
    if view.subscription:
        return view.subscription.lower()
    resource = view.resource_id or ""
    parts = resource.split("/")
    if len(parts) > 2 and parts[1].lower() == "subscriptions":
        return parts[2].lower()
    return None


def _bodies(properties: Mapping[str, Any]) -> tuple[Any, Any]:
    request = as_object(properties.get("requestbody"), "properties.requestbody")
    response = as_object(properties.get("responseBody"), "properties.responseBody")
    return request, response


def _region(view: _View, request: Any, response: Any) -> str | None:
    if view.location and view.location.lower() != "global":
        return view.location.lower()
    for body in (response, request):
        if isinstance(body, dict) and isinstance(body.get("location"), str):
            return str(body["location"]).lower()
    return None


def _error(phase: str | None, status: str | None) -> str | None:
    if phase == "Failed":
        return status or "Failed"
    if phase == "Canceled":
        return "Canceled"
    return None


def azure_row(record: Mapping[str, Any], geoip: GeoIP | None) -> Row:
    """Return the canonical row of one Azure Activity Log record (any shape of :func:`is_azure`).

    Raises
    ------
    RecordRejected
        Naming the field and the reason: no operation name, no time or one that is not
        ISO 8601, a field of the wrong type.
    """
    view = _View(record)
    if not view.operation:
        raise RecordRejected("operationName", "missing")
    if view.time is None:
        raise RecordRejected("time", "missing")
    micros = event_time(view.time, "time")
    operation = canonical_operation(view.operation)
    phase = _PHASES.get((view.phase or "").lower(), view.phase or None)
    created = "created" in (view.status or "").lower() or (view.status or "").startswith("201")
    resource_type, action = classify_azure(operation, created)
    request, response = _bodies(view.properties)
    subscription = _subscription(view)
    targets = share_targets_azure(operation, request, subscription) if resource_type else []
    if targets:
        action = "share"
    ids = arm_ids(view.resource_id, request, response) if resource_type else []
    attribute = (
        modified_attribute_azure(operation, request, view.resource_id) if resource_type else None
    )
    administrative = (view.category or "Administrative").lower() == "administrative"
    change = resource_type is not None and action != "read" and phase in _FINAL and administrative
    who = azure_identity(view.claims, view.caller, subscription)
    claimed = view.claims.get("ipaddr")
    ip = view.ip or (claimed if isinstance(claimed, str) else None)
    return make_row(
        event_id=view.event_id or synthetic_id(record),
        event_time=micros,
        cloud="azure",
        account_id=subscription,
        region=_region(view, request, response),
        event_source=operation.split("/", 1)[0],
        event_name=operation,
        event_type=f"{view.category or 'Administrative'}.{phase}" if phase else view.category,
        read_only=action == "read",
        error_code=_error(phase, view.status),
        resource_type=resource_type,
        action=action,
        is_compute_change=change,
        resource_ids=ids,
        attribute=attribute,
        share_targets=targets,
        identity_key=who.key,
        identity_type=who.type,
        principal_arn=who.principal,
        actor_account_id=who.tenant,
        mfa=who.mfa,
        by_service=who.by_service,
        client_family=who.client,
        **place_of(ip, geoip),
    )
