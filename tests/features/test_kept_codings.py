"""A live state's tables keep their columns' codes (ADR 0069); the vectors stay those of the frames.

:meth:`features.EventColumns.coding` is ``pandas.factorize`` of a column, derived for a pooled
table from its first part's and for a table of some rows from its source's. The featuriser
reads a kept table's codes numbered in the table's row order instead of the sorted order;
every vector must be the one the frame way (no column form, codes made per call) gives.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import features._sequences as sequences
from features import (
    EventColumns,
    FeatureConfig,
    FeatureState,
    InputError,
    behaviour_vectors,
    declared_mask,
)
from features._columns import in_order
from features._windows import coded_first_uses, factorize, first_uses, prepare

CONFIG = FeatureConfig(window="1h", horizon="6h", forget_days=1)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text as Python strings (object columns), as the service keeps it."""
    text = {name: object for name, dtype in frame.dtypes.items() if str(dtype) == "str"}
    return frame.astype(text)


def _table(frame: pd.DataFrame) -> EventColumns:
    table = EventColumns.of(frame)
    assert table is not None
    return table


def _factorized(values: Any) -> tuple[list[int], list[Any]]:
    codes, uniques = pd.factorize(np.asarray(values), use_na_sentinel=True)
    return codes.tolist(), list(uniques)


def _same(table: EventColumns, name: str) -> None:
    """The table's coding of ``name`` is ``pandas.factorize`` of the column."""
    coding = table.coding(name)
    assert coding is not None, name
    codes, values, index = coding
    assert (codes.tolist(), values) == _factorized(table.column(name)), name
    assert codes.dtype == np.int64
    assert index == {value: at for at, value in enumerate(values)}


_CODED = ("event_name", "region", "country", "client_version", "error_code", "asn", "attribute")


