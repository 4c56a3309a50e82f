"""The featuriser's cheap paths for a live call's few events give the general answers (ADR 0057).

A service request featurises a handful of events; the same code featurises a month for
training. The cheap paths (a dictionary instead of pandas' factorisation, typed arrays
instead of the frame constructor's inference, the profile's organisation pairs looked up
by action, one ``prior_by_key`` call for every novelty dimension) must not change a value.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import features._windows as windows
from features import (
    FEATURE_NAMES,
    KEY_COLUMNS,
    VECTOR_SCHEMA_VERSION,
    FeatureConfig,
    FeatureState,
    behaviour_vectors,
    build_profiles,
    chain_roles,
    declared_mask,
)
from features._columns import in_order
from features._expressions import Col
from features._predicates import CHAIN_STEP, RESTART_STEP
from features._profile_index import INDEX_VERSION
from features._vectors import vector_table
from features._windows import _small_factorize, _whole_numbers, factorize, not_among

_VALUES = st.sampled_from(["a", "b", "us-east-1", "", None, math.nan, pd.NA, "b "])


def _same_factorisation(values: Any) -> None:
    codes, uniques = factorize(values)
    expected_codes, expected_uniques = pd.factorize(values, use_na_sentinel=True)
    assert codes.dtype == np.int64
    assert codes.tolist() == expected_codes.tolist()
    assert list(uniques) == list(expected_uniques)
    assert np.asarray(uniques).dtype == np.asarray(expected_uniques).dtype


@pytest.mark.parametrize(
    "values",
    [
        np.array([], dtype=object),
        np.array(["b", "a", "b", None, "c"], dtype=object),
        np.array([None, math.nan, pd.NA], dtype=object),
        np.array([3, -1, 3, 7, -1], dtype=np.int64),  # -1 is a value here, not "missing"
        np.array([64500.0, math.nan, 64501.0, 64500.0]),
        np.array(["x"] * 200 + [None, "y"], dtype=object),  # past the dictionary's size
        pd.Series(["b", None, "a", "b"], dtype="str"),
        pd.Series(["b", None, "a", "b"] * 40, dtype="str"),
    ],
)
def test_factorize_gives_pandas_codes_and_values(values: Any) -> None:
    _same_factorisation(values)


@given(st.lists(_VALUES, max_size=80))
@settings(max_examples=150, deadline=None)
def test_factorize_of_strings_and_missing_values_is_pandas_factorize(values: list[Any]) -> None:
    _same_factorisation(np.array(values, dtype=object))


@pytest.mark.parametrize(
    "values",
    [
        np.array([True, False, True]),
        np.array([1, "1", 1.0], dtype=object),
        np.array([b"x", b"y"], dtype=object),
        np.array([np.str_("x"), "x"], dtype=object),
        np.array(["2024-03-01"], dtype="datetime64[ns]"),
    ],
)
def test_values_the_dictionary_does_not_cover_go_to_pandas(values: Any) -> None:
    assert _small_factorize(values) is None
    _same_factorisation(values)


@given(st.lists(_VALUES, max_size=60), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_renumbering_in_sorted_order_equals_factorising_the_sorted_values(
    values: list[Any], rng: Any
) -> None:
    array = np.array(values, dtype=object)
    order = np.array(rng.sample(range(len(array)), len(array)), dtype=np.int64)
    codes, uniques = in_order(*factorize(array), order)
    expected_codes, expected_uniques = pd.factorize(array[order], use_na_sentinel=True)
    assert codes.tolist() == expected_codes.tolist()
    assert list(uniques) == list(expected_uniques)


@pytest.mark.parametrize("small", [0, 10**9], ids=["pandas-everywhere", "dictionary-everywhere"])
def test_vectors_are_the_same_whichever_factorisation_codes_them(
    random_table, config: FeatureConfig, monkeypatch: pytest.MonkeyPatch, small: int
) -> None:
    events = random_table(11, n=300, days=8.0)
    cut = pd.Timestamp("2024-03-06", tz="UTC")
    profiles = build_profiles(events[events["event_time"] < cut], config, until=cut)
    later = events[events["event_time"] >= cut].reset_index(drop=True)
    expected = (behaviour_vectors(events, config=config), behaviour_vectors(later, profiles))
    monkeypatch.setattr(windows, "_SMALL", small)
    got = (behaviour_vectors(events, config=config), behaviour_vectors(later, profiles))
    for left, right in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(left, right, check_exact=True)


def test_a_live_state_one_event_at_a_time_gives_the_batch_vectors(
    random_table, config: FeatureConfig
) -> None:
    events = random_table(12, n=120, days=3.0)
    state = FeatureState.start(config=config)
    last: dict[tuple[str, pd.Timestamp], pd.Series] = {}
    for at in range(len(events)):
        one = events.iloc[[at]]
        for _, row in state.vectors(one).iterrows():
            last[(row["identity_key"], row["window_start"])] = row
        state = state.advance(one)
    batch = behaviour_vectors(events, config=config)
    streamed = pd.DataFrame([last[k] for k in sorted(last)]).reset_index(drop=True)
    batch = batch.sort_values(["identity_key", "window_start"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        streamed[list(FEATURE_NAMES)].astype(np.float64), batch[list(FEATURE_NAMES)]
    )


def _constructed(identity: Any, start: Any, end: Any, features: list[Any]) -> pd.DataFrame:
    """The vector table as the plain constructor makes it, column by column."""
    columns: dict[str, Any] = {
        "identity_key": identity,
        "window_start": pd.to_datetime(start, utc=True),
        "window_end": pd.to_datetime(end, utc=True),
        "schema_version": np.full(len(identity), VECTOR_SCHEMA_VERSION, dtype=object),
    }
    columns.update(zip(FEATURE_NAMES, features, strict=True))
    return pd.DataFrame(columns, columns=list(KEY_COLUMNS + FEATURE_NAMES))


@pytest.mark.parametrize(
    "identity",
    [
        np.array(["arn:aws:iam::1:role/a", "b"], dtype=object),
        np.array([], dtype=object),
        np.array([7, "b"], dtype=object),  # not all strings: left to the constructor
    ],
    ids=["strings", "no-rows", "not-strings"],
)
def test_the_vector_table_is_the_one_the_constructor_makes(identity: Any) -> None:
    n = len(identity)
    start = np.arange(n, dtype=np.int64) * 3_600 * 10**9 + 1_709_251_200 * 10**9
    features = [np.random.default_rng(j).random(n) for j in range(len(FEATURE_NAMES))]
    table = vector_table(identity, start, start + 3_600 * 10**9, features)
    pd.testing.assert_frame_equal(
        table, _constructed(identity, start, start + 3_600 * 10**9, features), check_exact=True
    )
    assert table.attrs["schema_version"] == VECTOR_SCHEMA_VERSION


@pytest.mark.parametrize("dtype", [object, "str"])
@pytest.mark.parametrize(
    ("values", "among"),
    [
        (["e1", "e2", "e3"], ["e2"]),
        (["e1", None, math.nan], [math.nan]),  # missing ids: pandas' rules, per dtype
        ([], ["e1"]),
        (["e1"], []),
    ],
)
def test_recent_events_are_dropped_as_isin_drops_them(
    values: list[Any], among: list[Any], dtype: Any
) -> None:
    left, right = pd.Series(values, dtype=dtype), pd.Series(among, dtype=dtype)
    assert not_among(left, right).tolist() == (~left.isin(right)).tolist()


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([64500.0, math.nan, -0.0, 13335.0]),
        pd.Series([64500, None, 13335], dtype="Int64"),
        pd.Series([64500, None], dtype=object),
    ],
)
def test_asn_numbers_are_read_as_the_int64_cast_reads_them(column: pd.Series) -> None:
    expected = column.astype("Int64").to_numpy(dtype=np.float64, na_value=np.nan)
    np.testing.assert_array_equal(_whole_numbers(column), expected)


def test_an_asn_that_is_not_a_whole_number_fails_as_the_cast_fails() -> None:
    column = pd.Series([64500.5])
    with pytest.raises(TypeError) as cast:
        column.astype("Int64")
    with pytest.raises(type(cast.value)):
        _whole_numbers(column)


@pytest.mark.parametrize("expr", [CHAIN_STEP.expr, RESTART_STEP], ids=["chain-step", "restart"])
def test_a_declared_mask_over_column_arrays_equals_the_one_over_the_frame(
    random_table, expr: Any
) -> None:
    frame = random_table(13, n=200, days=5.0)
    mapping = {name: frame[name].to_numpy() for name in expr.columns()}
    assert declared_mask(mapping, expr).tolist() == declared_mask(frame, expr).tolist()
    assert declared_mask(frame, expr).tolist() == expr.mask(frame).tolist()
    roles = {name: frame[name].to_numpy() for name in frame.columns}
    assert chain_roles(roles).tolist() == chain_roles(frame).tolist()


@pytest.fixture
def profiles(random_table, config: FeatureConfig) -> Any:
    events = random_table(14, n=300, days=6.0)
    return build_profiles(events, config, until=pd.Timestamp("2024-03-06", tz="UTC"))


def test_each_actions_users_and_first_uses_are_kept_in_the_index(profiles) -> None:
    org = profiles.org_actions
    users, first, where = profiles.index().org_users["CreateVolume"]
    rows = org[org["event_name"] == "CreateVolume"]
    expected = rows.groupby("identity_key")["first_seen"].min()
    assert sorted(zip(users, first, strict=True)) == sorted(
        zip(
            expected.index,
            expected.astype("datetime64[ns, UTC]").astype(np.int64),
            strict=True,
        )
    )
    assert [users[at] for at in where.values()] == list(where)
    assert "NeverCalled" not in profiles.index().org_users


def test_each_identitys_earliest_use_is_kept_in_the_index(profiles) -> None:
    index = profiles.index()
    org = profiles.org_actions.groupby("identity_key")["first_seen"].min()
    known = profiles.identities.set_index("identity_key")["first_seen"]
    expected = pd.concat([org, known]).groupby(level=0).min()
    got = pd.Series(index.first_time, index=index.first_owner).sort_index()
    assert got.index.tolist() == expected.index.tolist()
    assert got.tolist() == expected.astype("datetime64[ns, UTC]").astype(np.int64).tolist()


def test_an_index_from_an_older_version_is_rebuilt(profiles) -> None:
    restored = pickle.loads(pickle.dumps(profiles))
    stale = restored.index()
    object.__setattr__(stale, "version", INDEX_VERSION - 1)
    assert restored.index() is not stale
    assert restored.index().version == INDEX_VERSION


def test_org_first_use_rows_without_a_name_or_identity_are_ignored(events) -> None:
    name = "GetPasswordData"
    table = events(
        [
            {"event_time": "2024-03-01T10:00Z", "identity_key": "a", "event_name": name},
            {"event_time": "2024-03-02T10:00Z", "identity_key": "b", "event_name": name},
        ]
    )
    org = table.groupby(["identity_key", "event_name"], as_index=False)["event_time"].min()
    org = org.rename(columns={"event_time": "first_seen"})
    noisy = pd.concat(
        [
            org,
            pd.DataFrame(
                {
                    "identity_key": [None, "c"],
                    "event_name": ["GetPasswordData", None],
                    "first_seen": pd.to_datetime(["2024-02-01", "2024-02-01"], utc=True),
                }
            ),
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(
        behaviour_vectors(table, org_first_use=noisy),
        behaviour_vectors(table, org_first_use=org),
        check_exact=True,
    )


def test_durations_are_read_per_setting() -> None:
    assert FeatureConfig(window="15min").window_ns == 900 * 10**9
    assert FeatureConfig(window="1h").window_ns == 3_600 * 10**9
    assert FeatureConfig(forget_days=0.5).forget_ns == 43_200 * 10**9


@pytest.mark.parametrize("seed", [15, 16])
def test_remembered_predicate_answers_are_the_predicates_answers(random_table, seed: int) -> None:
    frame = random_table(seed, n=150, days=4.0)
    for expr in (CHAIN_STEP.expr, RESTART_STEP, CHAIN_STEP.expr & ~RESTART_STEP):
        for part in (frame.iloc[:5], frame, frame.iloc[::-1], frame.iloc[70:71]):
            assert declared_mask(part, expr).tolist() == expr.mask(part).tolist()


def test_values_equal_across_types_are_answered_apart() -> None:
    truthy = Col("flag").true  # 1 is true, 1.0 is not (only booleans and integers are)
    assert declared_mask({"flag": np.array([1], dtype=object)}, truthy).tolist() == [True]
    assert declared_mask({"flag": np.array([1.0], dtype=object)}, truthy).tolist() == [False]
