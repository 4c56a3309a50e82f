"""Counts of changes, distinct values and errors inside one window."""

from __future__ import annotations

import pytest

from features import FeatureConfig, behaviour_vectors

T = "2024-03-04T10:{:02d}:00Z"


@pytest.mark.parametrize(
    ("names", "column", "expected"),
    [
        (["RunInstances", "RunInstances", "TerminateInstances"], "n_change_create", 2),
        (["RunInstances", "RunInstances", "TerminateInstances"], "n_change_delete", 1),
        (["RunInstances", "RunInstances", "TerminateInstances"], "n_change_instance", 3),
        (["AttachVolume", "DetachVolume", "CreateVolume"], "n_change_attach", 1),
        (["AttachVolume", "DetachVolume", "CreateVolume"], "n_change_volume", 3),
        (["CreateSnapshot", "CopySnapshot", "DeleteSnapshot"], "n_change_copy", 1),
        (["CreateSnapshot", "CopySnapshot", "DeleteSnapshot"], "n_change_snapshot", 3),
        (["StartInstances", "StopInstances", "StopInstances"], "n_change_stop", 2),
        (["StartInstances", "StopInstances", "DescribeInstances"], "n_changes", 2),
        (["DescribeInstances", "DescribeVolumes"], "n_changes", 0),
        (["CreateKeyPair", "AllocateAddress"], "n_change_other_resource", 2),
        (["CreateLaunchTemplateVersion"], "n_change_launch_template", 1),
    ],
)
def test_changes_are_counted_by_action_and_resource_type(events, names, column, expected) -> None:
    table = events([{"event_time": T.format(i), "event_name": n} for i, n in enumerate(names)])
    vectors = behaviour_vectors(table)
    assert len(vectors) == 1
    assert vectors[column].iloc[0] == expected


def test_share_is_counted_as_its_own_action(events) -> None:
    table = events(
        [
            {
                "event_time": T.format(1),
                "event_name": "ModifySnapshotAttribute",
                "share_targets": ["222222222222"],
                "resource_ids": ["snap-1"],
            }
        ]
    )
    vectors = behaviour_vectors(table)
    assert vectors["n_change_share"].iloc[0] == 1
    assert vectors["n_change_modify"].iloc[0] == 0


def test_distinct_resources_regions_networks_clients_and_error_ratio(events) -> None:
    table = events(
        [
            {
                "event_time": T.format(1),
                "event_name": "StopInstances",
                "resource_ids": ["i-1", "i-2"],
            },
            {
                "event_time": T.format(2),
                "event_name": "StartInstances",
                "resource_ids": ["i-2"],
                "region": "eu-west-1",
                "network": "203.0.113.0/24",
            },
            {
                "event_time": T.format(3),
                "event_name": "DescribeInstances",
                "resource_ids": ["i-9"],
                "client_family": "boto3",
                "client_version": "1.34",
                "error_code": "AccessDenied",
            },
            {"event_time": T.format(4), "event_name": "DescribeInstances", "client_version": None},
        ]
    )
    row = behaviour_vectors(table).iloc[0]
    assert row["n_distinct_resources"] == 2  # reads do not count
    assert row["n_distinct_regions"] == 2
    assert row["n_distinct_networks"] == 2
    assert row["n_distinct_clients"] == 3  # aws-cli/2.15.0, boto3/1.34, aws-cli without version
    assert row["error_ratio"] == 0.25


@pytest.mark.parametrize(("window", "expected"), [("1h", 3), ("2h", 2), ("15min", 4)])
def test_windows_are_tumbling_per_identity(events, window, expected) -> None:
    times = [
        "2024-03-04T10:05:00Z",
        "2024-03-04T10:55:00Z",
        "2024-03-04T11:10:00Z",
        "2024-03-04T12:01:00Z",
    ]
    table = events(
        [{"event_time": t} for t in times] + [{"event_time": times[0], "identity_key": "bob"}]
    )
    vectors = behaviour_vectors(table, config=FeatureConfig(window=window))
    alice = vectors[vectors["identity_key"] == "alice"]
    assert len(alice) == expected
    assert alice["n_events"].sum() == 4
    assert list(vectors["identity_key"]) == sorted(vectors["identity_key"])