@pytest.fixture
def plain(random_table: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    return _plain(random_table(7, n=120, days=2))


def test_a_tables_coding_is_pandas_factorize_of_the_column(plain: pd.DataFrame) -> None:
    table = _table(plain)
    for name in _CODED:
        _same(table, name)
    assert table.coding("asn") is not None  # a float column: NaN is missing
    assert table.coding("resource_ids") is None  # lists
    assert table.coding("is_compute_change") is None  # not text or floats
    assert table.coding("event_time") is None


@pytest.mark.parametrize(
    "odd", [pd.NA, 3, np.str_("x"), 1.5, b"x"], ids=["NA", "int", "numpy-str", "float", "bytes"]
)
def test_a_text_column_with_another_kind_of_value_is_coded_by_pandas_or_not_at_all(
    plain: pd.DataFrame, odd: Any
) -> None:
    frame = plain.copy()
    frame["region"] = frame["region"].astype(object)
    frame.loc[5, "region"] = odd
    table = _table(frame)
    if odd is pd.NA:  # pandas reads it as missing
        _same(table, "region")
        assert table.coding("region")[0][5] == -1  # type: ignore[index]
    else:
        assert table.coding("region") is None
    pooled = EventColumns.concat([_table(plain), _table(frame.iloc[:10])])
    assert pooled is not None
    assert pooled.coding("region") is None  # a new row it does not code: none


@pytest.mark.parametrize("cut", [1, 60, 119])
def test_a_pooled_table_codes_the_rows_after_its_first_part(plain: pd.DataFrame, cut: int) -> None:
    head, tail = _table(plain.iloc[:cut]), _table(plain.iloc[cut:])
    before = {name: head.coding(name) for name in _CODED}
    sizes = {name: len(coding[1]) for name, coding in before.items() if coding is not None}
    pooled = EventColumns.concat([head, tail])
    assert pooled is not None
    for name in _CODED:
        _same(pooled, name)
        coding = head.coding(name)
        assert coding is before[name]  # the first part's own coding is left as it was
        assert coding is not None
        assert len(coding[1]) == len(coding[2]) == sizes[name]
        _same(head, name)


def test_new_values_and_missing_values_extend_a_coding() -> None:
    head = _table(
        pd.DataFrame({"x": pd.Series(["a", None, "b"], dtype=object), "y": [1.0, 2.0, 1.0]})
    )
    tail = _table(
        pd.DataFrame({"x": pd.Series([np.nan, "c", "a"], dtype=object), "y": [np.nan, -0.0, 0.0]})
    )
    pooled = EventColumns.concat([head, tail])
    assert pooled is not None
    assert pooled.coding("x") is not None
    assert pooled.coding("y") is not None
    _same(pooled, "x")
    _same(pooled, "y")
    assert pooled.coding("x")[0].tolist() == [0, -1, 1, -1, 2, 0]  # type: ignore[index]
    assert pooled.coding("y")[0].tolist() == [0, 1, 0, -1, 2, 2]  # type: ignore[index]


@pytest.mark.parametrize(
    "rows", [[], [3], [7, 1, 1, 119], list(range(119, 0, -4))], ids=["none", "one", "mixed", "back"]
)
def test_a_table_of_some_rows_renumbers_its_sources_codes(
    plain: pd.DataFrame, rows: list[int]
) -> None:
    table = _table(plain)
    for name in _CODED:
        table.coding(name)
    taken = table.take(rows)
    for name in _CODED:
        _same(taken, name)
    assert taken._origin is None  # every coding renumbered: the source is let go
    fresh = _table(plain).take(rows)  # a source without codings: coded from the rows
    assert fresh._origin is None
    for name in _CODED:
        _same(fresh, name)


def test_a_settled_table_keeps_the_codings_its_first_part_had(plain: pd.DataFrame) -> None:
    head, tail = _table(plain.iloc[:100]), _table(plain.iloc[100:])
    head.coding("region")
    pooled = EventColumns.concat([head, tail])
    assert pooled is not None
    settled = pooled.settled()
    assert settled._parts == ()
    assert set(settled._codings) == {"region"}  # coded when settled, the others when asked
    _same(settled, "region")
    _same(settled, "country")


def test_renumbering_by_first_appearance_among_some_rows() -> None:
    values = np.array(["b", None, "a", "c", "b"], dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    for rows in ([4, 2, 1], [1], [3, 3, 0, 2], []):
        at = np.array(rows, dtype=np.intp)
        got_codes, got_uniques = in_order(codes.astype(np.int64), uniques, at)
        assert (got_codes.tolist(), list(got_uniques)) == _factorized(values[at])


def test_a_kept_tables_codes_label_the_values_that_sorted_codes_label(
    plain: pd.DataFrame,
) -> None:
    """Codes numbered in the table's (unsorted) rows; :meth:`ordered_codes` gives the sorted."""
    shuffled = plain.sample(frac=1.0, random_state=3).reset_index(drop=True)
    kept = prepare(_table(shuffled), CONFIG)
    frame = prepare(shuffled, CONFIG)
    for name in ("event_name", "region", "country", "asn", "client_version", "attribute"):
        codes, names = kept.codes(name)
        expected_codes, expected_names = frame.codes(name)
        assert np.array_equal(codes < 0, expected_codes < 0), name
        assert (
            names[codes[codes >= 0]].tolist()
            == expected_names[expected_codes[expected_codes >= 0]].tolist()
        ), name
        if name != "client_version":  # its names have one for no pair, which no row has
            ordered, ordered_names = kept.ordered_codes(name)
            assert ordered.tolist() == expected_codes.tolist(), name
            assert ordered_names.tolist() == expected_names.tolist(), name
    first, _ = kept.codes("event_name")
    assert first.tolist() != kept.ordered_codes("event_name")[0].tolist()  # numbered apart


def _late_stream(events: pd.DataFrame, cuts: list[int]) -> pd.DataFrame:
    state = FeatureState.start(config=CONFIG)
    out = []
    for a, b in itertools.pairwise([0, *sorted(set(cuts)), len(events)]):
        part = events.iloc[a:b]
        out.append(state.vectors(part))
        state = state.advance(part)
    return pd.concat(out, ignore_index=True)


def _frame_way(run: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EventColumns, "of", classmethod(lambda cls, frame, copy=True: None))
        return run()


def _exactly(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        left, right, check_exact=True, check_index_type=True, check_column_type=True
    )


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 40),
    cuts=st.lists(st.integers(1, 89), max_size=6),
    swaps=st.lists(st.tuples(st.integers(0, 89), st.integers(0, 89)), max_size=12),
    unnamed=st.lists(st.integers(0, 89), max_size=4),
)
def test_late_events_and_events_without_a_name_give_the_frame_ways_vectors(
    random_table: Callable[..., pd.DataFrame],
    seed: int,
    cuts: list[int],
    swaps: list[tuple[int, int]],
    unnamed: list[int],
) -> None:
    """Events out of time order number values apart from the sorted order; rows without an
    event name count as the last name in the sorted order (:meth:`Prepared.ordered_codes`)."""
    events = _plain(random_table(seed, n=90, days=0.5, identities=2))
    order = list(range(len(events)))
    for a, b in swaps:
        order[a], order[b] = order[b], order[a]
    events = events.iloc[order].reset_index(drop=True)
    events.loc[unnamed, "event_name"] = None
    got = _late_stream(events, cuts)
    _exactly(got, _frame_way(lambda: _late_stream(events, cuts)))


