"""Every rule with events that must fire it and events that must not (Stratus among them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from models.scoring import (
    RULES,
    Hit,
    RuleContext,
    RuleSettings,
    Severity,
    evaluate,
    parse_policy,
    rule_by_id,
)

Event = tuple[str, str, dict[str, Any]]

NOW = datetime(2026, 4, 1, tzinfo=UTC)
ORG = "version: 1\norganization: {id: o-a1b2c3d4e5, accounts: ['111122223333', '444455556666']}\n"
AFTERNOON_ONLY = (
    "version: 1\ntimezone: Europe/Berlin\nwindows:\n"
    "  - {name: weekday-mornings, cron: '0 9 * * 1-5', duration: PT3H}\n"
)
THURSDAY_2PM = (
    "version: 1\ntimezone: Europe/Berlin\nwindows:\n"
    "  - {name: thursday-2pm, cron: '0 14 * * thu', duration: PT1H}\n"
)
FROZEN = THURSDAY_2PM + (
    "tickets:\n  - {id: CHG-9, start: 2024-08-01T00:00Z, end: 2024-08-02T00:00Z, owner: bob}\n"
    "freezes:\n  - {name: summer-freeze, start: 2024-07-29, end: 2024-08-05, reason: audit}\n"
)
STEAL_ROLE = "arn:aws:iam::*:role/stratus-red-team-ec2-steal-credentials-role"
STOLEN = (
    "version: 1\nautomation:\n"
    f"  - {{name: steal-role, identities: ['{STEAL_ROLE}'], clients: [boto3],"
    " networks: [10.0.0.0/8]}\n"
)
PIPELINE = (
    "version: 1\nautomation:\n  - name: deploy-pipeline\n"
    "    identities: ['arn:aws:iam::*:role/deploy-*']\n"
    "    clients: ['terraform/1.7.*', aws-cli]\n    networks: [10.20.0.0/16]\n"
)
LEARNED = (
    "version: 1\nautomation:\n  - {name: backup, identities: ['arn:aws:iam::*:role/backup']}\n"
)
TERRAFORM_17 = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) "
    "terraform-provider-aws/5.40.0"
)
TERRAFORM_19 = TERRAFORM_17.replace("1.7.4", "1.9.0")

I1 = "i-0c1c2c3c4c5c6c7c8"
V1, V0 = "vol-0d1d2d3d4d5d6d7d8", "vol-0a1a2a3a4a5a6a7a8"
OUR_ORG = "arn:aws:organizations::111122223333:organization/o-a1b2c3d4e5"
OTHER_ORG = "arn:aws:organizations::999999999999:organization/o-zzzzzzzzzz"
S1, S2 = "snap-0b1b2b3b4b5b6b7b8", "snap-0e1e2e3e4e5e6e7e8"
INSTANCE = {"instancesSet": {"items": [{"instanceId": I1}]}}


def _share(target: dict[str, str], op: str = "add") -> dict[str, Any]:
    return {
        "request": {
            "snapshotId": S1,
            "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {op: {"items": [target]}},
        }
    }


def _chain(launched: str, source: str = S1, attach_error: str | None = None) -> tuple[Event, ...]:
    attach: dict[str, Any] = {"request": {"volumeId": V1, "instanceId": I1, "device": "/dev/sdf"}}
    if attach_error:
        attach["error"] = attach_error
    return (
        (
            "CreateSnapshot",
            "2026-03-02T10:00:00Z",
            {"request": {"volumeId": V0}, "response": {"snapshotId": S1, "volumeId": V0}},
        ),
        (
            "RunInstances",
            launched,
            {
                "request": {"instancesSet": {"items": [{"imageId": "ami-0f1f2f3f4f5f6f7f8"}]}},
                "response": INSTANCE,
            },
        ),
        (
            "CreateVolume",
            "2026-03-02T10:10:00Z",
            {"request": {"snapshotId": source}, "response": {"volumeId": V1, "snapshotId": source}},
        ),
        ("AttachVolume", "2026-03-02T10:15:00Z", attach),
    )


def _terminations(count: int, start: str, minutes: float = 0.5, **extra: Any) -> tuple[Event, ...]:
    first = datetime.fromisoformat(start.replace("Z", "+00:00"))
    return tuple(
        (
            "TerminateInstances",
            (first + timedelta(minutes=minutes * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            {"request": {"instancesSet": {"items": [{"instanceId": f"i-0{i:016x}"}]}}, **extra},
        )
        for i in range(count)
    )


def _ebs(name: str, time: str = "2026-03-02T10:00:00Z") -> Event:
    return (
        name,
        time,
        {"source": "ebs.amazonaws.com", "request": {"snapshotId": S1, "blockIndex": 7}},
    )


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    fires: bool
    batch: tuple[Event, ...] = ()
    stratus: str | None = None
    history: tuple[Event, ...] = ()
    policy: str | None = None
    reason: str = ""


CASES = [
    # ChangeWindow.OutsideApproved
    Case(
        "user-data outside the window",
        "ChangeWindow.OutsideApproved",
        True,
        stratus="aws.execution.ec2-user-data",
        policy=AFTERNOON_ONLY,
        reason="3 compute changes (StopInstances, ModifyInstanceAttribute, StartInstances)",
    ),
    Case(
        "user-data inside the window",
        "ChangeWindow.OutsideApproved",
        False,
        stratus="aws.execution.ec2-user-data",
        policy=THURSDAY_2PM,
    ),
    Case(
        "failed launch of unusual instances",
        "ChangeWindow.OutsideApproved",
        True,
        stratus="aws.execution.ec2-launch-unusual-instances",
        policy=THURSDAY_2PM,
        reason="(1 failed: Client.UnauthorizedOperation)",
    ),
    Case(
        "dry run is no change",
        "ChangeWindow.OutsideApproved",
        False,
        batch=(("RunInstances", "2026-03-02T20:00:00Z", {"error": "Client.DryRunOperation"}),),
        policy=THURSDAY_2PM,
    ),
    Case(
        "auto scaling acting for a role",
        "ChangeWindow.OutsideApproved",
        False,
        batch=(
            (
                "RunInstances",
                "2026-03-02T20:00:00Z",
                {
                    "role": "web",
                    "response": INSTANCE,
                    "invoked_by": "autoscaling.amazonaws.com",
                    "ip": "autoscaling.amazonaws.com",
                },
            ),
        ),
        policy=THURSDAY_2PM,
    ),
    Case(
        "a freeze is reported as a freeze",
        "ChangeWindow.OutsideApproved",
        False,
        stratus="aws.execution.ec2-user-data",
        policy=FROZEN,
    ),
    Case(
        "without a policy the calendar says nothing",
        "ChangeWindow.OutsideApproved",
        False,
        stratus="aws.execution.ec2-user-data",
    ),
    # ChangeWindow.InsideFreeze
    Case(
        "freeze beats window and ticket",
        "ChangeWindow.InsideFreeze",
        True,
        stratus="aws.execution.ec2-user-data",
        policy=FROZEN,
        reason="during freeze summer-freeze (audit)",
    ),
    Case(
        "no freeze",
        "ChangeWindow.InsideFreeze",
        False,
        stratus="aws.execution.ec2-user-data",
        policy=AFTERNOON_ONLY,
    ),
    Case(
        "reads in a freeze",
        "ChangeWindow.InsideFreeze",
        False,
        batch=(("DescribeInstances", "2024-08-01T10:00:00Z", {}),),
        policy=FROZEN,
    ),
    # Sharing.ForeignAccount
    Case(
        "stratus snapshot share",
        "Sharing.ForeignAccount",
        True,
        stratus="aws.exfiltration.ec2-share-ebs-snapshot",
        policy=ORG,
        reason="snapshot snap-041993b54a9b3af6f shared with account 098797384747, "
        "which is not in the organisation",
    ),
    Case(
        "stratus AMI share",
        "Sharing.ForeignAccount",
        True,
        stratus="aws.exfiltration.ec2-share-ami",
        policy=ORG,
        reason="image ami-de1fbCab6ccB03e6D shared with account 846424999548",
    ),
    Case(
        "share with the organisation",
        "Sharing.ForeignAccount",
        False,
        batch=(
            ("ModifySnapshotAttribute", "2026-03-02T10:00:00Z", _share({"userId": "444455556666"})),
        ),
        policy=ORG,
    ),
    Case(
        "share with our organisation ARN",
        "Sharing.ForeignAccount",
        False,
        batch=(
            (
                "ModifySnapshotAttribute",
                "2026-03-02T10:00:00Z",
                _share({"organizationArn": OUR_ORG}),
            ),
        ),
        policy=ORG,
    ),
    Case(
        "share with another organisation",
        "Sharing.ForeignAccount",
        True,
        batch=(
            (
                "ModifySnapshotAttribute",
                "2026-03-02T10:00:00Z",
                _share({"organizationArn": OTHER_ORG}),
            ),
        ),
        policy=ORG,
        reason="shared with organisation o-zzzzzzzzzz, which is not in the organisation",
    ),
    Case(
        "removing a foreign account",
        "Sharing.ForeignAccount",
        False,
        batch=(
            (
                "ModifySnapshotAttribute",
                "2026-03-02T10:00:00Z",
                _share({"userId": "098797384747"}, op="remove"),
            ),
        ),
        policy=ORG,
    ),
    # Sharing.Public
    Case(
        "snapshot made public",
        "Sharing.Public",
        True,
        batch=(("ModifySnapshotAttribute", "2026-03-02T10:00:00Z", _share({"group": "all"})),),
        reason=f"snapshot {S1} in account 111122223333 shared with everyone",
    ),
    Case(
        "failed attempt to make public",
        "Sharing.Public",
        True,
        batch=(
            (
                "ModifySnapshotAttribute",
                "2026-03-02T10:00:00Z",
                {**_share({"group": "all"}), "error": "Client.UnauthorizedOperation"},
            ),
        ),
        reason="(group all) (attempt failed: Client.UnauthorizedOperation)",
    ),
    Case(
        "stratus foreign share is not public",
        "Sharing.Public",
        False,
        stratus="aws.exfiltration.ec2-share-ebs-snapshot",
    ),
    Case(
        "public permission removed",
        "Sharing.Public",
        False,
        batch=(
            (
                "ModifySnapshotAttribute",
                "2026-03-02T10:00:00Z",
                _share({"group": "all"}, op="remove"),
            ),
        ),
    ),
    # Sequence.SnapshotToNewInstance
    Case(
        "snapshot to fresh instance",
        "Sequence.SnapshotToNewInstance",
        True,
        batch=_chain("2026-03-02T10:05:00Z"),
        reason=f"snapshot {S1} became volume {V1}, attached to instance {I1} launched 10 min",
    ),
    Case(
        "instance launched days before",
        "Sequence.SnapshotToNewInstance",
        False,
        batch=_chain("2026-02-27T10:05:00Z"),
    ),
    Case(
        "volume from another snapshot",
        "Sequence.SnapshotToNewInstance",
        False,
        batch=_chain("2026-03-02T10:05:00Z", source=S2),
    ),
    Case(
        "attachment failed",
        "Sequence.SnapshotToNewInstance",
        False,
        batch=_chain("2026-03-02T10:05:00Z", attach_error="Client.IncorrectState"),
    ),
    # Identity.DormantChange
    Case(
        "dormant for 60 days",
        "Identity.DormantChange",
        True,
        batch=(("StopInstances", "2026-03-02T10:00:00Z", {"request": INSTANCE}),),
        history=(("DescribeInstances", "2026-01-01T09:00:00Z", {}),),
        reason="identity idle for 60 days (last seen 2026-01-01) made 1 compute change",
    ),
    Case(
        "active last week",
        "Identity.DormantChange",
        False,
        batch=(("StopInstances", "2026-03-02T10:00:00Z", {"request": INSTANCE}),),
        history=(("DescribeInstances", "2026-02-23T09:00:00Z", {}),),
    ),
    Case(
        "dormant but only reading",
        "Identity.DormantChange",
        False,
        batch=(("DescribeInstances", "2026-03-02T10:00:00Z", {}),),
        history=(("DescribeInstances", "2026-01-01T09:00:00Z", {}),),
    ),
    Case(
        "never seen is not dormant",
        "Identity.DormantChange",
        False,
        batch=(
            ("StopInstances", "2026-03-02T10:00:00Z", {"request": INSTANCE, "user": "mallory"}),
        ),
        history=(("DescribeInstances", "2026-01-01T09:00:00Z", {}),),
    ),
    # Automation.UnexpectedClient
    Case(
        "stolen instance credentials, odd client",
        "Automation.UnexpectedClient",
        True,
        stratus="aws.credential-access.ec2-steal-instance-credentials",
        policy=STOLEN,
        reason="from client other ('stratus-red-team_",
    ),
    Case(
        "pipeline with its terraform",
        "Automation.UnexpectedClient",
        False,
        batch=(
            (
                "RunInstances",
                "2026-03-02T10:00:00Z",
                {"role": "deploy-web", "agent": TERRAFORM_17, "ip": "10.20.1.5"},
            ),
        ),
        policy=PIPELINE,
    ),
    Case(
        "pipeline with another terraform version",
        "Automation.UnexpectedClient",
        True,
        batch=(
            (
                "RunInstances",
                "2026-03-02T10:00:00Z",
                {"role": "deploy-web", "agent": TERRAFORM_19, "ip": "10.20.1.5"},
            ),
        ),
        policy=PIPELINE,
        reason="from client terraform",
    ),
    Case(
        "learned client differs",
        "Automation.UnexpectedClient",
        True,
        batch=(("CreateSnapshot", "2026-03-02T10:00:00Z", {"role": "backup", "ip": "10.1.1.9"}),),
        history=(
            (
                "CreateSnapshot",
                "2026-02-01T10:00:00Z",
                {"role": "backup", "agent": "Boto3/1.34.0 md/Botocore#1.34.0", "ip": "10.1.1.9"},
            ),
        ),
        policy=LEARNED,
        reason="not among the clients it used since 2026-02-01 (boto3)",
    ),
    Case(
        "learned client is the same",
        "Automation.UnexpectedClient",
        False,
        batch=(
            (
                "CreateSnapshot",
                "2026-03-02T10:00:00Z",
                {"role": "backup", "agent": "Boto3/1.35.2 md/Botocore#1.35.2", "ip": "10.1.1.9"},
            ),
        ),
        history=(
            (
                "CreateSnapshot",
                "2026-02-01T10:00:00Z",
                {"role": "backup", "agent": "Boto3/1.34.0 md/Botocore#1.34.0", "ip": "10.1.1.9"},
            ),
        ),
        policy=LEARNED,
    ),
    Case(
        "people are not automation",
        "Automation.UnexpectedClient",
        False,
        stratus="aws.execution.ec2-user-data",
        policy=PIPELINE,
    ),
    # Automation.UnexpectedNetwork
    Case(
        "stolen instance credentials, outside network",
        "Automation.UnexpectedNetwork",
        True,
        stratus="aws.credential-access.ec2-steal-instance-credentials",
        policy=STOLEN,
        reason="from 18.236.253.47, outside the networks allow-listed for steal-role (10.0.0.0/8)",
    ),
    Case(
        "pipeline inside its network",
        "Automation.UnexpectedNetwork",
        False,
        batch=(
            (
                "RunInstances",
                "2026-03-02T10:00:00Z",
                {"role": "deploy-web", "agent": TERRAFORM_17, "ip": "10.20.1.5"},
            ),
        ),
        policy=PIPELINE,
    ),
    Case(
        "learned network differs",
        "Automation.UnexpectedNetwork",
        True,
        batch=(
            ("CreateSnapshot", "2026-03-02T10:00:00Z", {"role": "backup", "ip": "198.51.100.7"}),
        ),
        history=(("CreateSnapshot", "2026-02-01T10:00:00Z", {"role": "backup", "ip": "10.1.1.9"}),),
        policy=LEARNED,
        reason="from 198.51.100.7, outside the 1 network it used since 2026-02-01",
    ),
    Case(
        "anonymised addresses are not judged",
        "Automation.UnexpectedNetwork",
        False,
        batch=(
            (
                "RunInstances",
                "2026-03-02T10:00:00Z",
                {"role": "deploy-web", "agent": TERRAFORM_17, "ip": "253.252.51.07"},
            ),
        ),
        policy=PIPELINE,
    ),
    # Burst.Changes and Burst.Deletions
    Case(
        "mass termination, changes",
        "Burst.Changes",
        True,
        batch=_terminations(30, "2026-03-02T10:00:00Z"),
        history=_terminations(2, "2026-02-10T10:00:00Z"),
        reason="30 compute changes within 60 min (TerminateInstances x30), 15.0x its largest",
    ),
    Case(
        "mass termination, deletions",
        "Burst.Deletions",
        True,
        batch=_terminations(30, "2026-03-02T10:00:00Z"),
        history=_terminations(2, "2026-02-10T10:00:00Z"),
        reason="30 deletions within 60 min",
    ),
    Case(
        "new identity deleting a lot",
        "Burst.Deletions",
        True,
        batch=_terminations(12, "2026-03-02T10:00:00Z"),
        reason="it never made any before",
    ),
    Case(
        "usual for this identity",
        "Burst.Deletions",
        False,
        batch=_terminations(30, "2026-03-02T10:00:00Z"),
        history=_terminations(25, "2026-02-10T10:00:00Z"),
    ),
    Case("few deletions", "Burst.Deletions", False, batch=_terminations(8, "2026-03-02T10:00:00Z")),
    Case(
        "spread over the day",
        "Burst.Changes",
        False,
        batch=_terminations(30, "2026-03-02T00:00:00Z", minutes=45),
    ),
    # EBS.DirectBlockRead
    Case(
        "first block read",
        "EBS.DirectBlockRead",
        True,
        batch=(_ebs("ListSnapshotBlocks"), _ebs("GetSnapshotBlock", "2026-03-02T10:00:05Z")),
        reason=f"2 EBS direct-API reads (ListSnapshotBlocks, GetSnapshotBlock) of snapshot {S1}",
    ),
    Case(
        "known block reader",
        "EBS.DirectBlockRead",
        False,
        batch=(_ebs("GetSnapshotBlock"),),
        history=(_ebs("ListChangedBlocks", "2026-02-01T00:00:00Z"),),
    ),
    Case(
        "block writes are not reads",
        "EBS.DirectBlockRead",
        False,
        batch=(_ebs("PutSnapshotBlock"), _ebs("StartSnapshot")),
    ),
]


def _frame(
    case_events: Iterable[Event], rec: Callable[..., dict[str, Any]], events_of: Any
) -> pd.DataFrame:
    return events_of(rec(name, time, **extra) for name, time, extra in case_events)


def check_case(
    case: Case,
    rec: Callable[..., dict[str, Any]],
    events_of: Callable[[Iterable[dict[str, Any]]], pd.DataFrame],
    stratus: Callable[[str], pd.DataFrame],
    **context_extra: Any,
) -> list[Hit]:
    """Run the case's rule on its batch (history, policy) and check that it fires or not."""
    batch = stratus(case.stratus) if case.stratus else _frame(case.batch, rec, events_of)
    history = _frame(case.history, rec, events_of) if case.history else None
    policy = parse_policy(case.policy) if case.policy else None
    context = replace(RuleContext.build(history, policy=policy, now=NOW), **context_extra)
    result = evaluate(batch, context, rules=[rule_by_id(case.rule)])
    assert not result.failed
    assert bool(result.hits) == case.fires, [hit.reason for hit in result.hits]
    if case.reason:
        assert case.reason in result.hits[0].reason
    for hit in result.hits:
        assert hit.rule_id == case.rule
        assert set(hit.event_ids) <= set(batch["event_id"])
        assert hit.start <= hit.end
    return result.hits


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}:{c.id}" for c in CASES])
def test_rule_cases(
    case: Case,
    rec: Callable[..., dict[str, Any]],
    events_of: Callable[[Iterable[dict[str, Any]]], pd.DataFrame],
    stratus: Callable[[str], pd.DataFrame],
) -> None:
    check_case(case, rec, events_of, stratus)


