"""EventColumns: a live state's events as NumPy columns give the frame way's frames and vectors.

A state holds its open events as :class:`features.EventColumns` when they have a column form
(ADR 0065); everything it and the featuriser compute from them must be what the frame-based
code computes, byte for byte. "The frame way" below is the same code with the column form
refused (``EventColumns.of`` answering ``None``), which is also what a state of Arrow-backed
or categorical events does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import features._columns as columns_module
from features import EventColumns, FeatureConfig, FeatureState, behaviour_vectors
from features._columns import _frame_arrays

CONFIG = FeatureConfig(window="1h", horizon="6h", forget_days=1)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text as Python strings (object columns), as the service keeps it."""
    text = {name: object for name, dtype in frame.dtypes.items() if str(dtype) == "str"}
    return frame.astype(text)


def _exactly(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        left, right, check_exact=True, check_index_type=True, check_column_type=True
    )
    assert left.index.equals(right.index)


@pytest.fixture
def plain(random_table: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    return _plain(random_table(3, n=200, days=4))


def test_a_table_gives_back_the_frame_it_was_read_from(plain: pd.DataFrame) -> None:
    table = EventColumns.of(plain)
    assert table is not None
    assert len(table) == len(plain)
    assert table.names == tuple(plain.columns)
    _exactly(table.to_frame(), plain)


@pytest.mark.parametrize("unit", ["ns", "us", "ms"])
def test_times_keep_their_unit_and_zone(plain: pd.DataFrame, unit: str) -> None:
    frame = plain.assign(event_time=plain["event_time"].dt.as_unit(unit))
    table = EventColumns.of(frame)
    assert table is not None
    _exactly(table.to_frame(), frame)
    expected = frame["event_time"].dt.as_unit("ns").to_numpy(dtype="datetime64[ns]")
    assert np.array_equal(table.times(), expected.view(np.int64))


@pytest.mark.parametrize(
    "rows", [[], [0], [5, 1, 1, 199], list(range(0, 200, 3))], ids=["none", "one", "mixed", "many"]
)
def test_taking_rows_is_taking_them_from_the_frame(plain: pd.DataFrame, rows: list[int]) -> None:
    table = EventColumns.of(plain)
    assert table is not None
    _exactly(table.take(rows).to_frame(), plain.take(rows).reset_index(drop=True))


@pytest.mark.parametrize("cut", [1, 77, 199])
def test_pooled_tables_are_the_frames_concatenated(plain: pd.DataFrame, cut: int) -> None:
    head, tail = EventColumns.of(plain.iloc[:cut]), EventColumns.of(plain.iloc[cut:])
    assert head is not None
    assert tail is not None
    pooled = EventColumns.concat([head, tail])
    assert pooled is not None
    assert np.array_equal(pooled.column("event_id"), plain["event_id"].to_numpy())
    _exactly(pooled.settled().to_frame(), pd.concat([plain.iloc[:cut], plain.iloc[cut:]]))
    _exactly(pooled.to_frame(), plain)


def test_tables_of_other_columns_do_not_pool(plain: pd.DataFrame) -> None:
    table = EventColumns.of(plain)
    other = EventColumns.of(plain.assign(asn=plain["asn"].astype(object)))
    fewer = EventColumns.of(plain.drop(columns=["as_org"]))
    assert table is not None
    assert other is not None
    assert fewer is not None
    assert EventColumns.concat([table, other]) is None
    assert EventColumns.concat([table, fewer]) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f,  # the Arrow-backed text pandas reads by default
        lambda f: _plain(f).assign(region=_plain(f)["region"].astype("category")),
        lambda f: _plain(f).assign(asn=_plain(f)["asn"].astype("Int64")),
        lambda f: _plain(f).assign(region=_plain(f)["region"].astype(pd.ArrowDtype(pa.string()))),
        lambda f: _plain(f).assign(event_time=f["event_time"].dt.tz_convert("Europe/Paris")),
        lambda f: _plain(f).assign(event_time=f["event_time"].dt.tz_localize(None)),
        lambda f: _plain(f).set_axis([*f.columns[:-1], f.columns[0]], axis=1),
    ],
    ids=["str", "category", "Int64", "arrow", "zone", "naive", "repeated name"],
)
def test_columns_without_a_column_form_keep_the_frame(
    random_table: Callable[..., pd.DataFrame], change: Callable[[pd.DataFrame], pd.DataFrame]
) -> None:
    frame = change(random_table(4, n=60, days=1))
    assert EventColumns.of(frame) is None
    state = FeatureState.start(config=CONFIG).advance(frame)
    assert state.open_events is None
    assert len(state.recent)


