"""Sessions of a batch found with one sort: the runs nested groupbys would give, in their order.

``session_spans`` replaced ``groupby(key, sort=False)`` per key and a split at every pause
over the gap (what the instance-credentials, novelty, secrets and user-data rules read);
the reference below is that old code, and both must agree on any batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.scoring._rules._base import identity_sessions, session_spans

_GAP = timedelta(hours=1)


def _nested(
    rows: pd.DataFrame, keys: list[str], gap: timedelta
) -> Iterator[tuple[tuple[Any, ...], pd.DataFrame]]:
    """The old way: one ``groupby(sort=False)`` per key, then runs split at pauses over gap."""
    if not keys:
        runs = (rows["event_time"].diff() > pd.Timedelta(gap)).cumsum()
        for _, run in rows.groupby(runs, sort=False):
            yield (), run
        return
    for value, group in rows.groupby(keys[0], sort=False):
        for inner, run in _nested(group, keys[1:], gap):
            yield (value, *inner), run


def _frame(cells: list[tuple[str | None, str | None, int]]) -> pd.DataFrame:
    minutes = np.cumsum([step for *_, step in cells]) if cells else np.zeros(0, dtype=int)
    start = pd.Timestamp("2026-03-01", tz="UTC")
    return pd.DataFrame(
        {
            "event_id": [f"e{n}" for n in range(len(cells))],
            "source_ip": [ip for ip, _, _ in cells],
            "identity_key": [who for _, who, _ in cells],
            "event_time": pd.array(
                [start + pd.Timedelta(minutes=int(m)) for m in minutes], dtype="datetime64[us, UTC]"
            ),
        },
        index=[10 * n + 3 for n in range(len(cells))],  # labels that are not positions
    )


_CELLS = st.lists(
    st.tuples(
        st.sampled_from(["10.0.0.1", "198.51.100.7", "203.0.113.9", None]),
        st.sampled_from(["role/a", "role/b", "user/c", None]),
        st.sampled_from([0, 1, 30, 60, 61, 200]),  # minutes after the previous event
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(cells=_CELLS, keys=st.sampled_from([["identity_key"], ["source_ip", "identity_key"]]))
def test_spans_are_the_runs_nested_groupbys_give_in_their_order(
    cells: list[tuple[str | None, str | None, int]], keys: list[str]
) -> None:
    rows = _frame(cells)
    expected = [(key, list(run["event_id"])) for key, run in _nested(rows, keys, _GAP)]
    found = [
        (key, list(rows["event_id"].to_numpy()[positions]))
        for key, positions in session_spans(rows, keys, _GAP)
    ]
    assert found == expected


@settings(max_examples=60, deadline=None)
@given(cells=_CELLS)
def test_identity_sessions_yield_the_frames_of_the_old_groupby(
    cells: list[tuple[str | None, str | None, int]],
) -> None:
    rows = _frame(cells)
    expected = [(str(key[0]), run) for key, run in _nested(rows, ["identity_key"], _GAP)]
    found = list(identity_sessions(rows, _GAP))
    assert [key for key, _ in found] == [key for key, _ in expected]
    for (_, run), (_, old) in zip(found, expected, strict=True):
        pd.testing.assert_frame_equal(run, old)  # same rows, index labels and dtypes


@pytest.mark.parametrize(
    ("minutes", "runs"),
    [
        ([0, 60], [["e0", "e1"]]),  # a pause of exactly the gap keeps one run
        ([0, 61], [["e0"], ["e1"]]),  # a pause over it splits
    ],
)
def test_a_run_ends_at_a_pause_over_the_gap(minutes: list[int], runs: list[list[str]]) -> None:
    rows = _frame([("10.0.0.1", "role/a", m) for m in np.diff([0, *minutes]).tolist()])
    found = [
        list(rows["event_id"].to_numpy()[p]) for _, p in session_spans(rows, ["identity_key"], _GAP)
    ]
    assert found == runs


def test_rows_without_a_key_belong_to_no_run() -> None:
    rows = _frame([(None, "role/a", 0), ("10.0.0.1", None, 1)])
    assert session_spans(rows, ["source_ip", "identity_key"], _GAP) == []
    assert session_spans(rows.iloc[:0], ["identity_key"], _GAP) == []
