"""The scoring core: rules, change policy and the combiner that makes findings.

Pure library code (no FastAPI, no MLflow, no SQLite): the service (``serving``), the
command line and Spark (``training.spark``) all score through it, so they give the same
findings for the same events (ADR 0019).

Public surface::

    load_policy(*paths) / parse_policy(*texts)    YAML -> Policy (calendar, organisation,
                                                   automation allow-list, suppressions)
    ChangeCalendar.verdicts(events)                per event: approved / forbidden / unapproved
    ChangeCalendar.verdict(event)                  Approved(by) | Forbidden(by) | Unapproved()
    RuleContext.build(history, policy=...)         what the rules know besides the batch
    evaluate(events, context) -> Evaluation        every rule in RULES, suppressions applied
    combine(windows, hits, facts) -> [Finding]     model windows + rule hits + window context
    score_events(events, policy, scorer, history)  the batch and API path: rules, model, combine
    evaluate_rules / combine_findings              its stages, for callers with their own model
    IdentityState                                  one identity's model state (the service's)
    load_events(paths) / load_scorer(path)         CloudTrail or Parquet inputs; a model bundle
    to_ocsf(finding, version=)                     OCSF 1.8.0 (or 1.1.0) Detection Finding (2004)
    BatchSummary, HistoryDigest, Reads, ...        what the service's state derives its reads from
    alert_budget(findings, attacks, ...)           benign findings per day, scenarios caught
"""

from __future__ import annotations

from models.scoring._allowlist import AutomationAllowList, Suppressions
from models.scoring._budget import IDENTITY_KINDS, AlertBudget, alert_budget, identity_kind
from models.scoring._calendar import Approved, ChangeCalendar, Forbidden, Unapproved, Verdict
from models.scoring._contract import (
    Explanation,
    IgnoredEvents,
    ModelScores,
    ScorerInfo,
    WindowScore,
)
from models.scoring._detector_scorer import REGISTRY_SCHEMES, DetectorScorer, load_scorer
from models.scoring._finding_schema import (
    FINDING_SCHEMA_VERSION,
    ChangeContext,
    Finding,
    FindingExplanation,
    FindingModel,
    FindingRule,
    FindingsPublic,
)
from models.scoring._findings import CombineSettings, EventFacts, combine, severity_rank
from models.scoring._model_state import FOLD_ROWS, MODEL_COLUMNS, IdentityState, lean
from models.scoring._ocsf import (
    ATTACK_TECHNIQUES,
    OCSF_VERSION,
    OCSF_VERSIONS,
    SEVERITY_IDS,
    to_ocsf,
)
from models.scoring._policy import Organization, Policy, load_policy, parse_policy
from models.scoring._rules import (
    EBS_DIRECT_READS,
    RULES,
    BatchSummary,
    Evaluation,
    Evidence,
    HistoryDigest,
    Hit,
    IdentityHistory,
    Reads,
    Rule,
    RuleContext,
    RuleSettings,
    Severity,
    evaluate,
    rule,
    rule_by_id,
    unexpected_client,
    unexpected_network,
)
from models.scoring._schedule import Duration, Schedule, cron_to_rule, parse_duration, parse_rrule
from models.scoring._scoring import (
    PARQUET_MAGIC,
    BatchScorer,
    LoadedEvents,
    ModelWindows,
    Scorer,
    ScoreResult,
    WindowSource,
    combine_findings,
    evaluate_rules,
    event_facts,
    load_events,
    score_events,
)
from models.scoring._suggest import Suggestion, SuggestSettings, suggest_policy, suggestion_yaml
from models.scoring._windows_model import (
    AutomationSpec,
    FreezeSpec,
    OrganizationSpec,
    PolicyFile,
    Scope,
    SuppressionSpec,
    TicketSpec,
    WindowSpec,
)
from models.scoring._yaml import (
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    load_yaml_model,
    read_yaml_model,
)

__all__ = [
    "ATTACK_TECHNIQUES",
    "EBS_DIRECT_READS",
    "FINDING_SCHEMA_VERSION",
    "FOLD_ROWS",
    "IDENTITY_KINDS",
    "MAX_YAML_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "MODEL_COLUMNS",
    "OCSF_VERSION",
    "OCSF_VERSIONS",
    "PARQUET_MAGIC",
    "REGISTRY_SCHEMES",
    "RULES",
    "SEVERITY_IDS",
    "AlertBudget",
    "Approved",
    "AutomationAllowList",
    "AutomationSpec",
    "BatchScorer",
    "BatchSummary",
    "ChangeCalendar",
    "ChangeContext",
    "CombineSettings",
    "DetectorScorer",
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
    "HistoryDigest",
    "Hit",
    "IdentityHistory",
    "IdentityState",
    "IgnoredEvents",
    "LoadedEvents",
    "ModelScores",
    "ModelWindows",
    "Organization",
    "OrganizationSpec",
    "Policy",
    "PolicyFile",
    "Reads",
    "Rule",
    "RuleContext",
    "RuleSettings",
    "Schedule",
    "Scope",
    "ScoreResult",
    "Scorer",
    "ScorerInfo",
    "Severity",
    "SuggestSettings",
    "Suggestion",
    "SuppressionSpec",
    "Suppressions",
    "TicketSpec",
    "Unapproved",
    "Verdict",
    "WindowScore",
    "WindowSource",
    "WindowSpec",
    "alert_budget",
    "combine",
    "combine_findings",
    "cron_to_rule",
    "evaluate",
    "evaluate_rules",
    "event_facts",
    "identity_kind",
    "lean",
    "load_events",
    "load_policy",
    "load_scorer",
    "load_yaml_model",
    "parse_duration",
    "parse_policy",
    "parse_rrule",
    "read_yaml_model",
    "rule",
    "rule_by_id",
    "score_events",
    "severity_rank",
    "suggest_policy",
    "suggestion_yaml",
    "to_ocsf",
    "unexpected_client",
    "unexpected_network",
]
