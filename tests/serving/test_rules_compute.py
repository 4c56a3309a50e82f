"""The compute rules (ADR 0035): each with events that must fire it and events that must not.

Firing cases come from the Stratus Red Team detonations where one exists; silent cases
from the benign traffic the rules must leave alone (Terraform changing user data inside
its window, an autoscaler launching the large nodes it always launches, a pipeline
reading user data as it always does). Where the case gives a history, the severity says
whether the rule judged the action new (raised) or routine (lowered) for the identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd
import pytest

from features import AwsRanges
from models.scoring import Severity
from tests.serving.test_rules import ORG, THURSDAY_2PM, Case, Event, check_case

I1, I2 = "i-0c1c2c3c4c5c6c7c8", "i-0a1a2a3a4a5a6a7a8"
SG = "sg-0b1b2b3b4b5b6b7b8"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
DEPLOY = {"role": "deploy-web", "agent": "aws-sdk-go-v2/1.25 terraform-provider-aws/5.40.0"}
RANGES = AwsRanges.parse(
    orjson.dumps(
        {
            "syncToken": "1787433425",
            "createDate": "2026-08-22-21-17-05",
            "prefixes": [{"ip_prefix": "18.236.0.0/15", "region": "us-west-2", "service": "EC2"}],
            "ipv6_prefixes": [{"ipv6_prefix": "2600:1f14::/35", "service": "EC2"}],
        }
    ),
    "test ranges",
)


@dataclass(frozen=True)
class ComputeCase(Case):
    """A :class:`Case` that may also name the hit's severity."""

    severity: Severity | None = None


def _launch(kind: str, *, time: str = "2026-03-02T10:00:00Z", **extra: Any) -> Event:
    return ("RunInstances", time, {"request": {"instanceType": kind}, **extra})


def _fleet(kind: str, time: str) -> Event:
    overrides = {"Overrides": [{"InstanceType": kind}]}
    request = {"CreateFleetRequest": {"LaunchTemplateConfigs": overrides}}
    return ("CreateFleet", time, {"request": request, "role": "KarpenterNodeRole"})


def _ingress(cidr: str, port: int, time: str = "2026-03-02T10:00:00Z") -> Event:
    item = {"ipProtocol": "tcp", "fromPort": port, "toPort": port}
    key = "ipv6Ranges" if ":" in cidr else "ipRanges"
    inner = "cidrIpv6" if ":" in cidr else "cidrIp"
    item[key] = {"items": [{inner: cidr}]}
    return (
        "AuthorizeSecurityGroupIngress",
        time,
        {"request": {"groupId": SG, "ipPermissions": {"items": [item]}}},
    )


def _user_data_read(instance: str, time: str, **extra: Any) -> Event:
    request = {"instanceId": instance, "attribute": "userData"}
    return ("DescribeInstanceAttribute", time, {"request": request, **extra})


def _template_version(time: str, **extra: Any) -> Event:
    data = {"ImageId": "ami-0f1f2f3f4f5f6f7f8", "UserData": "<sensitiveDataRemoved>"}
    request = {
        "CreateLaunchTemplateVersionRequest": {
            "LaunchTemplateId": "lt-0e1e2e3e4e5e6e7e8",
            "LaunchTemplateData": data,
        }
    }
    return ("CreateLaunchTemplateVersion", time, {"request": request, **extra})


def _instance_call(time: str, ip: str, name: str = "DescribeInstances") -> Event:
    return (name, time, {"role": "app-web", "session": I1, "ip": ip})


def _snapshot_permission(op: str) -> Event:
    request = {
        "snapshotId": "snap-0b1b2b3b4b5b6b7b8",
        "attributeType": "CREATE_VOLUME_PERMISSION",
        "createVolumePermission": {op: {"items": [{"userId": "444455556666"}]}},
    }
    return ("ModifySnapshotAttribute", "2026-03-02T10:00:00Z", {"request": request})


SEEN = (("DescribeInstances", "2026-02-10T09:00:00Z", {}),)
"""History in which the identity exists but did none of the compute actions."""

