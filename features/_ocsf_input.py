"""OCSF API Activity records (class 6003; 3005 in OCSF 1.0 release candidates) -> canonical rows.

Amazon Security Lake keeps CloudTrail as OCSF API Activity (JSON or Parquet). Such a
record from AWS is turned back into the CloudTrail record it was made from, field by
field as Security Lake and the OCSF examples map them (both the 1.0 names,
``actor.user.uuid``/``account_uid``, and the 1.1 ones, ``actor.user.uid``/``uid_alt``/
``account.uid``), and read by the CloudTrail normaliser: the same taxonomy, identity
keys and resource ids as the original record would get. The request and response
(``api.request.data`` and ``api.response.data``, or ``unmapped.requestParameters``
and ``unmapped.responseElements``) may be objects or JSON text.

API Activity of another cloud (``cloud.provider`` Azure or GCP) is read directly: the
operation and service name, the actor's e-mail or id, the source address and user agent,
with that cloud's taxonomy. What OCSF leaves out (Azure's phases, Google's request
bodies when a converter dropped them) is missing from those rows: docs/multicloud.md
lists it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from features._clients import client_of
from features._exceptions import RecordRejected
from features._fields import as_object, event_time, make_row, obj, synthetic_id, text, type_name
from features._identity_azure import azure_identity
from features._identity_gcp import gcp_identity
from features._network import GeoIP, place_of
from features._taxonomy_azure import arm_ids, canonical_operation, classify_azure
from features._taxonomy_gcp import canonical_method, classify_gcp, gcp_ids

__all__ = ["API_ACTIVITY_CLASSES", "is_ocsf", "ocsf_record"]

API_ACTIVITY_CLASSES: Final = frozenset({6003, 3005})
"""``class_uid`` of API Activity: 6003 from OCSF 1.0, 3005 in its release candidates."""
_PROVIDERS: Final = {"aws": "aws", "azure": "azure", "gcp": "gcp", "google": "gcp"}


def is_ocsf(record: Mapping[str, Any]) -> bool:
    """Whether a JSON object is an OCSF event (it has ``class_uid`` and ``metadata``)."""
    return "class_uid" in record and "metadata" in record


def _ms_time(record: Mapping[str, Any]) -> str:
    """Return the event time as CloudTrail's ISO text, from ``time`` (ms) or ``time_dt``."""
    value = record.get("time")
    if value is None:
        value = record.get("time_dt")
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise RecordRejected("time", f"time out of range: {value!r}") from None
    elif isinstance(value, str):
        return value
    elif value is None:
        raise RecordRejected("time", "missing")
    else:
        raise RecordRejected("time", f"expected milliseconds or a time, got {type_name(value)}")
    return moment.isoformat().replace("+00:00", "Z")


def _provider(record: Mapping[str, Any]) -> str:
    cloud = obj(record, "cloud", "cloud") or {}
    provider = text(cloud, "provider", "cloud.provider") or ""
    metadata = obj(record, "metadata", "metadata") or {}
    product = obj(metadata, "product", "metadata.product") or {}
    if not provider and text(product, "name", "metadata.product.name") == "CloudTrail":
        return "aws"
    return _PROVIDERS.get(provider.lower(), provider.lower() or "aws")


def _body(value: Any, path: str) -> Any:
    if isinstance(value, list):
        return value
    return as_object(value, path)


