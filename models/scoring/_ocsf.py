"""Findings as OCSF Detection Finding objects (class 2004), version 1.8.0 or 1.1.0.

The mapping is documented in ``docs/findings.md``. Both versions validate against the
official OCSF schema with the ``cloud`` and ``security_control`` profiles (the tests
check every emitted object with the ``ocsf-json-schema`` package): the identity goes
in ``evidences[].actor`` (``actor`` is no attribute of the class), ``action_id`` says
changewatch only observed (1.8 ``Observed``, 1.1 ``Allowed``) and ``disposition_id``
``Detected``. 1.8 adds ``is_alert`` and the model's explanations as ``anomaly_analyses``
(what the window showed against the identity's usual values). Everything OCSF has no
attribute for (the reasons, the rule hits, the model's part, the window context) goes
under ``unmapped`` unchanged, so nothing of the finding is lost. Times are OCSF
``timestamp_t``: milliseconds since the epoch.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

from features import PRODUCT_VERSION
from models.scoring._finding_schema import Finding
from models.scoring._findings import severity_rank
from models.scoring._rules import Severity

__all__ = ["ATTACK_TECHNIQUES", "OCSF_VERSION", "OCSF_VERSIONS", "SEVERITY_IDS", "to_ocsf"]

OCSF_VERSION: Final = "1.8.0"
"""OCSF schema version of the objects by default."""
OCSF_VERSIONS: Final = ("1.8.0", "1.1.0")
"""OCSF versions :func:`to_ocsf` can write: the current one, and 1.1.0 for older consumers."""

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


_PROVIDERS: Final = {"azure": "Azure", "gcp": "GCP"}


_GUID: Final = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$", re.IGNORECASE)


def provider_of(identity: str, account: str | None = None) -> str:
    """Return the OCSF ``cloud.provider``: ``Azure``, ``GCP`` or ``AWS``.

    The identity key's prefix says it (``azure:``, ``gcp:``); for a caller the record did
    not name (``unknown:``), the account's form does: a subscription GUID is Azure, twelve
    digits AWS, any other project id Google Cloud.
    """
    prefix = identity.split(":", 1)[0]
    if prefix in _PROVIDERS:
        return _PROVIDERS[prefix]
    if prefix == "unknown" and account:
        if _GUID.match(account):
            return "Azure"
        if not (account.isdigit() and len(account) == 12):
            return "GCP"
    return "AWS"


def _user(finding: Finding) -> dict[str, Any]:
    identity = finding.identity
    if identity.startswith("arn:"):
        name = identity.rsplit("/", 1)[-1]
    else:
        name = identity.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    user: dict[str, Any] = {"uid": finding.principal_arn or identity, "name": name}
    if finding.account_id:
        user["account"] = {"uid": finding.account_id}
    return user


def _evidences(finding: Finding) -> list[dict[str, Any]]:
    """Return the actor behind the finding with the events it rests on.

    ``actor`` is no class attribute of Detection Finding with its profiles; evidence carries it.
    """
    return [
        {
            "actor": {"user": _user(finding)},
            "data": {"event_ids": finding.event_ids[:100], "event_count": finding.event_count},
        }
    ]


def _anomaly_analyses(finding: Finding) -> list[dict[str, Any]]:
    """Return the model's explanations as OCSF 1.8 anomaly analyses (seen and usual)."""
    model = finding.model
    if model is None or model.cold_start or not model.explanations:
        return []
    span = {"start_time": _ms(model.window_start), "end_time": _ms(model.window_end)}
    anomalies, baselines = [], []
    for explanation in model.explanations:
        observed: dict[str, Any] = {"value": explanation.text}
        if explanation.value is not None:
            observed = {"value": f"{explanation.value:g}", "timespan": span}
        anomalies.append(
            {
                "observation_parameter": explanation.feature,
                "observations": [observed],
                "observed_pattern": explanation.text,
            }
        )
        if explanation.usual is not None:
            baselines.append(
                {
                    "observation_parameter": explanation.feature,
                    "observations": [{"value": f"{explanation.usual:g}"}],
                }
            )
    analysis: dict[str, Any] = {
        "analysis_targets": [{"name": finding.identity, "type": "identity"}],
        "anomalies": anomalies,
    }
    if baselines:
        analysis["baselines"] = baselines
    return [analysis]


_UNMAPPED: Final[set[str]] = {
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
}
"""The finding's own fields kept under ``unmapped.changewatch``."""


def _finding_info(finding: Finding, attacks: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the OCSF ``finding_info``: the rules and model as analytics, the events."""
    analytics = _analytics(finding)
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
    return info


def _cloud(finding: Finding) -> dict[str, Any]:
    """Return the OCSF ``cloud`` object: the provider, the account and the first region."""
    cloud: dict[str, Any] = {"provider": provider_of(finding.identity, finding.account_id)}
    if finding.account_id:
        cloud["account"] = {"uid": finding.account_id}
    if finding.regions:
        cloud["region"] = finding.regions[0]
    return cloud


def to_ocsf(
    finding: Finding,
    *,
    product_version: str = PRODUCT_VERSION,
    version: str = OCSF_VERSION,
) -> dict[str, Any]:
    """Return ``finding`` as an OCSF Detection Finding (class 2004) object.

    Parameters
    ----------
    finding : Finding
        A combined finding.
    product_version : str
        ``metadata.product.version``; changewatch's version by default.
    version : str
        OCSF version of the object: ``1.8.0`` (the default: the model's explanations as
        ``anomaly_analyses``, ``is_alert``) or ``1.1.0`` for older consumers
        (:data:`OCSF_VERSIONS`). Both validate against the official schema with the
        ``cloud`` and ``security_control`` profiles.

    Raises
    ------
    ValueError
        For a version not in :data:`OCSF_VERSIONS`.
    """
    if version not in OCSF_VERSIONS:
        raise ValueError(f"OCSF version must be one of {', '.join(OCSF_VERSIONS)}, got {version!r}")
    severity = Severity(finding.severity)
    severity_id, caption = SEVERITY_IDS[severity]
    attacks = _attacks(finding.techniques)
    modern = version != "1.1.0"
    action_id, action = (3, "Observed") if modern else (1, "Allowed")
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
        "action_id": action_id,
        "action": action,
        "disposition_id": 15,
        "disposition": "Detected",
        "time": _ms(finding.window_end),
        "start_time": _ms(finding.window_start),
        "end_time": _ms(finding.window_end),
        "message": finding.title,
        "finding_info": _finding_info(finding, attacks),
        "metadata": {
            "version": version,
            "product": {
                "name": "changewatch",
                "vendor_name": "changewatch",
                "version": product_version,
            },
            "profiles": ["cloud", "security_control"],
        },
        "evidences": _evidences(finding),
        "cloud": _cloud(finding),
        "risk_score": round(finding.score),
        "risk_level_id": severity_rank(severity),
        "risk_level": _RISK_LEVELS[severity_rank(severity)],
        "unmapped": {"changewatch": finding.model_dump(mode="json", include=_UNMAPPED)},
    }
    if attacks:
        ocsf["attacks"] = attacks
    if modern:
        ocsf["is_alert"] = severity_rank(severity) >= severity_rank(Severity.MEDIUM)
        analyses = _anomaly_analyses(finding)
        if analyses:
            ocsf["anomaly_analyses"] = analyses
    return ocsf