CASES = [
    # UserData.Modified
    ComputeCase(
        "stratus: stop, user data, start",
        "UserData.Modified",
        True,
        stratus="aws.execution.ec2-user-data",
        reason="user data of instance i-DDd6c7B0e18F0E35f replaced "
        "(StopInstances and StartInstances around it)",
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "terraform's launch-template version inside its window",
        "UserData.Modified",
        False,
        batch=(_template_version("2026-03-05T13:10:00Z", **DEPLOY),),
        policy=THURSDAY_2PM,
    ),
    ComputeCase(
        "launch-template version with user data outside every window",
        "UserData.Modified",
        True,
        batch=(_template_version("2026-03-05T22:10:00Z", **DEPLOY),),
        history=(_template_version("2026-02-12T13:10:00Z", **DEPLOY),),
        policy=THURSDAY_2PM,
        reason="launch template lt-0e1e2e3e4e5e6e7e8 given a version with user data outside "
        "every approved window and ticket; the identity changed user data before",
        severity=Severity.LOW,
    ),
    ComputeCase(
        "never changed user data in its history",
        "UserData.Modified",
        True,
        batch=(
            (
                "ModifyInstanceAttribute",
                "2026-03-02T10:00:00Z",
                {"request": {"instanceId": I1, "userData": "<sensitiveDataRemoved>"}},
            ),
        ),
        history=SEEN,
        reason="never changed user data in its history (since 2026-02-10)",
        severity=Severity.HIGH,
    ),
    ComputeCase(
        "instance type changed, not user data",
        "UserData.Modified",
        False,
        batch=(
            (
                "ModifyInstanceAttribute",
                "2026-03-02T10:00:00Z",
                {"request": {"instanceId": I1, "instanceType": {"value": "m6i.2xlarge"}}},
            ),
        ),
    ),
    # UserData.Read
    ComputeCase(
        "stratus: user data of 15 instances, all denied",
        "UserData.Read",
        True,
        stratus="aws.discovery.ec2-download-user-data",
        reason="15 reads of user data of instance i-",
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "one read without history",
        "UserData.Read",
        True,
        batch=(_user_data_read(I1, "2026-03-02T10:00:00Z"),),
        severity=Severity.LOW,
    ),
    ComputeCase(
        "first read of a known identity",
        "UserData.Read",
        True,
        batch=(_user_data_read(I1, "2026-03-02T10:00:00Z"),),
        history=SEEN,
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "a person's first look at user data in the console stays low",
        "UserData.Read",
        True,
        batch=(_user_data_read(I1, "2026-03-02T10:00:00Z", agent=BROWSER),),
        history=SEEN,
        severity=Severity.LOW,
    ),
    ComputeCase(
        "the pipeline reads user data when it plans, as always",
        "UserData.Read",
        False,
        batch=tuple(
            _user_data_read(f"i-0{i:016x}", f"2026-03-02T10:00:{i:02d}Z", **DEPLOY)
            for i in range(20)
        ),
        history=(_user_data_read(I1, "2026-02-10T10:00:00Z", **DEPLOY),),
    ),
    ComputeCase(
        "a routine reader's session sweeping 12 instances, denied: not how its reads go",
        "UserData.Read",
        True,
        batch=tuple(
            _user_data_read(
                f"i-0{i:016x}", f"2026-03-02T10:00:{i:02d}Z", error="Client.UnauthorizedOperation"
            )
            for i in range(12)
        ),
        history=(_user_data_read(I1, "2026-02-10T10:00:00Z"),),
        reason="most of it denied",
        severity=Severity.MEDIUM,
    ),
    # Credentials.PasswordData
    ComputeCase(
        "stratus: 30 denied password reads",
        "Credentials.PasswordData",
        True,
        stratus="aws.credential-access.ec2-get-password-data",
        reason="30 reads of Windows password data, a sweep of 10 or more "
        "(30 failed: Client.UnauthorizedOperation)",
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "an admin who fetches passwords routinely",
        "Credentials.PasswordData",
        False,
        batch=(("GetPasswordData", "2026-03-02T10:00:00Z", {"request": {"instanceId": I1}}),),
        history=(("GetPasswordData", "2026-02-10T10:00:00Z", {"request": {"instanceId": I2}}),),
    ),
    # Launch.UnusualInstances
    ComputeCase(
        "stratus: p2.xlarge, denied",
        "Launch.UnusualInstances",
        True,
        stratus="aws.execution.ec2-launch-unusual-instances",
        reason="1 launch of accelerated or very large instances (p2.xlarge)",
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "a key that never launched GPUs",
        "Launch.UnusualInstances",
        True,
        batch=(
            _launch("p3.16xlarge", error="Client.VcpuLimitExceeded"),
            _launch("g5.12xlarge", time="2026-03-02T10:01:00Z"),
        ),
        history=(_launch("m6i.large", time="2026-02-10T10:00:00Z"),),
        reason="2 launches of accelerated or very large instances (p3.16xlarge, g5.12xlarge)",
        severity=Severity.HIGH,
    ),
    ComputeCase(
        "karpenter launching the large nodes it always launches",
        "Launch.UnusualInstances",
        False,
        batch=(_fleet("c6i.32xlarge", "2026-03-02T10:00:00Z"),),
        history=(_fleet("c6i.32xlarge", "2026-02-10T10:00:00Z"),),
    ),
    ComputeCase(
        "ordinary instance types",
        "Launch.UnusualInstances",
        False,
        batch=(_launch("m6i.2xlarge"), _launch("c6i.16xlarge")),
    ),
    # Credentials.InstanceSessionElsewhere
    ComputeCase(
        "stratus: instance credentials used where the attacker works",
        "Credentials.InstanceSessionElsewhere",
        True,
        stratus="aws.credential-access.ec2-steal-instance-credentials",
        reason="credentials of instance i-786a3A8B5C0d92eF4 made 2 calls "
        "(GetCallerIdentity, DescribeInstances) from 18.236.253.47, the address "
        "arn:aws:iam::017622104382:user/christophe also called from",
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "instance credentials from outside AWS",
        "Credentials.InstanceSessionElsewhere",
        True,
        batch=(_instance_call("2026-03-02T10:00:00Z", "198.51.100.7"),),
        reason="from 198.51.100.7, outside AWS (not in the AWS IP ranges of 2026-08-22",
        severity=Severity.HIGH,
    ),
    ComputeCase(
        "instance credentials from inside AWS, nobody else there",
        "Credentials.InstanceSessionElsewhere",
        False,
        batch=(_instance_call("2026-03-02T10:00:00Z", "18.237.1.2"),),
    ),
    ComputeCase(
        "instances behind a proxy the role always calls from",
        "Credentials.InstanceSessionElsewhere",
        False,
        batch=(_instance_call("2026-03-02T10:00:00Z", "198.51.100.7"),),
        history=(_instance_call("2026-02-10T10:00:00Z", "198.51.100.9"),),
    ),
    ComputeCase(
        "a VPC endpoint's private address",
        "Credentials.InstanceSessionElsewhere",
        False,
        batch=(_instance_call("2026-03-02T10:00:00Z", "10.1.2.3"),),
    ),
    # RemoteAccess.SSHKeyPushed
    ComputeCase(
        "stratus: Instance Connect keys onto three instances",
        "RemoteAccess.SSHKeyPushed",
        True,
        stratus="aws.lateral-movement.ec2-instance-connect",
        reason="SSH key pushed onto instance i-fDb357cB7e99ad973",
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "stratus: serial console keys",
        "RemoteAccess.SSHKeyPushed",
        True,
        stratus="aws.lateral-movement.ec2-serial-console-send-ssh-public-key",
        reason="(SendSerialConsoleSSHPublicKey x3)",
    ),
    ComputeCase(
        "an engineer who connects with Instance Connect every week",
        "RemoteAccess.SSHKeyPushed",
        False,
        batch=(
            (
                "SendSSHPublicKey",
                "2026-03-02T10:00:00Z",
                {"source": "ec2-instance-connect.amazonaws.com", "request": {"instanceId": I1}},
            ),
        ),
        history=(
            (
                "SendSSHPublicKey",
                "2026-02-23T10:00:00Z",
                {"source": "ec2-instance-connect.amazonaws.com", "request": {"instanceId": I2}},
            ),
        ),
    ),
    # RemoteAccess.SerialConsoleEnabled
    ComputeCase(
        "stratus: serial console enabled",
        "RemoteAccess.SerialConsoleEnabled",
        True,
        stratus="aws.lateral-movement.ec2-serial-console-send-ssh-public-key",
        reason="serial console access enabled in",
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "serial console disabled",
        "RemoteAccess.SerialConsoleEnabled",
        False,
        batch=(("DisableSerialConsoleAccess", "2026-03-02T10:00:00Z", {}),),
    ),
    # RemoteAccess.AdminPortOpenToWorld
    ComputeCase(
        "stratus: SSH open to 0.0.0.0/0",
        "RemoteAccess.AdminPortOpenToWorld",
        True,
        stratus="aws.exfiltration.ec2-security-group-open-port-22-ingress",
        reason="security group sg-003dc7f1f1c686164 opened tcp/22 to the whole internet",
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "RDP open to ::/0 by an identity that never did so",
        "RemoteAccess.AdminPortOpenToWorld",
        True,
        batch=(_ingress("::/0", 3389),),
        history=SEEN,
        reason=f"security group {SG} opened tcp/3389 to the whole internet",
        severity=Severity.HIGH,
    ),
    ComputeCase(
        "a web server's 443 open to the world",
        "RemoteAccess.AdminPortOpenToWorld",
        False,
        batch=(_ingress("0.0.0.0/0", 443),),
    ),
    ComputeCase(
        "SSH from the office network",
        "RemoteAccess.AdminPortOpenToWorld",
        False,
        batch=(_ingress("10.20.0.0/16", 22),),
    ),
    # RemoteAccess.KeyPairCreated
    ComputeCase(
        "a key pair imported by an identity that never made one",
        "RemoteAccess.KeyPairCreated",
        True,
        batch=(("ImportKeyPair", "2026-03-02T10:00:00Z", {"request": {"keyName": "x"}}),),
        history=SEEN,
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "key pairs are routine for it",
        "RemoteAccess.KeyPairCreated",
        False,
        batch=(("CreateKeyPair", "2026-03-02T10:00:00Z", {"request": {"keyName": "x"}}),),
        history=(("CreateKeyPair", "2026-02-10T10:00:00Z", {"request": {"keyName": "y"}}),),
    ),
    # Export.Task
    ComputeCase(
        "an instance exported to S3",
        "Export.Task",
        True,
        batch=(
            (
                "CreateInstanceExportTask",
                "2026-03-02T10:00:00Z",
                {"request": {"instanceId": I1, "exportToS3": {"s3Bucket": "drop"}}},
            ),
        ),
        reason=f"export to S3 of {I1} (CreateInstanceExportTask)",
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "a failed RDS snapshot export",
        "Export.Task",
        True,
        batch=(
            (
                "StartExportTask",
                "2026-03-02T10:00:00Z",
                {
                    "source": "rds.amazonaws.com",
                    "request": {
                        "exportTaskIdentifier": "x1",
                        "sourceArn": "arn:aws:rds:eu-central-1:111122223333:snapshot:db1",
                    },
                    "error": "AccessDenied",
                },
            ),
        ),
        reason="(1 failed: AccessDenied)",
    ),
    ComputeCase(
        "listing export tasks",
        "Export.Task",
        False,
        batch=(("DescribeExportTasks", "2026-03-02T10:00:00Z", {}),),
    ),
    # Sharing.AccessRemoved
    ComputeCase(
        "an account removed from a snapshot's permissions",
        "Sharing.AccessRemoved",
        True,
        batch=(_snapshot_permission("remove"),),
        reason="accounts removed from the permissions of snap-0b1b2b3b4b5b6b7b8",
        severity=Severity.MEDIUM,
    ),
    ComputeCase(
        "an account added",
        "Sharing.AccessRemoved",
        False,
        batch=(_snapshot_permission("add"),),
    ),
    # RDS snapshots share through the sharing rules
    ComputeCase(
        "stratus: RDS snapshot shared with a foreign account",
        "Sharing.ForeignAccount",
        True,
        stratus="aws.exfiltration.rds-share-snapshot",
        policy=ORG,
        reason="database snapshot exfiltration shared with account 503161813013, "
        "which is not in the organisation",
        severity=Severity.HIGH,
    ),
    ComputeCase(
        "RDS snapshot made restorable by anyone",
        "Sharing.Public",
        True,
        batch=(
            (
                "ModifyDBSnapshotAttribute",
                "2026-03-02T10:00:00Z",
                {
                    "source": "rds.amazonaws.com",
                    "request": {
                        "dBSnapshotIdentifier": "nightly",
                        "attributeName": "restore",
                        "valuesToAdd": ["all"],
                    },
                },
            ),
        ),
        reason="database snapshot nightly in account 111122223333 shared with everyone",
        severity=Severity.CRITICAL,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}:{c.id}" for c in CASES])
def test_compute_rule_cases(
    case: ComputeCase,
    rec: Callable[..., dict[str, Any]],
    events_of: Callable[[Iterable[dict[str, Any]]], pd.DataFrame],
    stratus: Callable[[str], pd.DataFrame],
) -> None:
    hits = check_case(case, rec, events_of, stratus, aws_ranges=RANGES)
    if case.severity is not None:
        assert hits[0].severity is case.severity
