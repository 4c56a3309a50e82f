"""The request body of ``POST /v1/score`` as types, for the OpenAPI document and its clients.

The route itself does not validate bodies with these models: it parses the JSON once
and hands the records to the normaliser, which judges each record alone, so one bad
record is named in ``rejected`` and never fails the batch. These models say what the
normaliser reads: ``eventName`` and ``eventTime`` are required, the other fields are
typed when present, and fields the service does not read are allowed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CloudTrailRecord", "EventBridgeEnvelope", "RecordsBatch", "UserIdentity"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class UserIdentity(_Open):
    """Who made the call (CloudTrail's ``userIdentity``); the identity key is derived from it."""

    type: str | None = Field(None, description="IAMUser, AssumedRole, Root, AWSService ...")
    arn: str | None = None
    accountId: str | None = None  # noqa: N815 - CloudTrail's name
    principalId: str | None = None  # noqa: N815
    accessKeyId: str | None = None  # noqa: N815
    userName: str | None = None  # noqa: N815
    invokedBy: str | None = None  # noqa: N815
    sessionContext: dict[str, Any] | None = None  # noqa: N815


class CloudTrailRecord(_Open):
    """One CloudTrail record as AWS writes it (``Records[]`` of a trail file).

    A record without ``eventID`` gets an id derived from its content.
    """

    eventTime: datetime = Field(  # noqa: N815
        description="ISO 8601; no later than the server clock plus CHANGEWATCH_MAX_FUTURE_SECONDS."
    )
    eventName: str = Field(min_length=1)  # noqa: N815
    eventSource: str | None = Field(None, examples=["ec2.amazonaws.com"])  # noqa: N815
    eventID: str | None = None  # noqa: N815
    eventVersion: str | None = None  # noqa: N815
    eventType: str | None = None  # noqa: N815
    awsRegion: str | None = None  # noqa: N815
    recipientAccountId: str | None = None  # noqa: N815
    sourceIPAddress: str | None = None  # noqa: N815
    userAgent: str | None = None  # noqa: N815
    readOnly: bool | None = None  # noqa: N815
    errorCode: str | None = None  # noqa: N815
    userIdentity: UserIdentity | None = None  # noqa: N815
    requestParameters: dict[str, Any] | None = None  # noqa: N815
    responseElements: dict[str, Any] | None = None  # noqa: N815


class EventBridgeEnvelope(_Open):
    """A CloudTrail event as EventBridge delivers it to an API destination."""

    detail_type: Literal[
        "AWS API Call via CloudTrail",
        "AWS Console Sign In via CloudTrail",
        "AWS Service Event via CloudTrail",
        "AWS Console Action via CloudTrail",
    ] = Field(alias="detail-type")
    detail: CloudTrailRecord
    source: str | None = Field(None, examples=["aws.ec2"])
    account: str | None = Field(None, description="Fills recipientAccountId when it is missing.")
    region: str | None = Field(None, description="Fills awsRegion when it is missing.")
    id: str | None = None
    time: datetime | None = None
    version: str | None = None
    resources: list[str] | None = None


class RecordsBatch(_Open):
    """A CloudTrail file's document: ``{"Records": [...]}``."""

    Records: list[CloudTrailRecord | EventBridgeEnvelope] = Field(
        description="At most CHANGEWATCH_MAX_BATCH records (413 beyond)."
    )
