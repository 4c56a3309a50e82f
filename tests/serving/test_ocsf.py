"""Findings as OCSF Detection Finding (class 2004) objects, valid under the official schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.scoring import (
    OCSF_VERSIONS,
    EventFacts,
    Explanation,
    Finding,
    Hit,
    ScorerInfo,
    WindowScore,
    combine,
    rule_by_id,
    to_ocsf,
)
from tests.serving.ocsf_schema import schema_errors

ALICE = "arn:aws:iam::111122223333:user/alice"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
FACTS = {
    "e1": EventFacts("111122223333", "eu-central-1", ALICE, "unapproved"),
    "e2": EventFacts("111122223333", "eu-west-1", ALICE),
}

# Required attributes of Detection Finding 2004 (base event, finding, the finding_info /
# analytic / metadata / product objects and the cloud profile), by path; the official
# schema checks the rest (test_every_object_validates_against_the_official_schema).
REQUIRED = [
    "activity_id",
    "category_uid",
    "class_uid",
    "type_uid",
    "time",
    "severity_id",
    "metadata",
    "metadata.version",
    "metadata.product",
    "metadata.product.vendor_name",
    "finding_info",
    "finding_info.uid",
    "finding_info.title",
    "finding_info.analytic.type_id",
    "cloud.provider",
]


def _window(percentile: float, cold: bool = False) -> WindowScore:
    text = Explanation(
        "snapshots_created", 14.0, 0.0, "14 snapshots created in one hour; usually 0"
    )
    return WindowScore(
        ALICE, T0, T0 + timedelta(hours=1), 0.7, percentile, cold, (text,), ("e1", "e2")
    )


def _hit(rule_id: str) -> Hit:
    rule = rule_by_id(rule_id)
    at = T0 + timedelta(minutes=5)
    return Hit(rule.id, rule.severity, rule.technique, rule.runbook, ("e1",), ALICE, at, at, "why")


FINDINGS: dict[str, Finding] = {
    "model only": combine([_window(99.7)], [], FACTS, scorer=ScorerInfo("iforest", "3"))[0],
    "rules only": combine([], [_hit("Sharing.ForeignAccount")], FACTS)[0],
    "both": combine([_window(99.2)], [_hit("ChangeWindow.OutsideApproved")], FACTS)[0],
    "sub-technique": combine([], [_hit("Sequence.SnapshotToNewInstance")], FACTS)[0],
    "cold start": combine([_window(0.0, cold=True)], [_hit("Sharing.Public")], {})[0],
}


def _get(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        assert isinstance(value, dict), f"{path}: {part} is not inside an object"
        assert part in value, f"missing required attribute {path}"
        value = value[part]
    return value


@pytest.mark.parametrize("name", FINDINGS)
@pytest.mark.parametrize("path", REQUIRED)
def test_every_object_has_the_required_attributes_of_the_class(name: str, path: str) -> None:
    assert _get(to_ocsf(FINDINGS[name]), path) is not None


@pytest.mark.parametrize("version", OCSF_VERSIONS)
@pytest.mark.parametrize("name", FINDINGS)
def test_every_object_validates_against_the_official_schema(name: str, version: str) -> None:
    ocsf = to_ocsf(FINDINGS[name], version=version)
    assert ocsf["metadata"]["version"] == version
    assert schema_errors(ocsf) == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda o: o.update(actor={"user": {"uid": "x"}}), "Additional properties"),
        (lambda o: o.pop("action_id"), "'action_id' is a required property"),
        (lambda o: o.update(severity_id=9), "is not one of"),
    ],
    ids=["actor at the top", "no action_id", "unknown severity"],
)
def test_the_validator_fails_on_what_consumers_reject(change: Any, error: str) -> None:
    ocsf = to_ocsf(FINDINGS["both"], version="1.1.0")
    change(ocsf)
    assert any(error in message for message in schema_errors(ocsf))


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.8\.0, 1\.1\.0"):
        to_ocsf(FINDINGS["both"], version="1.9.0")


def test_the_current_version_is_the_default_and_carries_the_models_analysis() -> None:
    ocsf = to_ocsf(FINDINGS["model only"])
    assert ocsf["metadata"]["version"] == "1.8.0"
    assert FINDINGS["model only"].severity == "low"
    assert ocsf["is_alert"] is False  # an alert is medium or higher
    assert to_ocsf(FINDINGS["rules only"])["is_alert"] is True
    (analysis,) = ocsf["anomaly_analyses"]
    assert analysis["analysis_targets"] == [{"name": ALICE, "type": "identity"}]
    (anomaly,) = analysis["anomalies"]
    assert anomaly["observation_parameter"] == "snapshots_created"
    assert anomaly["observations"][0]["value"] == "14"
    assert analysis["baselines"][0]["observations"] == [{"value": "0"}]
    assert (ocsf["action_id"], ocsf["disposition_id"], ocsf["status_id"]) == (3, 15, 1)


def test_version_1_1_has_neither_alert_flag_nor_anomaly_analyses() -> None:
    ocsf = to_ocsf(FINDINGS["model only"], version="1.1.0")
    assert "is_alert" not in ocsf
    assert "anomaly_analyses" not in ocsf
    assert ocsf["action_id"] == 1  # Allowed: 1.1 has no Observed


@pytest.mark.parametrize(
    ("identity", "provider"),
    [
        (ALICE, "AWS"),
        ("azure:user:alice@corp.example", "Azure"),
        ("gcp:sa:x@p.iam.gserviceaccount.com", "GCP"),
    ],
)  # fmt: skip
def test_the_cloud_provider_follows_the_identity(identity: str, provider: str) -> None:
    finding = FINDINGS["rules only"].model_copy(update={"identity": identity})
    ocsf = to_ocsf(finding)
    assert ocsf["cloud"]["provider"] == provider
    assert schema_errors(ocsf) == []


@pytest.mark.parametrize("name", FINDINGS)
def test_class_identity_and_json(name: str) -> None:
    ocsf = to_ocsf(FINDINGS[name])
    assert (ocsf["class_uid"], ocsf["category_uid"], ocsf["activity_id"]) == (2004, 2, 1)
    assert ocsf["type_uid"] == ocsf["class_uid"] * 100 + ocsf["activity_id"]
    assert ocsf["metadata"]["version"] == "1.8.0"
    assert ocsf["metadata"]["product"]["name"] == "changewatch"
    assert ocsf["finding_info"]["uid"] == FINDINGS[name].finding_id
    assert json.loads(json.dumps(ocsf)) == ocsf  # plain JSON, nothing left to serialise
    for key in ("time", "start_time", "end_time"):
        assert isinstance(ocsf[key], int)
    assert ocsf["start_time"] == int(FINDINGS[name].window_start.timestamp() * 1000)
    for attack in ocsf.get("attacks", []):  # at least one of tactic, technique, sub_technique
        assert {"tactic", "technique", "sub_technique"} & attack.keys()
    for event in ocsf["finding_info"]["related_events"]:
        assert set(event) == {"uid"}


@pytest.mark.parametrize(
    ("severity", "severity_id", "caption"),
    [("info", 1, "Informational"), ("low", 2, "Low"), ("medium", 3, "Medium"),
     ("high", 4, "High"), ("critical", 5, "Critical")],
)  # fmt: skip
def test_severity_mapping(severity: str, severity_id: int, caption: str) -> None:
    finding = FINDINGS["rules only"].model_copy(update={"severity": severity})
    ocsf = to_ocsf(finding)
    assert (ocsf["severity_id"], ocsf["severity"]) == (severity_id, caption)
    assert ocsf["risk_level_id"] == severity_id - 1


def test_rule_finding_names_the_rule_as_analytic_and_maps_attack() -> None:
    ocsf = to_ocsf(FINDINGS["rules only"])
    info = ocsf["finding_info"]
    assert info["analytic"] == {
        "name": "Sharing.ForeignAccount",
        "uid": "Sharing.ForeignAccount",
        "type_id": 1,
        "type": "Rule",
    }
    assert ocsf["attacks"] == info["attacks"]
    assert ocsf["attacks"][0]["technique"] == {
        "uid": "T1537",
        "name": "Transfer Data to Cloud Account",
    }
    assert ocsf["attacks"][0]["tactic"] == {"uid": "TA0010", "name": "Exfiltration"}
    assert ocsf["cloud"] == {
        "provider": "AWS",
        "account": {"uid": "111122223333"},
        "region": "eu-central-1",
    }
    assert "actor" not in ocsf  # not an attribute of the class: the actor is evidence
    (evidence,) = ocsf["evidences"]
    assert evidence["actor"]["user"]["uid"] == ALICE
    assert evidence["actor"]["user"]["name"] == "alice"
    assert evidence["data"]["event_ids"] == ["e1"]


def test_model_finding_names_the_model_as_a_learning_analytic() -> None:
    ocsf = to_ocsf(FINDINGS["model only"])
    analytic = ocsf["finding_info"]["analytic"]
    assert (analytic["type_id"], analytic["uid"], analytic["name"]) == (4, "iforest@3", "iforest")
    assert "Model.Anomaly" in ocsf["finding_info"]["types"]
    assert "attacks" not in ocsf
    assert ocsf["unmapped"]["changewatch"]["model"]["percentile"] == 99.7


def test_combined_finding_lists_the_model_among_related_analytics() -> None:
    ocsf = to_ocsf(FINDINGS["both"])
    info = ocsf["finding_info"]
    assert info["analytic"]["uid"] == "ChangeWindow.OutsideApproved"
    assert [a["type_id"] for a in info["related_analytics"]] == [4]
    assert info["desc"] == "; ".join(FINDINGS["both"].reasons)
    assert ocsf["risk_score"] == round(FINDINGS["both"].score)


def test_sub_technique_keeps_its_parent_technique() -> None:
    (attack,) = to_ocsf(FINDINGS["sub-technique"])["attacks"]
    assert attack["technique"] == {"uid": "T1578", "name": "Modify Cloud Compute Infrastructure"}
    assert attack["sub_technique"] == {"uid": "T1578.001", "name": "Create Snapshot"}


def test_unknown_technique_carries_only_its_id() -> None:
    finding = FINDINGS["rules only"].model_copy(update={"techniques": ["T9999"]})
    assert to_ocsf(finding)["attacks"] == [{"technique": {"uid": "T9999"}, "version": "15"}]


def test_cold_start_finding_has_no_model_analytic_and_keeps_extras_unmapped() -> None:
    ocsf = to_ocsf(FINDINGS["cold start"])
    assert [a["type_id"] for a in [ocsf["finding_info"]["analytic"]]] == [1]
    assert "related_analytics" not in ocsf["finding_info"]
    extras = ocsf["unmapped"]["changewatch"]
    assert extras["model"]["cold_start"] is True
    assert any("new identity" in r for r in extras["reasons"])
    assert ocsf["cloud"] == {"provider": "AWS"}  # no facts: no account, no region
