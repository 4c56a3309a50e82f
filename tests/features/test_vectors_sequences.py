"""Sequence features: snapshot -> volume -> attach, shares, stop -> modify -> start, bursts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from features import FeatureConfig, behaviour_vectors, snapshot_chains
from features._sequences import ATTACHED, LAUNCHED, MADE_SNAPSHOT, MADE_VOLUME

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


_NAMES = ["CreateSnapshot", "CopySnapshot", "CreateVolume", "RunInstances", "AttachVolume"]
_ROLE = {
    "CreateSnapshot": MADE_SNAPSHOT,
    "CopySnapshot": MADE_SNAPSHOT,
    "CreateVolume": MADE_VOLUME,
    "RunInstances": LAUNCHED,
    "AttachVolume": ATTACHED,
}
_IDS = {
    "CreateSnapshot": ["snap-1", "snap-2", "vol-9"],
    "CopySnapshot": ["snap-1", "snap-2"],
    "CreateVolume": ["vol-1", "vol-2", "snap-1", "snap-2"],
    "RunInstances": ["i-1", "i-2", "ami-1"],
    "AttachVolume": ["vol-1", "vol-2", "i-1", "i-2"],
}
steps = st.lists(
    st.tuples(
        st.sampled_from(_NAMES),
        st.integers(0, 40),  # minutes
        st.sampled_from(["a", "b"]),
        st.lists(st.integers(0, 3), min_size=1, max_size=3),
    ),
    max_size=14,
)


def _brute(
    rows: list[tuple[str, int, str, list[str]]], horizon: int, by_owner: bool
) -> list[tuple[bool, bool, int | None, int | None, int | None]]:
    """Every attachment's (launched, complete, launch, volume, snapshot), by trying every step."""

    def same(i: int, j: int) -> bool:
        return not by_owner or rows[i][2] == rows[j][2]

    def latest(found: list[int]) -> int | None:
        return max(found, key=lambda k: (rows[k][1], k)) if found else None

    out = []
    for a, (name, t, _, ids) in enumerate(rows):
        if name != "AttachVolume":
            continue
        for vol in [x for x in ids if x.startswith("vol-")]:
            for inst in [x for x in ids if x.startswith("i-")]:
                launches = [
                    k
                    for k, r in enumerate(rows)
                    if r[0] == "RunInstances" and inst in r[3] and r[1] <= t and same(k, a)
                ]
                launch = latest(launches)
                if launch is not None and t - rows[launch][1] > horizon:
                    launch = None
                made = [
                    (k, s)
                    for k, r in enumerate(rows)
                    if r[0] == "CreateVolume" and vol in r[3] and r[1] <= t and same(k, a)
                    for s in r[3]
                    if s.startswith("snap-")
                ]
                recent = any(rows[k][1] >= t - horizon for k, _ in made)
                chosen: tuple[int | None, int | None] = (None, None)
                for k, snap in sorted(made, key=lambda m: (rows[m[0]][1], m[0]), reverse=True):
                    sources = [
                        j
                        for j, r in enumerate(rows)
                        if r[0] in ("CreateSnapshot", "CopySnapshot")
                        and snap in r[3]
                        and r[1] <= rows[k][1]
                        and same(j, a)
                    ]
                    source = latest(sources)
                    if source is not None and rows[source][1] >= t - horizon:
                        chosen = (k, source)
                        break
                complete = launch is not None and chosen[1] is not None
                out.append((launch is not None and recent, complete, launch, *chosen))
    return out


@settings(max_examples=200, deadline=None)
@given(drawn=steps, horizon=st.sampled_from([5, 15, 60]), by_owner=st.booleans())
# one volume creation naming two snapshots made at the same moment: the first named is
# its source (found by a 30,000-example run; the finder once tried the last named first)
@example(
    drawn=[
        ("CreateSnapshot", 0, "a", [0]),
        ("CreateSnapshot", 0, "a", [1]),
        ("RunInstances", 0, "a", [0]),
        ("CreateVolume", 0, "a", [1, 2, 3]),
        ("AttachVolume", 0, "a", [1, 2]),
    ],
    horizon=5,
    by_owner=False,
)
def test_the_chain_finder_agrees_with_trying_every_step(
    drawn: list[tuple[str, int, str, list[int]]], horizon: int, by_owner: bool
) -> None:
    rows = sorted(
        [
            (name, t, who, [_IDS[name][i % len(_IDS[name])] for i in picks])
            for name, t, who, picks in drawn
        ],
        key=lambda r: r[1],
    )
    chains = snapshot_chains(
        range(len(rows)),
        [r[1] for r in rows],
        [_ROLE[r[0]] for r in rows],
        [r[3] for r in rows],
        horizon,
        owners=[r[2] for r in rows] if by_owner else None,
    )
    found = [(c.launched, c.complete, c.launch, c.volume_made, c.snapshot) for c in chains]
    expected = _brute(rows, horizon, by_owner)
    # a chain's volume and snapshot are named only when it is complete
    assert [f[:3] for f in found] == [e[:3] for e in expected]
    assert [f[3:] for f in found if f[1]] == [e[3:] for e in expected if e[1]]
