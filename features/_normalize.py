"""One raw CloudTrail record -> one canonical row, or a :class:`RecordRejected`.

:func:`normalize` is the only place that reads raw records. It reads nested fields
defensively, checks the type of every field it uses, and raises nothing but
:class:`~changewatch.errors.RecordRejected` for any input (a hypothesis test feeds it
arbitrary JSON). Every row it makes is held to the field limits of
:mod:`features._limits` (:func:`~features._limits.bounded_row`): the service and the command line
both normalise here, so both keep no more. :class:`TableBuilder` collects rows into
an Arrow table of the canonical schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import pyarrow as pa

from features._clients import client_of
from features._clouds import translate
from features._exceptions import RecordRejected
from features._fields import bool_text, event_time, obj, synthetic_id, text, type_name
from features._identity import IdentityKeyRule, role_arn_from_sts
from features._limits import bounded_row
from features._network import GeoIP, GeoRecord, is_service_address, network_of
from features._parameters import call_attribute, share_targets
from features._schema import CANONICAL_SCHEMA
from features._taxonomy import classify, resource_ids, resource_type_of_id

__all__ = ["Normalizer", "TableBuilder", "normalize", "unwrap"]

_CLOUDTRAIL_DETAIL_TYPES: Final = frozenset(
    {
        "AWS API Call via CloudTrail",
        "AWS Console Sign In via CloudTrail",
        "AWS Service Event via CloudTrail",
        "AWS Console Action via CloudTrail",
    }
)
_NO_GEO: Final = GeoRecord(None, None, None)
_TAG_EVENTS: Final = frozenset({"CreateTags", "DeleteTags"})
_DESCRIBED_ATTRIBUTES: Final = frozenset({"DescribeInstanceAttribute"})
"""``Describe*`` calls that name one resource and the attribute they read (user data)."""
_PERSON_TYPES: Final = frozenset({"SAMLUser", "WebIdentityUser"})

Row = tuple[Any, ...]


_type_name = type_name
_str = text
_obj = obj
_bool_text = bool_text
_event_time = event_time


def unwrap(record: Any) -> dict[str, Any]:
    """Return the CloudTrail record inside an EventBridge envelope, or the record itself.

    The envelope's ``account`` and ``region`` fill ``recipientAccountId`` and
    ``awsRegion`` when the detail lacks them.

    Raises
    ------
    RecordRejected
        When the record is not a JSON object, or is an EventBridge event of another kind.
    """
    if type(record) is not dict:
        if isinstance(record, RecordRejected):  # a line the reader could not parse
            raise record
        raise RecordRejected("(record)", f"expected a JSON object, got {_type_name(record)}")
    if "detail-type" not in record or "detail" not in record:
        return record
    detail_type = record["detail-type"]
    if detail_type not in _CLOUDTRAIL_DETAIL_TYPES:
        raise RecordRejected(
            "detail-type", f"not a CloudTrail event in EventBridge: {str(detail_type)[:60]!r}"
        )
    detail = record["detail"]
    if type(detail) is not dict:
        raise RecordRejected("detail", f"expected an object, got {_type_name(detail)}")
    account, region = record.get("account"), record.get("region")
    if "recipientAccountId" not in detail and type(account) is str:
        detail = {**detail, "recipientAccountId": account}
    if "awsRegion" not in detail and type(region) is str:
        detail = {**detail, "awsRegion": region}
    return detail


_synthetic_id = synthetic_id


def needs_details(resource_type: str | None, event_source: str | None, event_name: str) -> bool:
    """Whether a call's parameters must be read for ids, attribute and share targets."""
    if resource_type is not None:
        return not event_name.startswith("Describe") or event_name in _DESCRIBED_ATTRIBUTES
    return event_name in _TAG_EVENTS and event_source == "ec2.amazonaws.com"


def change_details(
    event_source: str | None,
    event_name: str,
    request: Any,
    response: Any,
    account: str | None,
) -> tuple[str | None, str, list[str], str | None, list[str]]:
    """Return ``(resource_type, action, resource_ids, attribute, share_targets)`` of a call.

    Only for calls where :func:`needs_details` holds; others have no ids, attribute or
    targets. ``Describe*`` calls list filters, not resources touched, so they are not
    read, except ``DescribeInstanceAttribute`` (one instance, and the attribute read);
    single-resource reads (``GetPasswordData``, ``GetSnapshotBlock``) are.
    """
    resource_type, action = classify(event_source, event_name)
    if resource_type is None:  # CreateTags / DeleteTags: the type of the tagged resource
        ids = resource_ids(request, None)
        return (resource_type_of_id(ids[0]) if ids else None), action, ids, None, []
    if action == "read":
        attribute = call_attribute(event_name, request, None)
        return resource_type, action, resource_ids(request, None), attribute, []
    targets = share_targets(event_name, request, account)
    return (
        resource_type,
        "share" if targets else action,
        resource_ids(request, response),
        call_attribute(event_name, request, response),
        targets,
    )


@dataclass(frozen=True, slots=True)
class _Identity:
    key: str
    type: str
    arn: str | None
    account: str | None
    session: str | None
    access_key: str | None
    mfa: bool | None
    invoked_by: str | None
    source_identity: str | None = None
    federated_provider: str | None = None


