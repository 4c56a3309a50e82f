"""Sequence features: snapshot -> volume -> attach, shares, stop -> modify -> start, bursts."""

from __future__ import annotations

from typing import Any

import pytest

from features import FeatureConfig, behaviour_vectors

CONFIG = FeatureConfig(horizon="6h")


def _t(minutes: int) -> str:
    return f"2024-03-04T{8 + minutes // 60:02d}:{minutes % 60:02d}:00Z"


SNAP = {"event_name": "CreateSnapshot", "resource_ids": ["snap-1", "vol-0"]}
VOLUME = {"event_name": "CreateVolume", "resource_ids": ["vol-2", "snap-1"]}
LAUNCH = {"event_name": "RunInstances", "resource_ids": ["i-3", "ami-1"]}
ATTACH = {"event_name": "AttachVolume", "resource_ids": ["vol-2", "i-3"]}


def _last(
    events: Any, steps: list[tuple[int, dict[str, Any]]], config: FeatureConfig = CONFIG
) -> Any:
    table = events([{"event_time": _t(m), **step} for m, step in steps])
    return behaviour_vectors(table, config=config).iloc[-1]


@pytest.mark.parametrize(
    ("steps", "partial", "full"),
    [
        ([(0, SNAP), (10, VOLUME), (20, LAUNCH), (200, ATTACH)], 1, 1),
        ([(10, VOLUME), (20, LAUNCH), (200, ATTACH)], 1, 0),  # snapshot not made by the identity
        ([(10, VOLUME), (200, ATTACH)], 0, 0),  # instance not launched recently
        ([(20, LAUNCH), (200, ATTACH)], 0, 0),  # volume not from a snapshot
        ([(0, SNAP), (10, VOLUME), (20, LAUNCH), (500, ATTACH)], 0, 0),  # outside the horizon
        (
            [
                (0, SNAP),
                (10, VOLUME),
                (20, LAUNCH),
                (200, {**ATTACH, "resource_ids": ["vol-9", "i-3"]}),
            ],
            0,
            0,
        ),
        (
            [
                (0, SNAP),
                (10, VOLUME),
                (20, LAUNCH),
                (200, {**ATTACH, "error_code": "IncorrectState"}),
            ],
            0,
            0,
        ),
        (
            [(0, {**SNAP, "resource_ids": ["snap-7"]}), (10, VOLUME), (20, LAUNCH), (200, ATTACH)],
            1,
            0,
        ),
    ],
)
def test_snapshot_volume_attach_chain(events, steps, partial, full) -> None:
    last = _last(events, steps)
    assert (last["seq_snapshot_volume_attach"], last["seq_own_snapshot_volume_attach"]) == (
        partial,
        full,
    )


def test_chain_steps_of_another_identity_do_not_count(events) -> None:
    table = events(
        [
            {"event_time": _t(0), **SNAP},
            {"event_time": _t(10), **VOLUME, "identity_key": "bob"},
            {"event_time": _t(20), **LAUNCH},
            {"event_time": _t(200), **ATTACH},
        ]
    )
    vectors = behaviour_vectors(table, config=CONFIG)
    assert vectors["seq_snapshot_volume_attach"].sum() == 0


STOP = {"event_name": "StopInstances", "resource_ids": ["i-3"]}
START = {"event_name": "StartInstances", "resource_ids": ["i-3"]}


@pytest.mark.parametrize(
    ("attribute", "order", "expected"),
    [
        ("userData", ("stop", "modify", "start"), 1),
        ("instanceType", ("stop", "modify", "start"), 1),
        ("disableApiTermination", ("stop", "modify", "start"), 0),
        ("userData", ("modify", "stop", "start"), 0),
        ("userData", ("stop", "start", "modify"), 0),
    ],
)
def test_stop_modify_start(events, attribute, order, expected) -> None:
    steps = {
        "stop": STOP,
        "modify": {
            "event_name": "ModifyInstanceAttribute",
            "resource_ids": ["i-3"],
            "attribute": attribute,
        },
        "start": START,
    }
    vectors = behaviour_vectors(
        events([{"event_time": _t(30 * i), **steps[name]} for i, name in enumerate(order)]),
        config=CONFIG,
    )
    assert vectors["seq_stop_modify_start"].sum() == expected


@pytest.mark.parametrize(
    ("targets", "foreign", "public"),
    [
        (["222222222222"], 1, 0),
        (["all"], 0, 1),
        (["111111111111"], 0, 0),  # the resource's own account
        (["333333333333"], 0, 0),  # listed in org_accounts
        (["arn:aws:organizations::111111111111:organization/o-abc"], 0, 0),
        (["222222222222", "all"], 1, 1),
    ],
)
def test_shares_to_foreign_accounts_and_the_public(events, targets, foreign, public) -> None:
    config = FeatureConfig(org_accounts=("333333333333",))
    table = events(
        [
            {
                "event_time": _t(0),
                "event_name": "ModifySnapshotAttribute",
                "resource_ids": ["snap-1"],
                "share_targets": targets,
                "attribute": "createVolumePermission",
            }
        ]
    )
    row = behaviour_vectors(table, config=config).iloc[0]
    assert (row["share_foreign"], row["share_public"]) == (foreign, public)


def test_snapshots_in_horizon_counts_the_burst_up_to_the_window_end(events) -> None:
    burst = [
        (m, {"event_name": "CreateSnapshot", "resource_ids": [f"snap-{m}"]})
        for m in (0, 30, 60, 90)
    ]
    late = [(400, {"event_name": "DescribeSnapshots"})]
    table = events([{"event_time": _t(m), **s} for m, s in burst + late])
    vectors = behaviour_vectors(table, config=CONFIG).set_index("window_start")[
        "snapshots_in_horizon"
    ]
    # windows 08:00, 09:00 and 14:00 look back to 03:00, 04:00 and 09:00
    assert list(vectors) == [2, 4, 2]
