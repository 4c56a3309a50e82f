"""Request and response bodies of the API, in families (``WindowCreate``, ``WindowPublic`` ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.scoring import (
    AutomationSpec,
    Finding,
    FreezeSpec,
    SuppressionSpec,
    TicketSpec,
    WindowSpec,
)

__all__ = [
    "AutomationCreate",
    "AutomationPublic",
    "AutomationsPublic",
    "EventHits",
    "ExplanationPublic",
    "FreezeCreate",
    "FreezePublic",
    "FreezesPublic",
    "HealthPublic",
    "IgnoredByModel",
    "ImportPublic",
    "ModelPublic",
    "ReadyPublic",
    "RejectedRecord",
    "ReloadPublic",
    "RuleFailure",
    "RuleHitPublic",
    "ScorePublic",
    "SuppressionCreate",
    "SuppressionPublic",
    "SuppressionsPublic",
    "TicketCreate",
    "TicketPublic",
    "TicketsPublic",
    "VectorsCreate",
    "VectorsPublic",
    "WindowCreate",
    "WindowPublic",
    "WindowScorePublic",
    "WindowsPublic",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------- scoring


class RejectedRecord(_Out):
    """A record that was not scored, with its 1-based position, the field and the reason."""

    position: int | None
    field: str | None
    reason: str


class RuleHitPublic(_Out):
    """One rule hit after suppressions."""

    rule_id: str
    severity: str
    technique: str
    runbook: str
    identity: str
    start: datetime
    end: datetime
    reason: str
    event_ids: list[str]


class EventHits(_Out):
    """The rules that fired on one event of the request."""

    event_id: str
    identity: str
    event_name: str
    event_time: datetime
    rules: list[str]


class ExplanationPublic(_Out):
    """One feature's part in a window's score."""

    feature: str
    value: float | None
    usual: float | None
    text: str


class WindowScorePublic(_Out):
    """The model's score for one identity and window, with its explanations."""

    identity: str
    window_start: datetime
    window_end: datetime
    score: float | None
    percentile: float | None
    cold_start: bool
    explanations: list[ExplanationPublic]
    event_ids: list[str]


class IgnoredByModel(_Out):
    """Events of the request the model did not judge, and why (the rules judged them)."""

    events: int = Field(ge=1, description="How many of the request's events the model left out.")
    reason: str = Field(description="Why, in words.")


class RuleFailure(_Out):
    """A rule that raised on this batch and was skipped."""

    rule_id: str
    error: str


class _Answer(_Out):
    degraded: bool = Field(description="True when scored by the rules alone.")
    degraded_reason: str | None = None
    model: str | None = Field(None, description="name@version of the model used.")


class ScorePublic(_Answer):
    """What ``POST /v1/score`` answers: hits, window scores, findings and rejected records."""

    records: int = Field(ge=0, description="Records in the request.")
    scored: int = Field(ge=0, description="Events scored (records less rejected and duplicates).")
    duplicates: int = Field(ge=0, description="Records repeating an event id of the request.")
    already_seen: int = Field(ge=0, description="Events whose id an earlier request sent.")
    rejected: list[RejectedRecord]
    hits: list[RuleHitPublic]
    events: list[EventHits] = Field(description="Per event of the request, the rules it fired.")
    windows: list[WindowScorePublic]
    ignored_by_model: IgnoredByModel | None = Field(
        None, description="Events of the request the model did not judge and why; null if none."
    )
    findings: list[Finding]
    suppressed: int = Field(ge=0)
    rules_failed: list[RuleFailure]


class VectorsCreate(BaseModel):
    """Precomputed behaviour vectors (``features.VECTOR_COLUMNS``), one object per window."""

    vectors: list[dict[str, Any]] = Field(
        description="identity_key, window_start, window_end, schema_version and every feature."
    )


class VectorsPublic(_Answer):
    """What ``POST /v1/score/vectors`` answers."""

    scored: int = Field(ge=0)
    rejected: list[RejectedRecord]
    windows: list[WindowScorePublic]
    findings: list[Finding]


