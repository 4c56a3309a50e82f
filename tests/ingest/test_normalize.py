"""Specification of the record normaliser: one raw record -> one canonical row."""

from __future__ import annotations

from typing import Any

import pytest

from changewatch.errors import RecordRejected
from features import CANONICAL_COLUMNS, Normalizer, normalize


def row_of(raw: Any, **kwargs: Any) -> dict[str, Any]:
    return dict(zip(CANONICAL_COLUMNS, normalize(raw, **kwargs), strict=True))


def test_a_well_formed_record_fills_every_canonical_column(make: Any) -> None:
    row = row_of(make())
    assert row["event_id"] == "0e9f7a6b-0000-4000-8000-000000000001"
    assert row["event_time"] == 1772446500 * 1_000_000
    assert row["account_id"] == "111122223333"
    assert row["region"] == "eu-central-1"
    assert (row["event_source"], row["event_name"]) == ("ec2.amazonaws.com", "CreateSnapshot")
    assert (row["resource_type"], row["action"]) == ("snapshot", "create")
    assert row["is_compute_change"] is True
    assert row["resource_ids"] == ["vol-0a1b2c3d4e5f60718", "snap-0123456789abcdef0"]
    assert row["identity_key"] == "arn:aws:iam::111122223333:user/alice"
    assert row["identity_type"] == "IAMUser"
    assert row["access_key_id"] == "AKIAEXAMPLEKEY000001"
    assert row["network"] == "203.0.113.0/24"
    assert (row["client_family"], row["client_version"]) == ("aws-cli", "2.15.30")
    assert row["by_service"] is False
    assert row["read_only"] is False


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"eventTime": ...}, "eventTime", "missing"),
        ({"eventName": ...}, "eventName", "missing"),
        ({"eventName": ""}, "eventName", "missing"),
        ({"eventName": 42}, "eventName", "expected a string, got int"),
        ({"eventTime": 1700000000}, "eventTime", "expected an ISO 8601 string, got int"),
        ({"eventTime": "yesterday"}, "eventTime", "not an ISO 8601 time"),
        ({"eventSource": ["ec2"]}, "eventSource", "expected a string, got list"),
        ({"readOnly": "maybe"}, "readOnly", "expected a boolean, got str"),
        ({"userIdentity": "alice"}, "userIdentity", "expected an object, got str"),
        ({"awsRegion": {"name": "x"}}, "awsRegion", "expected a string, got dict"),
        ({"userIdentity": {"type": "IAMUser", "arn": 7}}, "userIdentity.arn", "expected a string"),
        (
            {"userIdentity": {"type": "AssumedRole", "sessionContext": {"sessionIssuer": []}}},
            "userIdentity.sessionContext.sessionIssuer",
            "expected an object, got list",
        ),
    ],
)
def test_a_bad_record_is_rejected_naming_field_and_reason(
    make: Any, overrides: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(RecordRejected) as caught:
        normalize(make(**overrides))
    assert caught.value.field == field
    assert reason in caught.value.reason


@pytest.mark.parametrize("raw", [None, 3, "text", [1, 2], True])
def test_a_record_that_is_not_an_object_is_rejected(raw: Any) -> None:
    with pytest.raises(RecordRejected, match="expected a JSON object"):
        normalize(raw)


def test_logstash_exports_take_the_time_from_timestamp(make: Any) -> None:
    raw = make(eventTime=..., **{"@timestamp": "2020-09-14T00:44:23.000Z", "@version": "1"})
    assert row_of(raw)["event_time"] == 1600044263 * 1_000_000


def test_a_record_without_event_id_gets_a_deterministic_content_id(make: Any) -> None:
    first = row_of(make(eventID=...))["event_id"]
    assert first.startswith("cw-")
    assert first == row_of(make(eventID=...))["event_id"]
    assert first != row_of(make(eventID=..., eventTime="2026-03-02T10:15:01Z"))["event_id"]


def test_eventbridge_envelopes_are_unwrapped_and_fill_account_and_region(make: Any) -> None:
    detail = make(recipientAccountId=..., awsRegion=...)
    envelope = {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": "444455556666",
        "time": "2026-03-02T10:15:00Z",
        "region": "us-west-2",
        "resources": [],
        "detail": detail,
    }
    row = row_of(envelope)
    assert (row["account_id"], row["region"]) == ("444455556666", "us-west-2")
    assert row["event_name"] == "CreateSnapshot"


def test_eventbridge_events_of_other_kinds_are_rejected() -> None:
    envelope = {"detail-type": "EC2 Instance State-change Notification", "detail": {}}
    with pytest.raises(RecordRejected) as caught:
        normalize(envelope)
    assert caught.value.field == "detail-type"


def _assumed(role_path: str, session: str, **context: Any) -> dict[str, Any]:
    role = role_path.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::111122223333:assumed-role/{role}/{session}",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": f"arn:aws:iam::111122223333:role/{role_path}",
                "userName": role,
            },
            "attributes": {"mfaAuthenticated": "false"},
            **context,
        },
    }