def test_every_rule_has_firing_and_silent_cases() -> None:
    from tests.serving.test_rules_compute import CASES as COMPUTE_CASES

    for one in RULES:
        outcomes = {case.fires for case in (*CASES, *COMPUTE_CASES) if case.rule == one.id}
        assert outcomes == {True, False}, one.id


def test_rule_metadata_is_complete_and_ids_are_unique() -> None:
    assert len({one.id for one in RULES}) == len(RULES)
    for one in RULES:
        family, _, name = one.id.partition(".")
        assert family
        assert name
        assert one.title
        assert one.runbook
        assert one.technique.startswith("T")
        assert one.severity in Severity


def test_share_hit_names_the_event_and_identity(stratus: Callable[[str], pd.DataFrame]) -> None:
    batch = stratus("aws.exfiltration.ec2-share-ebs-snapshot")
    (hit,) = rule_by_id("Sharing.ForeignAccount")(batch, RuleContext(policy=parse_policy(ORG)))
    assert hit.event_ids == ("6897ff63-d738-445c-9e86-43e5b1f8e12f",)
    assert hit.identity == "arn:aws:iam::756680937392:user/christophe"
    assert hit.severity is Severity.HIGH
    assert hit.technique == "T1537"
    assert hit.to_dict()["start"] == "2024-08-01T12:28:02+00:00"


def test_outside_window_groups_an_identitys_changes_by_session(
    rec: Callable[..., dict[str, Any]], events_of: Any
) -> None:
    batch = _frame(
        [("StopInstances", f"2026-03-02T2{h}:00:00Z", {"request": INSTANCE}) for h in (0, 0, 1)]
        + [("StopInstances", "2026-03-03T05:00:00Z", {"request": INSTANCE})],
        rec,
        events_of,
    )
    hits = rule_by_id("ChangeWindow.OutsideApproved")(
        batch, RuleContext(policy=parse_policy(THURSDAY_2PM))
    )
    assert [len(hit.event_ids) for hit in hits] == [3, 1]


def test_evidence_is_capped(rec: Callable[..., dict[str, Any]], events_of: Any) -> None:
    batch = _frame(_terminations(40, "2026-03-02T10:00:00Z"), rec, events_of)
    context = RuleContext.build(None, settings=RuleSettings(max_evidence=5))
    (hit,) = rule_by_id("Burst.Deletions")(batch, context)
    assert len(hit.event_ids) == 5
    assert "40 deletions" in hit.reason