# ----------------------------------------------------------------- change policy


class WindowCreate(WindowSpec):
    """A recurring approved change window (``docs/change-windows.md``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "weekly-maintenance",
                    "rrule": "FREQ=WEEKLY;BYDAY=TU;BYHOUR=22",
                    "duration": "4h",
                    "timezone": "Europe/Berlin",
                    "scope": {"accounts": ["111122223333"], "actions": ["create", "delete"]},
                }
            ]
        }
    )


class WindowPublic(WindowSpec):
    """A stored window."""

    updated_at: datetime


class WindowsPublic(_Out):
    """Every stored window."""

    data: list[WindowPublic]
    count: int


class TicketCreate(TicketSpec):
    """A one-off approved change. Times without an offset are UTC."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "CHG-1042",
                    "owner": "platform-team",
                    "start": "2026-03-02T20:00:00Z",
                    "end": "2026-03-02T23:00:00Z",
                    "scope": {"identities": ["arn:aws:iam::111122223333:role/deploy"]},
                }
            ]
        }
    )


class TicketPublic(TicketSpec):
    """A stored ticket."""

    updated_at: datetime


class TicketsPublic(_Out):
    """Every stored ticket."""

    data: list[TicketPublic]
    count: int


class FreezeCreate(FreezeSpec):
    """A change freeze. Times without an offset are UTC."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "year-end",
                    "start": "2026-12-20",
                    "end": "2027-01-04",
                    "reason": "year-end freeze",
                }
            ]
        }
    )


class FreezePublic(FreezeSpec):
    """A stored freeze."""

    updated_at: datetime


class FreezesPublic(_Out):
    """Every stored freeze."""

    data: list[FreezePublic]
    count: int


class AutomationCreate(AutomationSpec):
    """A known automation identity (allow-list entry)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "terraform-ci",
                    "identities": ["arn:aws:iam::111122223333:role/terraform-*"],
                    "clients": ["terraform/1.*"],
                    "networks": ["10.20.0.0/16"],
                }
            ]
        }
    )


class AutomationPublic(AutomationSpec):
    """A stored allow-list entry."""

    updated_at: datetime


class AutomationsPublic(_Out):
    """Every stored allow-list entry."""

    data: list[AutomationPublic]
    count: int


class SuppressionCreate(SuppressionSpec):
    """A time-limited suppression of one rule in a scope. Times without an offset are UTC."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rule": "Identity.UnusualClient",
                    "scope": {"identities": ["arn:aws:iam::111122223333:user/alice"]},
                    "reason": "new laptop",
                    "owner": "soc",
                    "expires": "2026-12-31",
                }
            ]
        }
    )


class SuppressionPublic(SuppressionSpec):
    """A stored suppression, with the id the service gave it."""

    id: str
    updated_at: datetime


class SuppressionsPublic(_Out):
    """Every stored suppression."""

    data: list[SuppressionPublic]
    count: int


class ImportPublic(_Out):
    """What an import of a change-policy YAML file stored, by kind."""

    imported: dict[str, int]
    replaced: bool


# ----------------------------------------------------------------- model and health


class ModelPublic(_Out):
    """The model being served."""

    uri: str
    loaded: bool
    degraded: bool
    degraded_reason: str | None
    name: str | None
    version: str | None
    alias: str | None
    run_id: str | None
    training_start: str | None
    training_end: str | None
    feature_schema_version: str | None
    features: list[str]
    loaded_at: datetime
    last_reload_error: str | None


class ReloadPublic(_Out):
    """The outcome of a reload: the model now served, and why a failed load was refused."""

    reloaded: bool
    error: str | None
    model: ModelPublic


class HealthPublic(_Out):
    """The process is up."""

    status: Literal["ok"]


class ReadyPublic(_Out):
    """Whether the service can score, and whether it scores with the model."""

    status: Literal["ready", "degraded", "unavailable"]
    degraded: bool
    degraded_reason: str | None
    model: str | None
    state: Literal["ok", "unavailable"]