def _identity(record: dict[str, Any], rule: IdentityKeyRule, account: str | None) -> _Identity:
    user = _obj(record, "userIdentity", "userIdentity")
    if not user:
        return _Identity(f"unknown:{account or '-'}", "Unknown", None, None, None, None, None, None)
    # The same userIdentity repeats thousands of times in a trail: remember the answer
    # by its serialised content (exact, since the answer depends on nothing else but
    # the account, which is part of the cache key).
    try:
        cache_key = (orjson.dumps(user, option=orjson.OPT_NON_STR_KEYS), account, rule)
    except (TypeError, orjson.JSONEncodeError):
        return _identity_of(user, rule, account)
    found = _identity_cache.get(cache_key)
    if found is None:
        found = _identity_of(user, rule, account)
        _remember(cache_key, found)
    return found


_identity_cache: dict[tuple[bytes, str | None, IdentityKeyRule], _Identity] = {}


def _remember(key: tuple[bytes, str | None, IdentityKeyRule], identity: _Identity) -> None:
    """Memoise an identity by its serialised ``userIdentity``, account and rule (bounded)."""
    if len(_identity_cache) > 50_000:
        _identity_cache.clear()
    _identity_cache[key] = identity


def _identity_of(user: dict[str, Any], rule: IdentityKeyRule, account: str | None) -> _Identity:
    if not user:
        return _Identity(f"unknown:{account or '-'}", "Unknown", None, None, None, None, None, None)
    kind = _str(user, "type", "userIdentity.type") or "Unknown"
    arn = _str(user, "arn", "userIdentity.arn")
    actor_account = _str(user, "accountId", "userIdentity.accountId")
    principal = _str(user, "principalId", "userIdentity.principalId")
    invoked_by = _str(user, "invokedBy", "userIdentity.invokedBy")
    access_key = _str(user, "accessKeyId", "userIdentity.accessKeyId")
    user_name = _str(user, "userName", "userIdentity.userName")
    context = _obj(user, "sessionContext", "userIdentity.sessionContext") or {}
    issuer = _obj(context, "sessionIssuer", "userIdentity.sessionContext.sessionIssuer") or {}
    issuer_arn = _str(issuer, "arn", "userIdentity.sessionContext.sessionIssuer.arn")
    attributes = _obj(context, "attributes", "userIdentity.sessionContext.attributes") or {}
    mfa = _bool_text(attributes.get("mfaAuthenticated"))
    web = _obj(context, "webIdFederationData", "userIdentity.sessionContext.webIdFederationData")
    provider = None
    if web is not None:
        path = "userIdentity.sessionContext.webIdFederationData.federatedProvider"
        provider = _str(web, "federatedProvider", path) or "web-identity"
    source_identity = _str(context, "sourceIdentity", "userIdentity.sessionContext.sourceIdentity")
    owner = actor_account or account or "-"
    session: str | None = None

    if kind == "AssumedRole":
        parsed = role_arn_from_sts(arn) if arn else None
        role_arn = issuer_arn or (parsed[0] if parsed else None)
        session = parsed[1] if parsed else None
        if session is None and principal and ":" in principal:
            session = principal.split(":", 1)[1]
        if role_arn:
            key = rule.assumed_role_key(role_arn, session, source_identity=source_identity)
        else:
            key = f"account:{owner}:{principal or 'unknown'}"
    elif kind == "AWSService":
        key = f"service:{invoked_by or 'unknown'}"
    elif kind == "IAMUser":
        key = arn or f"arn:aws:iam::{owner}:user/{user_name or principal or 'unknown'}"
    elif kind == "Root":
        key = arn or f"arn:aws:iam::{owner}:root"
    elif kind == "FederatedUser":
        key = arn or f"account:{owner}:{principal or 'unknown'}"
        session = arn.rsplit("/", 1)[-1] if arn and "/" in arn else None
    elif kind == "AWSAccount":
        key = f"account:{owner}:{principal or 'unknown'}"
    elif kind in _PERSON_TYPES:
        key = f"federated:{principal or user_name or 'unknown'}"
    elif kind == "IdentityCenterUser":
        behalf = _obj(user, "onBehalfOf", "userIdentity.onBehalfOf") or {}
        user_id = _str(behalf, "userId", "userIdentity.onBehalfOf.userId")
        key = f"identitycenter:{user_id or principal or 'unknown'}"
    else:
        key = arn or (f"account:{owner}:{principal}" if principal else f"unknown:{account or '-'}")
    return _Identity(
        key,
        kind,
        arn,
        actor_account,
        session,
        access_key,
        mfa,
        invoked_by,
        source_identity,
        provider,
    )