def test_a_row_without_a_name_counts_as_the_last_name_in_the_sorted_order(
    events: Callable[..., pd.DataFrame],
) -> None:
    """The state keeps RunInstances before DescribeInstances, the sorted order has them the
    other way round: the unnamed event counts as RunInstances, used by no other identity."""
    start = pd.Timestamp("2024-03-01T10:00", tz="UTC")
    rows = [
        {"event_name": "RunInstances", "event_time": start + pd.Timedelta("40min")},
        {"event_name": "DescribeInstances", "event_time": start + pd.Timedelta("10min")},
        *(
            {"identity_key": f"u{i}", "event_name": "DescribeInstances", "event_time": start}
            for i in range(3)
        ),
    ]
    earlier = [
        {"identity_key": f"u{i}", "event_name": "DescribeInstances", "event_time": at}
        for i in range(3)
        for at in (start - pd.Timedelta("2h"),)
    ]
    unnamed = {"event_name": "StopInstances", "event_time": start + pd.Timedelta("20min")}
    frame = _plain(events([*earlier, *rows, unnamed]))
    frame.loc[len(frame) - 1, "event_name"] = None
    held, new = frame.iloc[:-1], frame.iloc[-1:]

    def run() -> pd.DataFrame:
        state = FeatureState.start(config=CONFIG).advance(held, until=int(start.value))
        return state.vectors(new)

    state = FeatureState.start(config=CONFIG).advance(held, until=int(start.value))
    table = state.open_events
    assert table is not None
    coding = table.coding("event_name")
    assert coding is not None
    assert coding[1][:2] == ["RunInstances", "DescribeInstances"]  # the state's row order
    got = run()
    expected = _frame_way(run)
    _exactly(got, expected)
    alice = got[got["identity_key"] == "alice"]
    # DescribeInstances (3 users before), the unnamed row and RunInstances (none): 2 of 3
    assert alice["org_rare_action_share"].tolist() == [2 / 3]


def test_an_asn_that_is_not_a_whole_number_fails_in_a_state_as_in_a_frame(
    plain: pd.DataFrame,
) -> None:
    bad = plain.assign(asn=plain["asn"].astype(np.float64))
    bad.loc[3, "asn"] = 64500.5
    state = FeatureState.start(config=CONFIG).advance(
        bad.iloc[:-1], until=int(bad["event_time"].min().value)
    )
    assert state.open_events is not None
    with pytest.raises((TypeError, ValueError, InputError)):
        state.vectors(bad.iloc[-1:])
    with pytest.raises((TypeError, ValueError, InputError)):
        behaviour_vectors(bad, config=CONFIG)


def test_an_asn_column_of_objects_is_coded_per_call(plain: pd.DataFrame) -> None:
    objects = plain.assign(asn=plain["asn"].astype(object))
    until = int(objects["event_time"].iloc[60].value)
    state = FeatureState.start(config=CONFIG).advance(objects.iloc[:-1], until=until)
    assert state.open_events is not None
    assert state.open_events.coding("asn") is None
    _exactly(
        state.vectors(objects.iloc[-1:]),
        _frame_way(
            lambda: (
                FeatureState.start(config=CONFIG)
                .advance(objects.iloc[:-1], until=until)
                .vectors(objects.iloc[-1:])
            )
        ),
    )


