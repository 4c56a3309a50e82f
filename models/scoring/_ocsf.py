"""Findings as OCSF 1.1.0 Detection Finding objects (class 2004).

The mapping is documented in ``docs/findings.md``. Everything OCSF has no attribute
for (the reasons, the rule hits, the model's part, the window context) goes under
``unmapped`` unchanged, so nothing of the finding is lost. Times are OCSF
``timestamp_t``: milliseconds since the epoch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from features import PRODUCT_VERSION
from models.scoring._finding_schema import Finding
from models.scoring._findings import severity_rank
from models.scoring._rules import Severity

__all__ = ["ATTACK_TECHNIQUES", "OCSF_VERSION", "SEVERITY_IDS", "to_ocsf"]

OCSF_VERSION: Final = "1.1.0"
"""OCSF schema version the objects follow."""

CLASS_UID: Final = 2004
CATEGORY_UID: Final = 2
ACTIVITY_CREATE: Final = 1

SEVERITY_IDS: Final = {
    Severity.INFO: (1, "Informational"),
    Severity.LOW: (2, "Low"),
    Severity.MEDIUM: (3, "Medium"),
    Severity.HIGH: (4, "High"),
    Severity.CRITICAL: (5, "Critical"),
}
"""OCSF ``severity_id`` and caption of each severity."""

_RISK_LEVELS: Final = ("Info", "Low", "Medium", "High", "Critical")

_TACTICS: Final = {
    "TA0001": "Initial Access",
    "TA0003": "Persistence",
    "TA0004": "Privilege Escalation",
    "TA0005": "Defense Evasion",
    "TA0009": "Collection",
    "TA0010": "Exfiltration",
    "TA0040": "Impact",
}

ATTACK_TECHNIQUES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "T1078": ("Valid Accounts", ("TA0005", "TA0003", "TA0004", "TA0001")),
    "T1078.004": ("Cloud Accounts", ("TA0005", "TA0003", "TA0004", "TA0001")),
    "T1485": ("Data Destruction", ("TA0040",)),
    "T1530": ("Data from Cloud Storage", ("TA0009",)),
    "T1537": ("Transfer Data to Cloud Account", ("TA0010",)),
    "T1578": ("Modify Cloud Compute Infrastructure", ("TA0005",)),
    "T1578.001": ("Create Snapshot", ("TA0005",)),
}
"""ATT&CK name and tactics (ATT&CK v15) of the techniques the rules name."""

_ATTACK_VERSION: Final = "15"
_ML_ANALYTIC: Final = (4, "Learning (ML/DL)")
_RULE_ANALYTIC: Final = (1, "Rule")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _attacks(techniques: list[str]) -> list[dict[str, Any]]:
    """One ATT&CK object per technique and tactic; unknown techniques carry only their id."""
    out: list[dict[str, Any]] = []
    for uid in techniques:
        name, tactics = ATTACK_TECHNIQUES.get(uid, ("", ()))
        parent = uid.split(".", 1)[0]
        if parent != uid:
            technique = {"uid": parent, "name": ATTACK_TECHNIQUES.get(parent, ("",))[0]}
            base: dict[str, Any] = {
                "technique": {k: v for k, v in technique.items() if v},
                "sub_technique": {k: v for k, v in {"uid": uid, "name": name}.items() if v},
            }
        else:
            base = {"technique": {k: v for k, v in {"uid": uid, "name": name}.items() if v}}
        base["version"] = _ATTACK_VERSION
        if not tactics:
            out.append(base)
        for tactic in tactics:
            out.append({**base, "tactic": {"uid": tactic, "name": _TACTICS[tactic]}})
    return out


def _analytics(finding: Finding) -> list[dict[str, Any]]:
    """Return the rules that fired (strongest first), then the model if it contributed."""
    analytics: list[dict[str, Any]] = []
    for rule_id in dict.fromkeys(hit.rule_id for hit in finding.hits):
        type_id, caption = _RULE_ANALYTIC
        analytics.append({"name": rule_id, "uid": rule_id, "type_id": type_id, "type": caption})
    model = finding.model
    if model is not None and not model.cold_start and model.percentile is not None:
        type_id, caption = _ML_ANALYTIC
        name = model.scorer or "changewatch-model"
        analytics.append(
            {"name": name.split("@", 1)[0], "uid": name, "type_id": type_id, "type": caption}
        )
    if not analytics:  # a finding always comes from a rule or the model; keep the shape anyway
        analytics.append({"name": "changewatch", "uid": "changewatch", "type_id": 99})
    return analytics


def _user(finding: Finding) -> dict[str, Any]:
    identity = finding.identity
    name = identity.rsplit("/", 1)[-1] if identity.startswith("arn:") else identity
    user: dict[str, Any] = {"uid": finding.principal_arn or identity, "name": name}
    if finding.account_id:
        user["account"] = {"uid": finding.account_id}
    return user


def to_ocsf(finding: Finding, *, product_version: str = PRODUCT_VERSION) -> dict[str, Any]:
    """Return ``finding`` as an OCSF 1.1.0 Detection Finding (class 2004) object.

    Parameters
    ----------
    finding : Finding
        A combined finding.
    product_version : str
        ``metadata.product.version``; changewatch's version by default.
    """
    severity = Severity(finding.severity)
    severity_id, caption = SEVERITY_IDS[severity]
    analytics = _analytics(finding)
    attacks = _attacks(finding.techniques)
    info: dict[str, Any] = {
        "uid": finding.finding_id,
        "title": finding.title,
        "desc": "; ".join(finding.reasons),
        "types": [*finding.rules, *(["Model.Anomaly"] if finding.model else [])],
        "analytic": analytics[0],
        "first_seen_time": _ms(finding.window_start),
        "last_seen_time": _ms(finding.window_end),
        "related_events": [{"uid": event_id} for event_id in finding.event_ids],
    }
    if analytics[1:]:
        info["related_analytics"] = analytics[1:]
    if attacks:
        info["attacks"] = attacks
    cloud: dict[str, Any] = {"provider": "AWS"}
    if finding.account_id:
        cloud["account"] = {"uid": finding.account_id}
    if finding.regions:
        cloud["region"] = finding.regions[0]
    ocsf: dict[str, Any] = {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": caption,
        "status_id": 1,
        "status": "New",
        "time": _ms(finding.window_end),
        "start_time": _ms(finding.window_start),
        "end_time": _ms(finding.window_end),
        "message": finding.title,
        "finding_info": info,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "changewatch",
                "vendor_name": "changewatch",
                "version": product_version,
            },
            "profiles": ["cloud", "security_control"],
        },
        "actor": {"user": _user(finding)},
        "cloud": cloud,
        "risk_score": round(finding.score),
        "risk_level_id": severity_rank(severity),
        "risk_level": _RISK_LEVELS[severity_rank(severity)],
        "unmapped": {
            "changewatch": finding.model_dump(
                mode="json",
                include={
                    "schema_version",
                    "score",
                    "rules",
                    "reasons",
                    "identity",
                    "event_count",
                    "runbooks",
                    "hits",
                    "model",
                    "change_context",
                },
            )
        },
    }
    if attacks:
        ocsf["attacks"] = attacks
    return ocsf