@dataclass(slots=True)
class Normalizer:
    """Turns raw records into canonical rows.

    Parameters
    ----------
    rule : IdentityKeyRule
        How role sessions are keyed.
    geoip : GeoIP, optional
        Adds country, ASN and AS organisation when given.
    """

    rule: IdentityKeyRule = field(default_factory=IdentityKeyRule)
    geoip: GeoIP | None = None

    def __call__(self, raw: Any) -> Row:
        """Return the canonical row of ``raw`` (any format :mod:`features._clouds` knows).

        CloudTrail records and EventBridge envelopes are read here; Azure, Google Cloud and
        OCSF records by their own readers.

        Raises
        ------
        RecordRejected
            Naming the field and the reason; never any other exception.
        """
        try:
            record = translate(unwrap(raw), self.rule, self.geoip)
            return bounded_row(self._normalize(record) if isinstance(record, dict) else record)
        except RecordRejected:
            raise
        except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as error:
            # A shape no check above foresaw: still one record's problem, never the batch's.
            raise RecordRejected("(record)", f"unreadable record: {error}") from error

    def _normalize(self, record: dict[str, Any]) -> Row:
        event_name, micros = _name_and_time(record)
        event_source, event_id, region, event_type, error_code, source_ip, user_agent, account = (
            _header_strings(record)
        )
        event_id = event_id or _synthetic_id(record)
        read_only = record.get("readOnly")
        if read_only is not None and type(read_only) is not bool:
            raise RecordRejected("readOnly", f"expected a boolean, got {_type_name(read_only)}")
        user_account = record.get("userIdentity")
        if account is None and type(user_account) is dict:
            owner = user_account.get("accountId")
            account = owner if type(owner) is str else None
        request = record.get("requestParameters")
        response = record.get("responseElements")

        resource_type, action = classify(event_source, event_name)
        ids: list[str] = []
        targets: list[str] = []
        attribute: str | None = None
        if needs_details(resource_type, event_source, event_name):
            resource_type, action, ids, attribute, targets = change_details(
                event_source, event_name, request, response, account
            )
        if read_only is None:
            read_only = action == "read"

        who = _identity(record, self.rule, account)
        mfa = who.mfa
        if event_name == "ConsoleLogin":
            extra = record.get("additionalEventData")
            if type(extra) is dict:
                mfa = _bool_text(extra.get("MFAUsed"))
        family, version = client_of(user_agent)
        by_service = (
            who.type == "AWSService" or who.invoked_by is not None or is_service_address(source_ip)
        )
        geo = self.geoip.lookup(source_ip) if self.geoip is not None else _NO_GEO
        return (
            event_id,
            micros,
            "aws",
            account,
            region,
            event_source,
            event_name,
            event_type,
            read_only,
            error_code,
            resource_type,
            action,
            resource_type is not None and action != "read",
            ids,
            attribute,
            targets,
            who.key,
            who.type,
            who.arn,
            who.account,
            who.session,
            who.source_identity,
            who.federated_provider,
            who.access_key,
            mfa,
            source_ip,
            network_of(source_ip),
            by_service,
            who.invoked_by,
            user_agent,
            family,
            version,
            geo.country,
            geo.asn,
            geo.as_org,
        )


_HEADER_FIELDS: Final = (
    "eventSource",
    "eventID",
    "awsRegion",
    "eventType",
    "errorCode",
    "sourceIPAddress",
    "userAgent",
    "recipientAccountId",
)
"""The record's top-level text fields, in the order :func:`_header_strings` returns them."""


def _name_and_time(record: dict[str, Any]) -> tuple[str, int]:
    """Return a record's ``eventName`` and its time (microseconds), or reject the record."""
    event_name = record.get("eventName")
    if type(event_name) is not str or not event_name:
        if event_name is None or event_name == "":
            raise RecordRejected("eventName", "missing")
        raise RecordRejected("eventName", f"expected a string, got {_type_name(event_name)}")
    when = record.get("eventTime")
    if when is None and "@version" in record:
        # Logstash's CloudTrail codec moves eventTime into @timestamp.
        when = record.get("@timestamp")
    if when is None:
        raise RecordRejected("eventTime", "missing")
    return event_name, _event_time(when)


def _header_strings(record: dict[str, Any]) -> list[Any]:
    """Return the :data:`_HEADER_FIELDS` of a record, each a string or ``None``, or reject it."""
    values = [record.get(name) for name in _HEADER_FIELDS]
    for value, name in zip(values, _HEADER_FIELDS, strict=True):
        if value is not None and type(value) is not str:
            raise RecordRejected(name, f"expected a string, got {_type_name(value)}")
    return values


def normalize(raw: Any, *, rule: IdentityKeyRule | None = None) -> Row:
    """Normalise one record without GeoIP (see :class:`Normalizer`)."""
    return Normalizer(rule or IdentityKeyRule())(raw)


class TableBuilder:
    """Collects canonical rows and turns them into an Arrow table of the canonical schema."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def __len__(self) -> int:
        return len(self.rows)

    def append(self, row: Row) -> None:
        """Add one row."""
        self.rows.append(row)

    def build(self) -> pa.Table:
        """Return the rows as a table and start empty again."""
        rows, self.rows = self.rows, []
        if not rows:
            return CANONICAL_SCHEMA.empty_table()
        columns = list(zip(*rows, strict=True))
        arrays = [
            pa.array(column, type=spec.type)
            for column, spec in zip(columns, CANONICAL_SCHEMA, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=CANONICAL_SCHEMA)