@pytest.mark.parametrize("kept", [False, True], ids=["frame", "kept-codes"])
@pytest.mark.parametrize("seed", [1, 2])
def test_predicates_answered_by_one_grouping_are_each_ones_declared_mask(
    random_table: Callable[..., pd.DataFrame], seed: int, kept: bool
) -> None:
    """:func:`_prepared_masks` of the sequence predicates at once: each one's own answers."""
    frame = _plain(random_table(seed, n=300, days=3.0))
    prepared = prepare(_table(frame) if kept else frame, CONFIG)
    exprs = [
        sequences._SUCCEEDED_STEP,
        sequences.RESTART_STEP,
        *(expr for _, expr in sequences._ROLES),
    ]
    masks = sequences._prepared_masks(prepared, exprs)
    rows = np.arange(len(prepared), dtype=np.int64)
    names = sorted({name for expr in exprs for name in expr.columns()})
    columns = {name: prepared.objects_at(name, rows) for name in names}
    for expr, mask in zip(exprs, masks, strict=True):
        assert mask.tolist() == declared_mask(columns, expr).tolist()
        assert mask.tolist() == sequences._prepared_mask(prepared, expr).tolist()
    assert all(mask.any() for mask in masks)  # every predicate holds somewhere
    empty = prepare(frame.iloc[:0], CONFIG)
    assert [mask.tolist() for mask in sequences._prepared_masks(empty, exprs)] == [[]] * 6


def test_a_kept_table_is_prepared_as_its_frame(plain: pd.DataFrame) -> None:
    """Identities from the table's coding: the same codes, order and windows as the frame's."""
    shuffled = plain.sample(frac=1.0, random_state=5).reset_index(drop=True)
    table = _table(shuffled)
    kept, frame = prepare(table, CONFIG), prepare(shuffled, CONFIG)
    assert "identity_key" in table._codings
    assert kept.identities.tolist() == frame.identities.tolist()
    assert kept.identities.dtype == frame.identities.dtype
    for name in ("ident", "time", "window", "order"):
        assert np.array_equal(getattr(kept, name), getattr(frame, name)), name
    missing = shuffled.copy()
    missing.loc[4, "identity_key"] = None
    with pytest.raises(InputError, match="identity_key"):
        prepare(_table(missing), CONFIG)


@given(
    owners=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=0, max_size=30),
    seed=st.integers(0, 10**6),
)
@settings(max_examples=60, deadline=None)
def test_first_uses_of_codes_are_those_of_the_values(owners: list[Any], seed: int) -> None:
    rng = np.random.default_rng(seed)
    owner = np.array(owners, dtype=object)
    action = np.array(rng.choice(["X", "Y", None], len(owners)), dtype=object)  # type: ignore[arg-type]
    time = rng.integers(0, 100, len(owners)).astype(np.int64)
    got = coded_first_uses(*factorize(owner), *factorize(action), time)
    expected = first_uses(owner, action, time)
    assert [part.tolist() for part in got] == [part.tolist() for part in expected]
    assert got[0].dtype == got[1].dtype == object


def test_pooling_the_same_rows_again_reads_the_first_poolings_coding(plain: pd.DataFrame) -> None:
    """A call pools the state's events with its event twice (vectors, then advance)."""
    head = _table(plain.iloc[:100])
    first = EventColumns.concat([head, _table(plain.iloc[100:])])
    again = EventColumns.concat([head, _table(plain.iloc[100:].copy())])
    assert first is not None
    assert again is not None
    for name in _CODED:
        _same(first, name)
        assert again.coding(name) is first.coding(name)  # equal rows: the same coding
    other = plain.iloc[100:].copy()
    other["region"] = other["region"].astype(object)
    other.iloc[0, other.columns.get_loc("region")] = "xx-new-1"
    other["asn"] = other["asn"].astype(np.float64)
    other.iloc[0, other.columns.get_loc("asn")] = -0.0
    changed = EventColumns.concat([head, _table(other)])
    assert changed is not None
    for name in ("region", "asn"):
        assert changed.coding(name) is not first.coding(name)
        _same(changed, name)
    zero = other.copy()
    zero.iloc[0, zero.columns.get_loc("asn")] = 0.0  # equal to -0.0, other bits
    pooled = EventColumns.concat([head, _table(zero)])
    assert pooled is not None
    assert pooled.coding("asn") is not changed.coding("asn")
    _same(pooled, "asn")
