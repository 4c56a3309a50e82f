"""Deterministic detection rules as code: one small module per rule family, and a registry.

Each rule is a pure function over one batch of canonical events and a read-only
:class:`RuleContext`, carrying its id, severity, ATT&CK technique and runbook line
(``docs/adr/0011-rules-as-code-and-change-precedence.md``).
"""

from __future__ import annotations

from serving._rules._base import Evidence, Hit, Rule, Severity, rule
from serving._rules._context import EBS_DIRECT_READS, IdentityHistory, RuleContext, RuleSettings
from serving._rules._registry import RULES, Evaluation, evaluate, rule_by_id

__all__ = [
    "EBS_DIRECT_READS",
    "RULES",
    "Evaluation",
    "Evidence",
    "Hit",
    "IdentityHistory",
    "Rule",
    "RuleContext",
    "RuleSettings",
    "Severity",
    "evaluate",
    "rule",
    "rule_by_id",
]
