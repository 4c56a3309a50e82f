"""Deterministic detection rules as code: one small module per rule family, and a registry.

Each rule is a pure function over one batch of canonical events and a read-only
:class:`RuleContext`, carrying its id, severity, ATT&CK technique and runbook line
(``docs/adr/0011-rules-as-code-and-change-precedence.md``).
"""

from __future__ import annotations

from models.scoring._rules._base import Evidence, Hit, Rule, Severity, rule
from models.scoring._rules._context import (
    EBS_DIRECT_READS,
    HistoryDigest,
    IdentityHistory,
    RuleContext,
    RuleSettings,
)
from models.scoring._rules._identity import unexpected_client, unexpected_network
from models.scoring._rules._reads import Reads
from models.scoring._rules._registry import RULES, Evaluation, evaluate, rule_by_id
from models.scoring._rules._summary import BatchSummary

__all__ = [
    "EBS_DIRECT_READS",
    "RULES",
    "BatchSummary",
    "Evaluation",
    "Evidence",
    "HistoryDigest",
    "Hit",
    "IdentityHistory",
    "Reads",
    "Rule",
    "RuleContext",
    "RuleSettings",
    "Severity",
    "evaluate",
    "rule",
    "rule_by_id",
    "unexpected_client",
    "unexpected_network",
]
