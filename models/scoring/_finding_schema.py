"""The finding schema: the pydantic models of ``findings.jsonl`` and the API's pages.

``docs/findings.md`` documents every key; :data:`FINDING_SCHEMA_VERSION` is bumped
whenever a key changes meaning or type.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.scoring._rules import Severity

__all__ = [
    "FINDING_SCHEMA_VERSION",
    "ChangeContext",
    "Finding",
    "FindingExplanation",
    "FindingModel",
    "FindingRule",
    "FindingsPublic",
]

FINDING_SCHEMA_VERSION: Final = "1"
"""Version of the finding JSON; bumped whenever a key changes meaning or type."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FindingRule(_Model):
    """One rule hit inside a finding."""

    rule_id: str
    severity: Severity
    technique: str
    runbook: str
    reason: str
    start: AwareDatetime
    end: AwareDatetime
    event_ids: list[str]


class FindingExplanation(_Model):
    """One model explanation: feature, the window's value, the usual value, the sentence."""

    feature: str
    value: float | None
    usual: float | None
    text: str


class FindingModel(_Model):
    """What the model said about the finding's most unusual window."""

    scorer: str | None
    percentile: float | None = Field(ge=0, le=100)
    score: float | None
    cold_start: bool
    window_start: AwareDatetime
    window_end: AwareDatetime
    explanations: list[FindingExplanation]


class ChangeContext(_Model):
    """The change calendar's view of the finding's compute changes.

    ``verdict`` is ``forbidden`` when any change fell in a freeze, else ``unapproved``
    when any change lay outside every window and ticket, else ``approved`` when every
    change was approved, and ``none`` without a policy or without changes.
    """

    verdict: Literal["approved", "forbidden", "unapproved", "none"]
    by: list[str]
    changes: int = Field(ge=0)


class Finding(_Model):
    """One finding: what changewatch reports about one identity over one span of time.

    Validated on creation; ``model_dump_json()`` is one line of ``findings.jsonl``.
    ``docs/findings.md`` documents every key.
    """

    finding_id: Annotated[str, Field(pattern=r"^cw-[0-9a-f]{32}$")]
    schema_version: Literal["1"] = FINDING_SCHEMA_VERSION
    severity: Severity
    score: float = Field(ge=0, le=100)
    title: str
    rules: list[str]
    reasons: list[str] = Field(min_length=1)
    identity: str
    principal_arn: str | None
    account_id: str | None
    regions: list[str]
    window_start: AwareDatetime
    window_end: AwareDatetime
    event_ids: list[str]
    event_count: int = Field(ge=0)
    techniques: list[str]
    runbooks: list[str]
    hits: list[FindingRule]
    model: FindingModel | None
    change_context: ChangeContext


class FindingsPublic(_Model):
    """A page of findings, as the API returns them."""

    data: list[Finding]
    count: int = Field(ge=0)
