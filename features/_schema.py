"""The canonical change-event table: its columns, their types and its version.

``docs/schema.md`` documents every column; a test checks that the document and
:data:`CANONICAL_SCHEMA` name the same columns in the same order.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

__all__ = [
    "ACTIONS",
    "CANONICAL_COLUMNS",
    "CANONICAL_SCHEMA",
    "CLIENT_FAMILIES",
    "CLOUDS",
    "RESOURCE_TYPES",
    "SCHEMA_VERSION",
    "SCHEMA_VERSION_KEY",
]

SCHEMA_VERSION: Final = "3"
"""Version of the canonical table; bumped whenever a column changes meaning or type.

2: identity keys follow the actor (ADR 0020); ``source_identity`` and
``federated_provider`` added. 3: one table for every cloud (ADR 0044): ``cloud`` added;
``account_id`` holds Azure subscriptions and Google Cloud projects too."""

CLOUDS: Final = ("aws", "azure", "gcp")
"""Clouds an event can come from (the ``cloud`` column)."""

SCHEMA_VERSION_KEY: Final = b"changewatch.schema_version"
"""Key of the Parquet file metadata entry that carries :data:`SCHEMA_VERSION`."""

RESOURCE_TYPES: Final = (
    "instance",
    "volume",
    "snapshot",
    "image",
    "launch_template",
    "launch_configuration",
    "autoscaling_group",
    "fleet",
    "spot_request",
    "capacity_reservation",
    "dedicated_host",
    "key_pair",
    "security_group",
    "network_interface",
    "elastic_ip",
    "placement_group",
    "account_setting",
    "db_snapshot",
    "db_instance",
    "db_cluster",
)
"""Compute resource types of the taxonomy; events on anything else have none.

``db_snapshot`` (RDS and Aurora snapshots), ``db_instance`` and ``db_cluster`` (databases
restored from them) are there because a database snapshot shared, exported or restored is
the same exfiltration path as an EBS snapshot (``docs/adr/0035-compute-rule-content.md``)."""

ACTIONS: Final = (
    "create",
    "delete",
    "modify",
    "start",
    "stop",
    "attach",
    "detach",
    "share",
    "copy",
    "read",
    "other",
)
"""What an event does to its resource."""

CLIENT_FAMILIES: Final = (
    "console",
    "aws-cli",
    "boto3",
    "aws-sdk-go",
    "aws-sdk-java",
    "aws-sdk-js",
    "aws-sdk-other",
    "terraform",
    "cloudformation",
    "pulumi",
    "karpenter",
    "aws-service",
    "azure-cli",
    "azure-powershell",
    "azure-sdk",
    "azure-service",
    "gcloud",
    "google-sdk",
    "gcp-service",
    "curl",
    "python-requests",
    "other",
    "unknown",
)
"""Families the user agent is reduced to (``unknown`` when there is no user agent)."""

_STRING = pa.string()
_STRINGS = pa.list_(pa.string())

CANONICAL_SCHEMA: Final = pa.schema(
    [
        pa.field("event_id", _STRING, nullable=False),
        pa.field("event_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("cloud", _STRING, nullable=False),
        pa.field("account_id", _STRING),
        pa.field("region", _STRING),
        pa.field("event_source", _STRING),
        pa.field("event_name", _STRING, nullable=False),
        pa.field("event_type", _STRING),
        pa.field("read_only", pa.bool_(), nullable=False),
        pa.field("error_code", _STRING),
        pa.field("resource_type", _STRING),
        pa.field("action", _STRING, nullable=False),
        pa.field("is_compute_change", pa.bool_(), nullable=False),
        pa.field("resource_ids", _STRINGS, nullable=False),
        pa.field("attribute", _STRING),
        pa.field("share_targets", _STRINGS, nullable=False),
        pa.field("identity_key", _STRING, nullable=False),
        pa.field("identity_type", _STRING, nullable=False),
        pa.field("principal_arn", _STRING),
        pa.field("actor_account_id", _STRING),
        pa.field("session_name", _STRING),
        pa.field("source_identity", _STRING),
        pa.field("federated_provider", _STRING),
        pa.field("access_key_id", _STRING),
        pa.field("mfa", pa.bool_()),
        pa.field("source_ip", _STRING),
        pa.field("network", _STRING),
        pa.field("by_service", pa.bool_(), nullable=False),
        pa.field("invoked_by", _STRING),
        pa.field("user_agent", _STRING),
        pa.field("client_family", _STRING, nullable=False),
        pa.field("client_version", _STRING),
        pa.field("country", _STRING),
        pa.field("asn", pa.int64()),
        pa.field("as_org", _STRING),
    ],
    metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()},
)
"""Arrow schema of the canonical table, with the schema version in its metadata."""

CANONICAL_COLUMNS: Final = tuple(CANONICAL_SCHEMA.names)
"""Column names in their fixed order."""
