"""Request and response bodies of the findings, verdict and policy-overview routes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.scoring import Finding

__all__ = [
    "AuditPublic",
    "FindingRecordPublic",
    "FindingRecordsPublic",
    "PolicyOverviewPublic",
    "StatusCreate",
    "SuppressAsk",
    "SuppressionOverview",
    "VerdictCreate",
    "VerdictPublic",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuppressAsk(_Model):
    """The suppression a benign verdict asks for: how long (required) and how wide."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    for_: timedelta = Field(
        alias="for", description="ISO 8601 duration, at most P90D, e.g. `P14D`."
    )
    scope: Literal["identity", "identity+action", "identity+account", "identity+region"] = (
        "identity+action"
    )
    dry_run: bool = Field(
        False, description="Only count what it would silence (`/v1/policy`, `/metrics`)."
    )


class VerdictCreate(_Model):
    """An analyst's verdict on a finding."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "verdict": "benign",
                    "note": "the nightly backup job, moved to 02:00 in CHG-1234",
                    "suppress": {"for": "P14D", "scope": "identity+action"},
                }
            ]
        },
    )

    verdict: Literal["benign", "malicious", "duplicate"]
    note: str | None = Field(None, max_length=2000)
    suppress: SuppressAsk | None = None


class StatusCreate(_Model):
    """Take a finding in hand (``in_progress``) or give it back (``new``)."""

    status: Literal["new", "in_progress"]


class AuditPublic(_Model):
    """A hit a suppression dropped (``silenced``) or would have dropped (``rehearsed``)."""

    suppression: str
    mode: Literal["silenced", "rehearsed"]
    rule_id: str
    identity: str
    start: datetime
    event_ids: list[str]


class FindingRecordPublic(_Model):
    """A stored finding: the finding, its status, the verdict, and the suppressions it made."""

    finding: Finding
    status: Literal["new", "in_progress", "suppressed", "resolved"]
    resolution: Literal["benign", "malicious", "duplicate"] | None
    note: str | None
    verdict_by: str | None
    verdict_at: datetime | None
    suppressions: list[str]
    silenced: list[AuditPublic] = Field(
        default_factory=list,
        description="Hits its suppressions dropped, or in dry-run would have (`mode`).",
    )
    first_seen: datetime
    last_seen: datetime
    source: str


class FindingRecordsPublic(_Model):
    """A page of stored findings; pass ``next_cursor`` as ``cursor`` for the next one."""

    data: list[FindingRecordPublic]
    count: int
    next_cursor: str | None


class VerdictPublic(_Model):
    """What a verdict did: the finding now, and the suppressions it created."""

    finding: FindingRecordPublic
    created_suppressions: list[str]


class SuppressionOverview(_Model):
    """A suppression, whether it is on, and what it silenced or would have silenced."""

    id: str
    rule: str
    identities: list[str]
    owner: str
    reason: str
    expires: datetime
    expired: bool
    dry_run: bool
    silenced: int
    would_silence: int


class PolicyOverviewPublic(_Model):
    """The policy at a glance: suppressions with their audit counts, automation entries."""

    suppressions: list[SuppressionOverview]
    automation: list[dict[str, object]] = Field(
        description="Each stored automation entry, with `dry_run` and `would_raise`: the "
        "`Automation.*` hits it would have raised while in dry-run."
    )
    findings_by_status: dict[str, int]