SSO = "aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123456789abcdef"


@pytest.mark.parametrize(
    ("identity", "key"),
    [
        (
            {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
            "arn:aws:iam::111122223333:user/alice",
        ),
        (
            {"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"},
            "arn:aws:iam::111122223333:root",
        ),
        (
            _assumed(SSO, "alice@example.com"),
            "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com",
        ),
        (
            _assumed("web-role", "i-0123456789abcdef0"),
            "arn:aws:iam::111122223333:role/web-role",
        ),
        (
            _assumed("deploy", "terraform-1722511821294449000"),
            "arn:aws:iam::111122223333:role/deploy",
        ),
        (
            _assumed(
                "oidc-role",
                "gh-actions-9012345678",
                webIdFederationData={"federatedProvider": "token.actions.githubusercontent.com"},
            ),
            "arn:aws:iam::111122223333:role/oidc-role",
        ),
        (
            _assumed(
                "KarpenterControllerRole",
                "1722511821123456789",
                webIdFederationData={
                    "federatedProvider": "arn:aws:iam::111122223333:oidc-provider/oidc.eks."
                    "eu-west-1.amazonaws.com/id/0123456789ABCDEF"
                },
            ),
            "arn:aws:iam::111122223333:role/KarpenterControllerRole",
        ),
        (
            _assumed("scheduler", "botocore-session-1722511821"),
            "arn:aws:iam::111122223333:role/scheduler",
        ),
        (
            _assumed("runner", "0f8fad5b-d9cb-469f-a165-70867728950e"),
            "arn:aws:iam::111122223333:role/runner",
        ),
        (
            _assumed("saml-admins", "session-17", sourceIdentity="carol@example.com"),
            "arn:aws:iam::111122223333:role/saml-admins/carol@example.com",
        ),
        (
            _assumed("saml-admins", "bob@example.com"),
            "arn:aws:iam::111122223333:role/saml-admins/bob@example.com",
        ),
        (
            {
                "type": "AWSService",
                "invokedBy": "autoscaling.amazonaws.com",
            },
            "service:autoscaling.amazonaws.com",
        ),
        (
            {
                "type": "FederatedUser",
                "arn": "arn:aws:sts::111122223333:federated-user/bob",
                "accountId": "111122223333",
            },
            "arn:aws:sts::111122223333:federated-user/bob",
        ),
        (
            {"type": "AWSAccount", "accountId": "999988887777", "principalId": "AIDAOTHER"},
            "account:999988887777:AIDAOTHER",
        ),
        (..., "unknown:111122223333"),
    ],
    ids=[
        "iam-user",
        "root",
        "sso-person",
        "instance-profile",
        "automation-role",
        "web-identity-github-run",
        "web-identity-irsa-timestamp",
        "sdk-generated-session",
        "uuid-session",
        "source-identity",
        "saml-email-session",
        "aws-service",
        "federated-user",
        "other-account",
        "no-identity",
    ],
)
def test_identity_key_follows_the_adr(make: Any, identity: Any, key: str) -> None:
    assert row_of(make(userIdentity=identity))["identity_key"] == key


def test_a_role_session_without_session_issuer_gets_the_same_key(make: Any) -> None:
    with_issuer = _assumed(SSO, "alice@example.com")
    without = {k: v for k, v in with_issuer.items() if k != "sessionContext"}
    assert (
        row_of(make(userIdentity=with_issuer))["identity_key"]
        == row_of(make(userIdentity=without))["identity_key"]
    )


def test_person_roles_can_be_configured(make: Any) -> None:
    from features import IdentityKeyRule

    rule = IdentityKeyRule(person_roles=("arn:aws:iam::*:role/humans-*",))
    raw = make(userIdentity=_assumed("humans-ops", "carol"))
    assert row_of(raw, rule=rule)["identity_key"].endswith("role/humans-ops/carol")
    assert row_of(raw)["identity_key"].endswith("role/humans-ops")


def test_person_session_names_can_be_configured(make: Any) -> None:
    from features import IdentityKeyRule

    rule = IdentityKeyRule(person_sessions=("[a-z]+[.][a-z]+",))
    person = make(userIdentity=_assumed("okta-admins", "carol.jones"))
    robot = make(userIdentity=_assumed("okta-admins", "terraform-apply"))
    assert row_of(person, rule=rule)["identity_key"].endswith("role/okta-admins/carol.jones")
    assert row_of(robot, rule=rule)["identity_key"].endswith("role/okta-admins")


def test_a_web_identity_session_keeps_its_session_and_provider_as_evidence(make: Any) -> None:
    provider = "token.actions.githubusercontent.com"
    row = row_of(
        make(
            userIdentity=_assumed(
                "deploy", "gh-actions-42", webIdFederationData={"federatedProvider": provider}
            )
        )
    )
    assert row["identity_key"] == "arn:aws:iam::111122223333:role/deploy"
    assert (row["session_name"], row["federated_provider"]) == ("gh-actions-42", provider)
    assert row["source_identity"] is None


def test_a_source_identity_keys_every_session_of_the_person_alike(make: Any) -> None:
    keys = {
        row_of(make(userIdentity=_assumed("admins", name, sourceIdentity="dana")))["identity_key"]
        for name in ("morning", "afternoon", "1722511821")
    }
    assert keys == {"arn:aws:iam::111122223333:role/admins/dana"}


@pytest.mark.parametrize(
    ("source", "name", "resource_type", "action"),
    [
        ("ec2.amazonaws.com", "RunInstances", "instance", "create"),
        ("ec2.amazonaws.com", "TerminateInstances", "instance", "delete"),
        ("ec2.amazonaws.com", "StopInstances", "instance", "stop"),
        ("ec2.amazonaws.com", "StartInstances", "instance", "start"),
        ("ec2.amazonaws.com", "ModifyInstanceAttribute", "instance", "modify"),
        ("ec2.amazonaws.com", "CreateVolume", "volume", "create"),
        ("ec2.amazonaws.com", "AttachVolume", "volume", "attach"),
        ("ec2.amazonaws.com", "DetachVolume", "volume", "detach"),
        ("ec2.amazonaws.com", "DeleteVolume", "volume", "delete"),
        ("ec2.amazonaws.com", "CreateSnapshot", "snapshot", "create"),
        ("ec2.amazonaws.com", "CopySnapshot", "snapshot", "copy"),
        ("ec2.amazonaws.com", "DeleteSnapshot", "snapshot", "delete"),
        ("ec2.amazonaws.com", "DescribeSnapshots", "snapshot", "read"),
        ("ec2.amazonaws.com", "CreateImage", "image", "create"),
        ("ec2.amazonaws.com", "RegisterImage", "image", "create"),
        ("ec2.amazonaws.com", "DeregisterImage", "image", "delete"),
        ("ec2.amazonaws.com", "CopyImage", "image", "copy"),
        ("ec2.amazonaws.com", "CreateLaunchTemplate", "launch_template", "create"),
        ("ec2.amazonaws.com", "CreateFleet", "fleet", "create"),
        ("ec2.amazonaws.com", "RequestSpotFleet", "fleet", "create"),
        ("ec2.amazonaws.com", "RequestSpotInstances", "spot_request", "create"),
        ("ec2.amazonaws.com", "GetPasswordData", "instance", "read"),
        ("ec2.amazonaws.com", "CreateInstanceExportTask", "instance", "copy"),
        ("ec2.amazonaws.com", "DescribeVpcs", None, "read"),
        ("ebs.amazonaws.com", "StartSnapshot", "snapshot", "create"),
        ("ebs.amazonaws.com", "GetSnapshotBlock", "snapshot", "read"),
        ("ebs.amazonaws.com", "ListSnapshotBlocks", "snapshot", "read"),
        ("ebs.amazonaws.com", "ListChangedBlocks", "snapshot", "read"),
        ("autoscaling.amazonaws.com", "CreateAutoScalingGroup", "autoscaling_group", "create"),
        ("autoscaling.amazonaws.com", "TerminateInstanceInAutoScalingGroup", "instance", "delete"),
        ("ec2-instance-connect.amazonaws.com", "SendSSHPublicKey", "instance", "other"),
        ("iam.amazonaws.com", "CreateUser", None, "create"),
        ("s3.amazonaws.com", "GetObject", None, "read"),
        ("sts.amazonaws.com", "AssumeRole", None, "other"),
    ],
)
def test_taxonomy(source: str, name: str, resource_type: str | None, action: str) -> None:
    from features import classify

    assert classify(source, name) == (resource_type, action)


@pytest.mark.parametrize(
    ("event_name", "parameters", "action", "targets"),
    [
        (
            "ModifySnapshotAttribute",
            {
                "snapshotId": "snap-041993b54a9b3af6f",
                "attributeType": "CREATE_VOLUME_PERMISSION",
                "createVolumePermission": {"add": {"items": [{"userId": "098797384747"}]}},
            },
            "share",
            ["098797384747"],
        ),
        (
            "ModifyImageAttribute",
            {
                "imageId": "ami-0123456789abcdef0",
                "attributeType": "launchPermission",
                "launchPermission": {"add": {"items": [{"group": "all"}]}},
            },
            "share",
            ["all"],
        ),
        (
            "ModifySnapshotAttribute",
            {
                "snapshotId": "snap-041993b54a9b3af6f",
                "createVolumePermission": {"remove": {"items": [{"userId": "098797384747"}]}},
            },
            "modify",
            [],
        ),
        (
            "ModifySnapshotAttribute",
            {
                "snapshotId": "snap-041993b54a9b3af6f",
                "createVolumePermission": {"add": {"items": [{"userId": "111122223333"}]}},
            },
            "modify",
            [],
        ),
        (
            "ModifyImageAttribute",
            {"imageId": "ami-0123456789abcdef0", "description": {"value": "golden"}},
            "modify",
            [],
        ),
    ],
    ids=["snapshot-to-account", "ami-public", "removal", "own-account", "description"],
)
def test_a_share_is_a_grant_to_another_account_or_the_public(
    make: Any, event_name: str, parameters: dict[str, Any], action: str, targets: list[str]
) -> None:
    row = row_of(make(eventName=event_name, requestParameters=parameters, responseElements=None))
    assert row["action"] == action
    assert row["share_targets"] == targets


@pytest.mark.parametrize(
    ("parameters", "attribute"),
    [
        ({"instanceId": "i-0123456789abcdef0", "userData": "<sensitiveDataRemoved>"}, "userData"),
        (
            {"instanceId": "i-0123456789abcdef0", "instanceType": {"value": "p3.16xlarge"}},
            "instanceType",
        ),
        (
            {"instanceId": "i-0123456789abcdef0", "attribute": "disableApiTermination"},
            "disableApiTermination",
        ),
    ],
)
def test_the_modified_attribute_is_recorded(
    make: Any, parameters: dict[str, Any], attribute: str
) -> None:
    row = row_of(
        make(
            eventName="ModifyInstanceAttribute",
            requestParameters=parameters,
            responseElements={"_return": True},
        )
    )
    assert row["attribute"] == attribute
    assert row["resource_ids"] == ["i-0123456789abcdef0"]


def test_create_volume_names_the_new_volume_and_its_source_snapshot(make: Any) -> None:
    row = row_of(
        make(
            eventName="CreateVolume",
            requestParameters={
                "snapshotId": "snap-0aaaaaaaaaaaaaaaa",
                "availabilityZone": "eu-central-1a",
            },
            responseElements={
                "volumeId": "vol-0bbbbbbbbbbbbbbbb",
                "snapshotId": "snap-0aaaaaaaaaaaaaaaa",
            },
        )
    )
    assert row["resource_ids"] == ["snap-0aaaaaaaaaaaaaaaa", "vol-0bbbbbbbbbbbbbbbb"]


def test_tags_take_the_resource_type_of_the_tagged_resource(make: Any) -> None:
    parameters = {"resourcesSet": {"items": [{"resourceId": "vol-0bbbbbbbbbbbbbbbb"}]}}
    row = row_of(make(eventName="CreateTags", requestParameters=parameters))
    assert (row["resource_type"], row["action"]) == ("volume", "create")


@pytest.mark.parametrize(
    ("user_agent", "family", "version"),
    [
        ("aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22", "aws-cli", "2.15.30"),
        ("aws-cli/1.29.4 Python/3.8.10 Linux/5.15 botocore/1.31.4", "aws-cli", "1.29.4"),
        (
            "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#6.5 lang/python#3.11.8",
            "boto3",
            "1.34.51",
        ),
        ("Botocore/1.34.51 ua/2.0 os/linux#6.5", "boto3", "1.34.51"),
        (
            "aws-sdk-go-v2/1.32.3 os/linux lang/go#1.23.1 md/GOOS#linux api/sts#1.26.2",
            "aws-sdk-go",
            "1.32.3",
        ),
        ("aws-sdk-go/1.44.122 (go1.20.3; linux; amd64)", "aws-sdk-go", "1.44.122"),
        (
            "aws-sdk-java/1.12.692 Linux/5.10 OpenJDK_64-Bit_Server_VM/25.402",
            "aws-sdk-java",
            "1.12.692",
        ),
        (
            "aws-sdk-js/3.540.0 ua/2.0 os/darwin#23.3.0 lang/js md/nodejs#20.11.1",
            "aws-sdk-js",
            "3.540.0",
        ),
        (
            "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) "
            "terraform-provider-aws/5.40.0 aws-sdk-go-v2/1.25.2",
            "terraform",
            "1.7.4",
        ),
        ("pulumi-aws/6.22.0 aws-sdk-go-v2/1.25.2", "pulumi", "6.22.0"),
        ("aws-sdk-go/1.44.0 (go1.20; linux; amd64) karpenter.sh-v0.31.0", "karpenter", "0.31.0"),
        ("cloudformation.amazonaws.com", "cloudformation", None),
        ("console.ec2.amazonaws.com", "console", None),
        ("signin.amazonaws.com", "console", None),
        ("AWS Internal", "console", None),
        ("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.11.1030]", "console", "0.4"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36", "console", None),
        ("autoscaling.amazonaws.com", "aws-service", None),
        ("curl/8.5.0", "curl", "8.5.0"),
        ("python-requests/2.31.0", "python-requests", "2.31.0"),
        ("stratus-red-team_7fcd50f2-f1da-4c82-bb7d-38b82021b080", "other", None),
        (None, "unknown", None),
    ],
)
def test_client_family_and_version(
    user_agent: str | None, family: str, version: str | None
) -> None:
    from features import client_of

    assert client_of(user_agent) == (family, version)


@pytest.mark.parametrize(
    ("source_ip", "network", "by_service"),
    [
        ("203.0.113.77", "203.0.113.0/24", False),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", False),
        ("ec2.amazonaws.com", "ec2.amazonaws.com", True),
        ("AWS Internal", "AWS Internal", True),
        ("255.090.254.5", None, False),
        (None, None, False),
    ],
)
def test_network_and_service_origin(
    make: Any, source_ip: str | None, network: str | None, by_service: bool
) -> None:
    row = row_of(make(sourceIPAddress=source_ip))
    assert row["network"] == network
    assert row["by_service"] is by_service


def test_service_invoked_calls_are_marked(make: Any) -> None:
    identity = _assumed("AWSBackupDefaultServiceRole", "AWSBackup-AWSBackupDefaultServiceRole")
    identity["invokedBy"] = "backup.amazonaws.com"
    row = row_of(make(userIdentity=identity, sourceIPAddress="backup.amazonaws.com"))
    assert row["by_service"] is True
    assert row["invoked_by"] == "backup.amazonaws.com"


@pytest.mark.parametrize(
    ("overrides", "mfa"),
    [
        ({"userIdentity": _assumed("ops", "x", attributes={"mfaAuthenticated": "true"})}, True),
        ({"userIdentity": _assumed("ops", "x")}, False),
        ({}, None),
        (
            {
                "eventName": "ConsoleLogin",
                "eventSource": "signin.amazonaws.com",
                "additionalEventData": {
                    "MFAUsed": "No",
                    "LoginTo": "https://console.aws.amazon.com",
                },
            },
            False,
        ),
    ],
)
def test_mfa(make: Any, overrides: dict[str, Any], mfa: bool | None) -> None:
    assert row_of(make(**overrides))["mfa"] is mfa


def test_read_only_is_derived_when_absent(make: Any) -> None:
    assert row_of(make(readOnly=..., eventName="DescribeInstances"))["read_only"] is True
    assert row_of(make(readOnly=...))["read_only"] is False


def test_the_normaliser_adds_geography_from_a_maxmind_database(make: Any, geo_db: Any) -> None:
    from features import GeoIP

    normalizer = Normalizer(geoip=GeoIP(geo_db))
    row = dict(zip(CANONICAL_COLUMNS, normalizer(make()), strict=True))
    assert (row["country"], row["asn"], row["as_org"]) == ("DE", 64500, "Example Office Net")
    other = dict(
        zip(CANONICAL_COLUMNS, normalizer(make(sourceIPAddress="198.51.100.9")), strict=True)
    )
    assert (other["country"], other["asn"]) == (None, None)


def test_person_keys_that_never_repeat_are_reported_as_probable_automation() -> None:
    import pandas as pd

    from features import never_repeating_person_keys

    role = "arn:aws:iam::111122223333:role/saml-bots"
    people = "arn:aws:iam::111122223333:role/AWSReservedSSO_Dev_0123"
    rows = [(f"{role}/run-{i}@ci.example", f"2026-03-{1 + i % 20:02d}") for i in range(12)]
    rows += [
        (f"{people}/{who}@corp.example", f"2026-03-{day:02d}") for who in "ab" for day in (2, 3)
    ]
    events = pd.DataFrame(
        {
            "identity_key": [k for k, _ in rows],
            "event_time": pd.to_datetime([t for _, t in rows], utc=True),
        }
    )
    found = never_repeating_person_keys(events)
    assert [(r.role, r.keys, r.seen_one_day) for r in found] == [(role, 12, 1.0)]
