"""Change windows, change policy and deterministic rules: the policy side of a finding.

Public surface::

    load_policy(*paths) / parse_policy(*texts)    YAML -> Policy (calendar, organisation,
                                                   automation allow-list, suppressions)
    ChangeCalendar.verdicts(events)                per event: approved / forbidden / unapproved
    ChangeCalendar.verdict(event)                  Approved(by) | Forbidden(by) | Unapproved()
    RuleContext.build(history, policy=...)         what the rules know besides the batch
    evaluate(events, context) -> Evaluation        every rule in RULES, suppressions applied
    combine(windows, hits, facts) -> [Finding]     model windows + rule hits + window context
    score_events(events, policy, scorer, history)  the batch and API path: rules, model, combine
    load_events(paths) / load_scorer(uri)          CloudTrail or Parquet inputs; the model
    to_ocsf(finding)                               OCSF 1.1.0 Detection Finding (class 2004)
"""

from __future__ import annotations

from serving._allowlist import AutomationAllowList, Suppressions
from serving._calendar import Approved, ChangeCalendar, Forbidden, Unapproved, Verdict
from serving._contract import Explanation, ScorerInfo, WindowScore
from serving._finding_schema import (
    FINDING_SCHEMA_VERSION,
    ChangeContext,
    Finding,
    FindingExplanation,
    FindingModel,
    FindingRule,
    FindingsPublic,
)
from serving._findings import CombineSettings, EventFacts, combine, severity_rank
from serving._ocsf import ATTACK_TECHNIQUES, OCSF_VERSION, SEVERITY_IDS, to_ocsf
from serving._policy import Organization, Policy, load_policy, parse_policy
from serving._rules import (
    EBS_DIRECT_READS,
    RULES,
    Evaluation,
    Evidence,
    Hit,
    IdentityHistory,
    Rule,
    RuleContext,
    RuleSettings,
    Severity,
    evaluate,
    rule,
    rule_by_id,
)
from serving._schedule import Duration, Schedule, cron_to_rule, parse_duration, parse_rrule
from serving._scoring import (
    PARQUET_MAGIC,
    LoadedEvents,
    Scorer,
    ScoreResult,
    event_facts,
    load_events,
    load_scorer,
    score_events,
)
from serving._windows_model import (
    AutomationSpec,
    FreezeSpec,
    OrganizationSpec,
    PolicyFile,
    Scope,
    SuppressionSpec,
    TicketSpec,
    WindowSpec,
)

__all__ = [
    "ATTACK_TECHNIQUES",
    "EBS_DIRECT_READS",
    "FINDING_SCHEMA_VERSION",
    "OCSF_VERSION",
    "PARQUET_MAGIC",
    "RULES",
    "SEVERITY_IDS",
    "Approved",
    "AutomationAllowList",
    "AutomationSpec",
    "ChangeCalendar",
    "ChangeContext",
    "CombineSettings",
    "Duration",
    "Evaluation",
    "EventFacts",
    "Evidence",
    "Explanation",
    "Finding",
    "FindingExplanation",
    "FindingModel",
    "FindingRule",
    "FindingsPublic",
    "Forbidden",
    "FreezeSpec",
    "Hit",
    "IdentityHistory",
    "LoadedEvents",
    "Organization",
    "OrganizationSpec",
    "Policy",
    "PolicyFile",
    "Rule",
    "RuleContext",
    "RuleSettings",
    "Schedule",
    "Scope",
    "ScoreResult",
    "Scorer",
    "ScorerInfo",
    "Severity",
    "SuppressionSpec",
    "Suppressions",
    "TicketSpec",
    "Unapproved",
    "Verdict",
    "WindowScore",
    "WindowSpec",
    "combine",
    "cron_to_rule",
    "evaluate",
    "event_facts",
    "load_events",
    "load_policy",
    "load_scorer",
    "parse_duration",
    "parse_policy",
    "parse_rrule",
    "rule",
    "rule_by_id",
    "score_events",
    "severity_rank",
    "to_ocsf",
]