def _cloudtrail(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return the CloudTrail record an AWS API Activity record was made from."""
    api = obj(record, "api", "api") or {}
    service = obj(api, "service", "api.service") or {}
    request = obj(api, "request", "api.request") or {}
    response = obj(api, "response", "api.response") or {}
    actor = obj(record, "actor", "actor") or {}
    user = obj(actor, "user", "actor.user") or {}
    session = obj(actor, "session", "actor.session") or {}
    idp = obj(actor, "idp", "actor.idp") or {}
    account = obj(user, "account", "actor.user.account") or {}
    cloud = obj(record, "cloud", "cloud") or {}
    cloud_account = obj(cloud, "account", "cloud.account") or {}
    endpoint = obj(record, "src_endpoint", "src_endpoint") or {}
    http = obj(record, "http_request", "http_request") or {}
    metadata = obj(record, "metadata", "metadata") or {}
    unmapped = obj(record, "unmapped", "unmapped") or {}
    uid = text(user, "uid", "actor.user.uid")
    arn = text(user, "uuid", "actor.user.uuid") or (uid if uid and uid.startswith("arn:") else None)
    principal = text(user, "uid_alt", "actor.user.uid_alt") or (
        uid if uid and not uid.startswith("arn:") else None
    )
    owner = text(account, "uid", "actor.user.account.uid") or text(
        user, "account_uid", "actor.user.account_uid"
    )
    mfa = session.get("is_mfa", session.get("mfa"))
    context: dict[str, Any] = {}
    issuer = text(session, "issuer", "actor.session.issuer")
    if issuer:
        context["sessionIssuer"] = {"arn": issuer, "type": "Role"}
    if isinstance(mfa, bool):
        context["attributes"] = {"mfaAuthenticated": "true" if mfa else "false"}
    provider = text(idp, "name", "actor.idp.name")
    if provider and text(user, "type", "actor.user.type") == "AssumedRole":
        context["webIdFederationData"] = {"federatedProvider": provider}
    identity = {
        key: value
        for key, value in (
            ("type", text(user, "type", "actor.user.type")),
            ("principalId", principal),
            ("arn", arn),
            ("accountId", owner),
            ("accessKeyId", text(user, "credential_uid", "actor.user.credential_uid")),
            ("userName", text(user, "name", "actor.user.name")),
            ("invokedBy", text(actor, "invoked_by", "actor.invoked_by")),
            ("sessionContext", context or None),
        )
        if value is not None
    }
    recipient = text(cloud_account, "uid", "cloud.account.uid") or text(
        unmapped, "recipientAccountId", "unmapped.recipientAccountId"
    )
    converted: dict[str, Any] = {
        "eventID": text(metadata, "uid", "metadata.uid"),
        "eventTime": _ms_time(record),
        "eventSource": text(service, "name", "api.service.name"),
        "eventName": text(api, "operation", "api.operation"),
        "awsRegion": text(cloud, "region", "cloud.region"),
        "sourceIPAddress": text(endpoint, "ip", "src_endpoint.ip")
        or text(endpoint, "domain", "src_endpoint.domain"),
        "userAgent": text(http, "user_agent", "http_request.user_agent"),
        "errorCode": text(response, "error", "api.response.error"),
        "eventType": text(unmapped, "eventType", "unmapped.eventType")
        or text(metadata, "event_code", "metadata.event_code"),
        "recipientAccountId": recipient or owner,
        "requestParameters": _body(
            request.get("data", unmapped.get("requestParameters")), "api.request.data"
        ),
        "responseElements": _body(
            response.get("data", unmapped.get("responseElements")), "api.response.data"
        ),
        "userIdentity": identity,
    }
    read_only = unmapped.get("readOnly")
    if isinstance(read_only, bool):
        converted["readOnly"] = read_only
    return {key: value for key, value in converted.items() if value is not None}


def _other_cloud(record: Mapping[str, Any], cloud: str, geoip: GeoIP | None) -> tuple[Any, ...]:
    """Return the canonical row of an Azure or Google Cloud API Activity record."""
    api = obj(record, "api", "api") or {}
    operation = text(api, "operation", "api.operation")
    if not operation:
        raise RecordRejected("api.operation", "missing")
    service = obj(api, "service", "api.service") or {}
    service_name = text(service, "name", "api.service.name")
    response = obj(api, "response", "api.response") or {}
    actor = obj(record, "actor", "actor") or {}
    user = obj(actor, "user", "actor.user") or {}
    account = obj(obj(record, "cloud", "cloud") or {}, "account", "cloud.account") or {}
    project = text(account, "uid", "cloud.account.uid")
    email = text(user, "email_addr", "actor.user.email_addr") or text(
        user, "name", "actor.user.name"
    )
    endpoint = obj(record, "src_endpoint", "src_endpoint") or {}
    ip = text(endpoint, "ip", "src_endpoint.ip")
    agent = text(obj(record, "http_request", "http_request") or {}, "user_agent", "http_request")
    resources = record.get("resources")
    named = [
        r.get("uid") for r in resources if isinstance(r, dict) and isinstance(r.get("uid"), str)
    ] if isinstance(resources, list) else []  # fmt: skip
    status = record.get("status_id")
    error = text(response, "error", "api.response.error") or ("Failure" if status == 2 else None)
    if cloud == "azure":
        name = canonical_operation(operation)
        resource_type, action = classify_azure(name)
        ids = arm_ids(named[0] if named else None)
        azure = azure_identity({"upn": email} if email else {}, email, project)
        who_key, who_type = azure.key, azure.type
        family: str = "unknown"
        source: str | None = name.split("/", 1)[0]
    else:
        name = canonical_method(operation)
        resource_type, action = classify_gcp(service_name, operation)
        ids = gcp_ids(named[0] if named else None, project, operation, None, None)
        who = gcp_identity({"principalEmail": email} if email else {}, project)
        who_key, who_type = who.key, who.type
        family = client_of(agent)[0]
        source = service_name
    return make_row(
        event_id=text(obj(record, "metadata", "metadata") or {}, "uid", "metadata.uid")
        or synthetic_id(record),
        event_time=event_time(_ms_time(record), "time"),
        cloud=cloud,
        account_id=project,
        region=text(obj(record, "cloud", "cloud") or {}, "region", "cloud.region"),
        event_source=source,
        event_name=name,
        event_type="ocsf",
        read_only=action == "read",
        error_code=error,
        resource_type=resource_type,
        action=action,
        is_compute_change=resource_type is not None and action != "read",
        resource_ids=ids,
        identity_key=who_key,
        identity_type=who_type,
        principal_arn=email,
        user_agent=agent,
        client_family=family,
        **place_of(ip, geoip),
    )


def ocsf_record(record: Mapping[str, Any], geoip: GeoIP | None) -> dict[str, Any] | tuple[Any, ...]:
    """Return the CloudTrail record of an AWS API Activity record, or the row of another cloud's.

    Raises
    ------
    RecordRejected
        For OCSF events of another class (``class_uid`` names it), and for fields of
        the wrong type.
    """
    klass = record.get("class_uid")
    if klass not in API_ACTIVITY_CLASSES:
        raise RecordRejected(
            "class_uid", f"OCSF class {klass!r} is not API Activity (6003); not read"
        )
    cloud = _provider(record)
    if cloud == "aws":
        return _cloudtrail(record)
    if cloud not in ("azure", "gcp"):
        raise RecordRejected("cloud.provider", f"not a cloud changewatch reads: {cloud!r}")
    return _other_cloud(record, cloud, geoip)
