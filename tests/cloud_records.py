"""Records of Azure Activity Log, Cloud Audit Logs and OCSF API Activity, as tests write them.

Each builder gives one record in the shape its export writes (field names from the
providers' references), with keyword arguments replacing top-level fields.
"""

from __future__ import annotations

from typing import Any

SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-111122223333"
UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
TENANT = "http://schemas.microsoft.com/identity/claims/tenantid"
MI = f"/subscriptions/{SUBSCRIPTION}/resourcegroups/rg/providers/Microsoft.ManagedIdentity/"


def azure(operation: str, **changes: Any) -> dict[str, Any]:
    """One Azure Activity Log record as a storage account or Event Hub receives it."""
    record: dict[str, Any] = {
        "time": "2024-05-01T10:00:00Z",
        "resourceId": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/"
        "Microsoft.Compute/disks/d1",
        "operationName": operation,
        "category": "Administrative",
        "resultType": "Succeeded",
        "callerIpAddress": "203.0.113.9",
        "caller": "alice@corp.example",
        "identity": {"claims": {UPN: "alice@corp.example", TENANT: "t1"}},
        "location": "westeurope",
        "properties": {},
    }
    record.update(changes)
    return record


def gcp(method: str, resource: str = "zones/europe-west1-b/instances/web-1", **extra: Any) -> Any:
    """One Cloud Audit Logs entry as a Cloud Storage sink writes it."""
    payload: dict[str, Any] = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "methodName": method,
        "serviceName": "compute.googleapis.com",
        "authenticationInfo": {"principalEmail": "alice@corp.example"},
        "requestMetadata": {
            "callerIp": "198.51.100.7",
            "callerSuppliedUserAgent": "google-cloud-sdk gcloud/470.0.0",
        },
        "resourceName": f"projects/acme-prod-1/{resource}",
        **extra,
    }
    return {
        "insertId": "id-" + method,
        "logName": "projects/acme-prod-1/logs/cloudaudit.googleapis.com%2Factivity",
        "timestamp": "2024-05-01T10:00:00Z",
        "resource": {"type": "gce_instance", "labels": {"project_id": "acme-prod-1"}},
        "protoPayload": payload,
    }


def ocsf_api_activity(**cloud: Any) -> dict[str, Any]:
    """An API Activity record as Security Lake writes CloudTrail management events (OCSF 1.1)."""
    return {
        "class_uid": 6003,
        "activity_id": 1,
        "time": 1714557600000,
        "metadata": {"version": "1.1.0", "uid": "ev-1", "product": {"name": "CloudTrail"}},
        "cloud": {"provider": "AWS", "region": "eu-west-1", **cloud},
        "api": {
            "operation": "ModifySnapshotAttribute",
            "service": {"name": "ec2.amazonaws.com"},
            "request": {
                "data": {
                    "snapshotId": "snap-0123456789abcdef0",
                    "attributeType": "CREATE_VOLUME_PERMISSION",
                    "createVolumePermission": {"add": {"items": [{"userId": "999988887777"}]}},
                }
            },
            "response": {},
        },
        "actor": {
            "user": {
                "type": "IAMUser",
                "uid": "arn:aws:iam::111122223333:user/alice",
                "uid_alt": "AIDAEXAMPLE",
                "name": "alice",
                "account": {"uid": "111122223333"},
            }
        },
        "src_endpoint": {"ip": "203.0.113.9"},
        "http_request": {"user_agent": "aws-cli/2.15.0"},
        "unmapped": {"eventType": "AwsApiCall", "recipientAccountId": "111122223333"},
    }
