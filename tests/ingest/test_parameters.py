"""What a call's parameters say that the rules judge: the attribute, share targets, open ports."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from features import classify
from features._parameters import call_attribute, share_targets, world_admin_ingress
from tests.conftest import make_record
from tests.ingest.test_normalize import row_of

ACCOUNT = "111122223333"


def _permissions(cidr: str, port: int, protocol: str = "tcp", to: int | None = None) -> Any:
    key, inner = ("ipv6Ranges", "cidrIpv6") if ":" in cidr else ("ipRanges", "cidrIp")
    item = {"ipProtocol": protocol, "fromPort": port, "toPort": port if to is None else to}
    return {
        "groupId": "sg-0b1b2b3b4b5b6b7b8",
        "ipPermissions": {"items": [{**item, key: {"items": [{inner: cidr}]}}]},
    }


@pytest.mark.parametrize(
    ("request_parameters", "opened"),
    [
        (_permissions("0.0.0.0/0", 22), ["tcp/22"]),
        (_permissions("::/0", 3389), ["tcp/3389"]),
        (_permissions("0.0.0.0/0", 0, to=65535), ["tcp/0-65535"]),
        (_permissions("0.0.0.0/0", -1, protocol="-1"), ["all"]),
        (_permissions("0.0.0.0/0", 5980, protocol="6", to=5990), ["tcp/5980-5990"]),
        (_permissions("0.0.0.0/0", 443), []),  # a web server
        (_permissions("10.20.0.0/16", 22), []),  # a private network
        (_permissions("0.0.0.0/0", 8, protocol="icmp"), []),
        # the Stratus shape: the CIDR and ports at the top of the request
        (
            {"cidrIp": "208.236.235.254/0", "fromPort": 22, "toPort": 22, "ipProtocol": "tcp"},
            ["tcp/22"],
        ),
    ],
)
def test_admin_ports_opened_to_the_world(request_parameters: Any, opened: list[str]) -> None:
    assert world_admin_ingress(request_parameters, None) == opened


def test_egress_rules_of_the_response_are_not_ingress() -> None:
    response = {
        "securityGroupRuleSet": {
            "items": [
                {
                    "cidrIpv4": "0.0.0.0/0",
                    "fromPort": 22,
                    "toPort": 22,
                    "ipProtocol": "tcp",
                    "isEgress": True,
                }
            ]
        }
    }
    assert world_admin_ingress({"groupId": "sg-0b1b2b3b4b5b6b7b8"}, response) == []


@pytest.mark.parametrize(
    ("name", "request_parameters", "response", "attribute"),
    [
        ("RunInstances", {"instanceType": "p2.xlarge"}, None, "instanceType=p2.xlarge"),
        (
            "RunInstances",
            {"launchTemplate": {"launchTemplateId": "lt-0e1e2e3e4e5e6e7e8"}},
            {
                "instancesSet": {
                    "items": [{"instanceType": "g5.xlarge"}, {"instanceType": "g5.xlarge"}]
                }
            },
            "instanceType=g5.xlarge",
        ),
        (
            "CreateFleet",
            {
                "CreateFleetRequest": {
                    "LaunchTemplateConfigs": {
                        "Overrides": [
                            {"InstanceType": "m6i.xlarge"},
                            {"InstanceType": "c6i.2xlarge"},
                        ]
                    }
                }
            },
            None,
            "instanceType=c6i.2xlarge,m6i.xlarge",
        ),
        (
            "RequestSpotInstances",
            {"launchSpecification": {"instanceType": {"value": "p3.2xlarge"}}},
            None,
            "instanceType=p3.2xlarge",
        ),
        (
            "RunInstances",
            {"instancesSet": {"items": [{"imageId": "ami-0f1f2f3f4f5f6f7f8"}]}},
            None,
            None,
        ),
        (
            "CreateLaunchTemplateVersion",
            {
                "CreateLaunchTemplateVersionRequest": {
                    "LaunchTemplateData": {"UserData": "<sensitiveDataRemoved>"}
                }
            },
            None,
            "userData",
        ),
        ("CreateLaunchTemplate", {"launchTemplateData": {"instanceType": "m6i.large"}}, None, None),
        (
            "ModifyInstanceAttribute",
            {"instanceId": "i-0c1c2c3c4c5c6c7c8", "userData": "<sensitiveDataRemoved>"},
            None,
            "userData",
        ),
        (
            "DescribeInstanceAttribute",
            {"instanceId": "i-0c1c2c3c4c5c6c7c8", "attribute": "userData"},
            None,
            "userData",
        ),
        (
            "ModifySnapshotAttribute",
            {
                "attributeType": "CREATE_VOLUME_PERMISSION",
                "createVolumePermission": {"remove": {"items": [{"userId": "444455556666"}]}},
            },
            None,
            "createVolumePermission=remove",
        ),
        (
            "ModifySnapshotAttribute",
            {
                "attributeType": "CREATE_VOLUME_PERMISSION",
                "createVolumePermission": {"add": {"items": [{"userId": "444455556666"}]}},
            },
            None,
            "createVolumePermission",
        ),
        (
            "ModifyImageAttribute",
            {
                "imageId": "ami-0f1f2f3f4f5f6f7f8",
                "operationType": "remove",
                "userId": ["444455556666"],
                "attributeType": "launchPermission",
            },
            None,
            "launchPermission=remove",
        ),
        (
            "ModifyDBSnapshotAttribute",
            {"attributeName": "restore", "valuesToAdd": ["all"]},
            None,
            "restore",
        ),
    ],
)
def test_the_attribute_of_a_call(
    name: str, request_parameters: Any, response: Any, attribute: str | None
) -> None:
    assert call_attribute(name, request_parameters, response) == attribute


@pytest.mark.parametrize(
    ("name", "request_parameters", "targets"),
    [
        (
            "ModifyDBSnapshotAttribute",
            {"attributeName": "restore", "valuesToAdd": ["503161813013"]},
            ["503161813013"],
        ),
        (
            "ModifyDBClusterSnapshotAttribute",
            {"attributeName": "restore", "valuesToAdd": ["ALL"]},
            ["all"],
        ),
        ("ModifyDBSnapshotAttribute", {"attributeName": "restore", "valuesToAdd": [ACCOUNT]}, []),
        (
            "ModifyDBSnapshotAttribute",
            {"attributeName": "restore", "valuesToRemove": ["503161813013"]},
            [],
        ),
        (
            "ModifyDBSnapshotAttribute",
            {"attributeName": "other", "valuesToAdd": ["503161813013"]},
            [],
        ),
    ],
)
def test_database_snapshots_shared_for_restore(
    name: str, request_parameters: Any, targets: list[str]
) -> None:
    assert share_targets(name, request_parameters, ACCOUNT) == targets


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("CreateDBSnapshot", ("db_snapshot", "create")),
        ("CopyDBClusterSnapshot", ("db_snapshot", "copy")),
        ("ModifyDBSnapshotAttribute", ("db_snapshot", "modify")),
        ("StartExportTask", ("db_snapshot", "copy")),
        ("RestoreDBInstanceFromDBSnapshot", ("db_instance", "create")),
        ("RestoreDBClusterFromSnapshot", ("db_cluster", "create")),
        ("CreateDBInstance", (None, "create")),  # RDS beyond its snapshots stays outside
        ("DescribeDBSnapshots", (None, "read")),
    ],
)
def test_rds_snapshots_in_the_taxonomy(name: str, kind: tuple[str | None, str]) -> None:
    assert classify("rds.amazonaws.com", name) == kind


def test_an_rds_share_is_a_compute_share_naming_its_snapshot() -> None:
    row = row_of(
        make_record(
            eventSource="rds.amazonaws.com",
            eventName="ModifyDBSnapshotAttribute",
            requestParameters={
                "attributeName": "restore",
                "dBSnapshotIdentifier": "nightly",
                "valuesToAdd": ["503161813013"],
            },
            responseElements=None,
        )
    )
    assert (row["resource_type"], row["action"], row["is_compute_change"]) == (
        "db_snapshot",
        "share",
        True,
    )
    assert row["resource_ids"] == ["nightly"]
    assert row["share_targets"] == ["503161813013"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "instanceType",
                    "cidrIp",
                    "cidrIpv6",
                    "fromPort",
                    "toPort",
                    "ipProtocol",
                    "userData",
                    "items",
                    "isEgress",
                    "add",
                    "remove",
                    "attributeName",
                    "valuesToAdd",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@given(
    name=st.sampled_from(
        [
            "RunInstances",
            "CreateFleet",
            "AuthorizeSecurityGroupIngress",
            "CreateLaunchTemplateVersion",
            "ModifySnapshotAttribute",
            "ModifyDBSnapshotAttribute",
            "DescribeInstanceAttribute",
        ]
    ),
    request_parameters=_JSON,
    response=_JSON,
)
def test_any_parameters_give_a_string_or_nothing(
    name: str, request_parameters: Any, response: Any
) -> None:
    attribute = call_attribute(name, request_parameters, response)
    assert attribute is None or isinstance(attribute, str)
    assert all(isinstance(t, str) for t in share_targets(name, request_parameters, ACCOUNT))


def test_a_launch_keeps_at_most_32_instance_types() -> None:
    """A request naming a hundred types keeps 32 of them, sorted: a hostile request stays small."""
    request = {"items": [{"instanceType": f"t{index:03d}.large"} for index in range(100)]}
    attribute = call_attribute("RunInstances", request, None)
    assert attribute is not None
    types = attribute.removeprefix("instanceType=").split(",")
    assert len(types) == 32
    assert types == sorted(types)


@pytest.mark.parametrize(
    ("event_name", "key"), [("RunInstances", "instanceType"), ("CreateLaunchTemplate", "userData")]
)
def test_parameters_are_walked_only_so_far(event_name: str, key: str) -> None:
    """A value nested below the first 4,096 objects walked is not looked for."""
    buried: Any = {key: "m5.large"}
    for _ in range(5000):
        buried = {"next": buried}
    assert call_attribute(event_name, buried, None) is None
    shallow = {"next": {key: "m5.large"}}
    assert call_attribute(event_name, shallow, None) is not None