def _every_kind() -> pd.DataFrame:
    """Columns of every kind a frame may hold, some sharing a block, some of their own."""
    frame = pd.DataFrame(
        {
            "text": pd.Series(["a", None, "c"], dtype="str"),
            "objects": np.array(["x", None, ["l"]], dtype=object),
            "ints": np.arange(3, dtype=np.int64),
            "floats": [1.5, np.nan, 3.0],
            "flags": [True, False, True],
            "more_ints": np.arange(3, dtype=np.int64) * 7,
            "times": pd.to_datetime([0, 10**9, 2 * 10**9], utc=True),
            "paris": pd.to_datetime([0, 10**9, 2 * 10**9], utc=True).tz_convert("Europe/Paris"),
            "category": pd.Categorical(["u", "v", "u"]),
            "nullable": pd.array([1, None, 3], dtype="Int64"),
        }
    )
    frame["late"] = frame["ints"] + 1  # a block of its own, after the others
    return frame


@pytest.mark.parametrize("kind", ["plain", "every-kind"])
def test_the_arrays_read_are_the_frames_columns_with_or_without_the_block_reading(
    plain: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    frame = plain if kind == "plain" else _every_kind()
    direct = list(_frame_arrays(frame))
    assert columns_module._block_arrays(frame) is not None  # the blocks were read
    table = EventColumns.of(frame)
    monkeypatch.setattr(columns_module, "_block_arrays", lambda frame: None)
    read = list(_frame_arrays(frame))
    assert len(direct) == len(read) == frame.shape[1]
    for name, one, other in zip(frame.columns, direct, read, strict=True):
        assert type(one) is type(other), name
        assert one.dtype == other.dtype, name
        assert pd.Series(one).equals(pd.Series(other)), name
        assert pd.Series(one, dtype=frame[name].dtype).equals(frame[name].reset_index(drop=True))
    slow = EventColumns.of(frame)
    if kind == "plain":
        assert table is not None
        assert slow is not None
        _exactly(slow.to_frame(), table.to_frame())
    else:  # no column form either way
        assert table is None
        assert slow is None


def test_a_table_does_not_change_with_the_frame_it_was_read_from(plain: pd.DataFrame) -> None:
    frame = plain.copy()
    table = EventColumns.of(frame)
    assert table is not None
    frame.loc[0, "event_name"] = "Changed"
    frame.loc[0, "asn"] = 1.0
    _exactly(table.to_frame(), plain)


def _stream(
    events: pd.DataFrame, cuts: list[int], lag: bool, again: int
) -> tuple[pd.DataFrame, FeatureState]:
    """Feed pieces (each bringing ``again`` earlier events again); every piece's vectors."""
    state = FeatureState.start(config=CONFIG)
    out = []
    for a, b in itertools.pairwise([0, *sorted(set(cuts)), len(events)]):
        part = events.iloc[max(a - again, 0) : b]
        out.append(state.vectors(part))
        until = int(part["event_time"].max().value) - 3 * 3_600 * 10**9 if lag else None
        state = state.advance(part, until=until)
    return pd.concat(out, ignore_index=True), state


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 50),
    cuts=st.lists(st.integers(1, 219), max_size=8),
    lag=st.booleans(),
    again=st.sampled_from([0, 3]),
)
def test_a_state_of_columns_gives_the_vectors_and_events_of_the_frame_way(
    random_table: Callable[..., pd.DataFrame], seed: int, cuts: list[int], lag: bool, again: int
) -> None:
    events = _plain(random_table(seed, n=220, days=3, identities=3))
    vectors, state = _stream(events, cuts, lag, again)
    assert state.open_events is not None  # the column form was used
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EventColumns, "of", classmethod(lambda cls, frame, copy=True: None))
        expected_vectors, expected_state = _stream(events, cuts, lag, again)
        assert expected_state.open_events is None
    _exactly(vectors, expected_vectors)
    _exactly(state.recent, expected_state.recent)
    assert state.until_ns == expected_state.until_ns


def test_kept_events_read_back_as_rows_are_those_of_the_frame(plain: pd.DataFrame) -> None:
    state = FeatureState.start(config=CONFIG).advance(
        plain, until=int(plain["event_time"].min().value)
    )
    assert state.open_events is not None
    frame = state.recent.copy()
    rows = np.array([4, 0, 9], dtype=np.intp)
    _exactly(state.recent_rows(rows), frame.iloc[rows].reset_index(drop=True))
    mask = np.zeros(len(frame), dtype=bool)
    mask[[2, 3, 7]] = True
    _exactly(state.recent_rows(np.flatnonzero(mask), keep_index=True), frame[mask])
    _exactly(state.recent_rows(np.zeros(0, dtype=np.intp)), frame.iloc[:0])
    assert np.array_equal(state.recent_values("event_id"), frame["event_id"].to_numpy())


@pytest.mark.parametrize("new_as", ["plain", "str"], ids=["same columns", "other dtypes"])
def test_vectors_over_earlier_columns_equal_those_over_the_earlier_frame(
    random_table: Callable[..., pd.DataFrame], new_as: str
) -> None:
    arrow = random_table(5, n=200, days=3)
    plain = _plain(arrow)
    earlier = EventColumns.of(plain.iloc[:150])
    assert earlier is not None
    new = (plain if new_as == "plain" else arrow).iloc[140:]  # ten of them sent again
    expected = behaviour_vectors(new, recent=plain.iloc[:150], config=CONFIG)
    _exactly(behaviour_vectors(new, recent=earlier, config=CONFIG), expected)
