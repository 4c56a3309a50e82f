"""Which format a raw record is in, told by its content, and the reader that makes its row.

One canonical table holds every cloud (ADR 0044). A record is recognised by its keys,
never by the file it came from, so one folder or one API request may mix formats:

* CloudTrail (``eventName``, or anything no other reader claims: the CloudTrail
  normaliser rejects what it cannot read, naming the field);
* Azure Activity Log, in any of its four shapes (:mod:`features._azure`);
* Google Cloud Audit Logs entries, bare or in a Pub/Sub message (:mod:`features._gcp`);
* OCSF API Activity (:mod:`features._ocsf_input`), which for AWS becomes the CloudTrail
  record it was made from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from features._azure import azure_row, is_azure
from features._gcp import gcp_row, is_gcp
from features._identity import IdentityKeyRule
from features._network import GeoIP
from features._ocsf_input import is_ocsf, ocsf_record

__all__ = ["FORMATS", "format_of", "looks_like_records", "translate"]

FORMATS: Final = ("cloudtrail", "azure", "gcp", "ocsf")
"""Record formats the readers know."""

_HINTS: Final = (
    "operationName",
    "OperationNameValue",
    "operation_name",
    "protoPayload",
    "logName",
    "class_uid",
)
"""Keys of a single record of a format other than CloudTrail (for files holding one record)."""


def format_of(record: Mapping[str, Any]) -> str:
    """Return the format of one record (a JSON object): one of :data:`FORMATS`."""
    if "eventName" in record:
        return "cloudtrail"
    if is_ocsf(record):
        return "ocsf"
    if is_gcp(record):
        return "gcp"
    if is_azure(record):
        return "azure"
    return "cloudtrail"


def looks_like_records(keys: Any) -> bool:
    """Whether an object with these keys is one record of a format other than CloudTrail."""
    return any(key in keys for key in _HINTS) or ("message" in keys and "subscription" in keys)


def translate(
    record: dict[str, Any], rule: IdentityKeyRule, geoip: GeoIP | None
) -> dict[str, Any] | tuple[Any, ...]:
    """Return a CloudTrail record to normalise, or the finished row of another format.

    CloudTrail records come back unchanged; OCSF records from AWS come back as the
    CloudTrail record they were made from (the identity ``rule`` applies to them there).
    """
    kind = format_of(record)
    if kind == "cloudtrail":
        return record
    if kind == "azure":
        return azure_row(record, geoip)
    if kind == "gcp":
        return gcp_row(record, geoip)
    return ocsf_record(record, geoip)
