"""Change windows, change policy and deterministic rules: the policy side of a finding.

Public surface::

    load_policy(*paths) / parse_policy(*texts)    YAML -> Policy (calendar, organisation,
                                                   automation allow-list, suppressions)
    ChangeCalendar.verdicts(events)                per event: approved / forbidden / unapproved
    ChangeCalendar.verdict(event)                  Approved(by) | Forbidden(by) | Unapproved()
    RuleContext.build(history, policy=...)         what the rules know besides the batch
    evaluate(events, context) -> Evaluation        every rule in RULES, suppressions applied
"""

from __future__ import annotations

from serving._allowlist import AutomationAllowList, Suppressions
from serving._calendar import Approved, ChangeCalendar, Forbidden, Unapproved, Verdict
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
    "EBS_DIRECT_READS",
    "RULES",
    "Approved",
    "AutomationAllowList",
    "AutomationSpec",
    "ChangeCalendar",
    "Duration",
    "Evaluation",
    "Evidence",
    "Forbidden",
    "FreezeSpec",
    "Hit",
    "IdentityHistory",
    "Organization",
    "OrganizationSpec",
    "Policy",
    "PolicyFile",
    "Rule",
    "RuleContext",
    "RuleSettings",
    "Schedule",
    "Scope",
    "Severity",
    "SuppressionSpec",
    "Suppressions",
    "TicketSpec",
    "Unapproved",
    "Verdict",
    "WindowSpec",
    "cron_to_rule",
    "evaluate",
    "load_policy",
    "parse_duration",
    "parse_policy",
    "parse_rrule",
    "rule",
    "rule_by_id",
]
