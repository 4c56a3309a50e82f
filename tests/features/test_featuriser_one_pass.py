"""The featuriser's per-call work done once for all dimensions and features (ADR 0067).

Each new path is held equal to the one it replaced (the per-dimension keys and lookups,
``pd.array``), and the old path is exercised where the new one cannot be used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import features._sequences as sequences
import features._vectors as vectors
import features._windows as windows_module
from features import (
    FEATURE_NAMES,
    FeatureConfig,
    Profiles,
    behaviour_vectors,
    build_profiles,
    chain_roles,
    to_ns,
)
from features._windows import (
    count_before,
    dimension_pair_keys,
    earliest_by,
    first_uses,
    pair_keys,
    prepare,
)
from tests.features.conftest import random_events

NO_TIME = np.iinfo(np.int64).min


def _per_dimension(ident: Any, codes: Any) -> tuple[Any, ...]:
    """Keys of each dimension by :func:`pair_keys`, numbered apart by offsets (the old way)."""
    keys, dims, idents, values = [], [], [], []
    offset = 0
    for at, row in enumerate(codes):
        key, pair_ident, pair_value = pair_keys(ident, row)
        keys.append(np.where(key >= 0, key + offset, -1))
        offset += len(pair_ident)
        dims.append(np.full(len(pair_ident), at, dtype=np.int64))
        idents.append(pair_ident)
        values.append(pair_value)
    return np.array(keys), *(np.concatenate(x) for x in (dims, idents, values))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda m: st.integers(0, 12).flatmap(
            lambda n: st.tuples(
                st.lists(st.integers(0, 3), min_size=n, max_size=n),
                st.lists(
                    st.lists(st.integers(-1, 5), min_size=n, max_size=n), min_size=m, max_size=m
                ),
            )
        )
    )
)
def test_keys_of_every_dimension_at_once_are_those_of_each_dimension(case: Any) -> None:
    ident = np.array(case[0], dtype=np.int64)
    codes = np.array(case[1], dtype=np.int64).reshape(len(case[1]), len(ident))
    got = dimension_pair_keys(ident, codes)
    expected = _per_dimension(ident, codes)
    for left, right in zip(got, expected, strict=True):
        assert left.dtype == np.int64
        assert left.tolist() == right.tolist()


def test_one_dimensions_keys_are_pair_keys_as_before() -> None:
    ident = np.array([0, 0, 1, 1, 2], dtype=np.int64)
    codes = np.array([1, -1, 1, 0, 1], dtype=np.int64)
    key, pair_ident, pair_value = pair_keys(ident, codes)
    assert key.tolist() == [0, -1, 2, 1, 3]
    assert pair_ident.tolist() == [0, 1, 1, 2]
    assert pair_value.tolist() == [1, 0, 1, 1]
    none = pair_keys(ident, np.full(5, -1, dtype=np.int64))
    assert none[0].tolist() == [-1] * 5
    assert len(none[1]) == len(none[2]) == 0


_PROFILES = build_profiles(
    random_events(5, n=300, days=10.0), until=pd.Timestamp("2024-03-08", tz="UTC")
)
_PROFILES_INDEX = _PROFILES.index()
"""Profiles for hypothesis cases (built once: hypothesis does not take fixtures per case)."""


@pytest.fixture
def profiles(random_table) -> Profiles:
    events = random_table(3, n=300, days=10.0)
    return build_profiles(events, until=pd.Timestamp("2024-03-08", tz="UTC"))


def test_pairs_of_several_dimensions_are_looked_up_as_one_dimension_at_a_time(
    profiles: Profiles,
) -> None:
    index = profiles.index()
    table = profiles.values
    rows = table.sample(frac=1.0, random_state=4)  # dimensions interleaved
    dims = [*rows["dimension"].tolist(), "region", "no-such-dimension", "event_name"]
    idents = [*rows["identity_key"].tolist(), "nobody", "id1", "id1"]
    values = [*rows["value"].tolist(), "us-east-1", "x", None]
    count, last = index.pair_arrays(dims, idents, values)
    for at, (dim, ident, value) in enumerate(zip(dims, idents, values, strict=True)):
        one = index.value_arrays(dim, [ident], [value])
        assert (count[at], last[at]) == (one[0][0], one[1][0])
    assert count[: len(rows)].tolist() == rows["count"].astype(np.int64).tolist()
    assert count[len(rows) :].tolist() == [0, 0, 0]
    assert last[len(rows) :].tolist() == [NO_TIME] * 3


def test_pairs_are_never_seen_in_empty_profiles(config: FeatureConfig) -> None:
    index = Profiles.empty(config).index()
    count, last = index.pair_arrays(["region"], ["id0"], ["us-east-1"])
    assert count.tolist() == [0]
    assert last.tolist() == [NO_TIME]
    assert index.pair_arrays([], [], [])[0].tolist() == []


def _frames(random_table, config: FeatureConfig) -> list[pd.DataFrame]:
    events = random_table(17, n=400, days=8.0, identities=5)
    cut = pd.Timestamp("2024-03-06", tz="UTC")
    profiles = build_profiles(events[events["event_time"] < cut], config, until=cut)
    later = events[events["event_time"] >= cut].reset_index(drop=True)
    return [
        behaviour_vectors(events, config=config),
        behaviour_vectors(later, profiles),
        behaviour_vectors(later.iloc[:1], profiles, recent=later.iloc[1:40]),
    ]


@pytest.mark.parametrize("lacking", ["_SIMPLE_NEW", "_ARROW_TEXT"])
def test_vectors_are_the_same_without_the_direct_array_constructors(
    random_table, config: FeatureConfig, monkeypatch: pytest.MonkeyPatch, lacking: str
) -> None:
    expected = _frames(random_table, config)
    assert getattr(vectors, lacking) is not None  # the pandas this project pins has it
    monkeypatch.setattr(vectors, lacking, None)  # as on a pandas without it
    for got, want in zip(_frames(random_table, config), expected, strict=True):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got.attrs == want.attrs


@pytest.mark.parametrize("n", [1, 3])
def test_times_and_texts_made_directly_equal_pd_array(n: int) -> None:
    ns = np.arange(n, dtype=np.int64) * 3_600 * 10**9 + 1_709_251_200 * 10**9
    direct = vectors._utc(ns)
    assert type(direct) is pd.arrays.DatetimeArray
    pd.testing.assert_extension_array_equal(
        direct, pd.array(ns.view("datetime64[ns]"), dtype=pd.DatetimeTZDtype("ns", "UTC"))
    )
    texts = np.array([f"arn:aws:iam::1:role/r{at}" for at in range(n)], dtype=object)
    made = vectors._strings(texts)
    pd.testing.assert_extension_array_equal(made, pd.array(texts, dtype=vectors._STRINGS))
    assert made.dtype == pd.DataFrame({"s": texts}).dtypes.iloc[0]


def test_the_vector_table_takes_the_features_as_one_block() -> None:
    identity = np.array(["a", "b"], dtype=object)
    start = np.array([0, 3_600], dtype=np.int64) * 10**9 + 1_709_251_200 * 10**9
    block = np.random.default_rng(2).random((len(FEATURE_NAMES), 2))
    table = vectors.vector_table(identity, start, start + 3_600 * 10**9, block)
    assert table[list(FEATURE_NAMES)].to_numpy().T.tolist() == block.tolist()
    rows = vectors.vector_table(identity, start, start + 3_600 * 10**9, list(block))
    pd.testing.assert_frame_equal(table, rows, check_exact=True)


def _active_before_by_pooling(index: Any, owners: Any, times: Any, moments: Any) -> list[int]:
    """The old way: every identity of the index pooled with the uses, then counted."""
    _, firsts = earliest_by(
        np.concatenate([index.first_owner, owners]), np.concatenate([index.first_time, times])
    )
    return count_before(
        np.zeros(len(firsts), dtype=np.int64),
        firsts,
        np.zeros(len(moments), dtype=np.int64),
        moments,
    ).tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["id0", "id1", "id2", "new", "other", None]), st.integers(-5, 15)
        ),
        max_size=30,
    ),
    st.lists(st.integers(-6, 16), min_size=1, max_size=5),
)
def test_identities_active_before_a_moment_are_those_of_the_pooled_uses(
    uses: list[tuple[Any, int]], moments: list[int]
) -> None:
    index = _PROFILES_INDEX
    scale = 3_600 * 10**9
    base = int(index.first_sorted[len(index.first_sorted) // 2])
    owners = np.array([o for o, _ in uses], dtype=object)
    times = np.array([base + t * scale for _, t in uses], dtype=np.int64)
    at = np.array([base + m * scale for m in moments], dtype=np.int64)
    present = ~pd.isna(owners)
    got = index.active_before(owners[present], times[present], at)
    assert got.tolist() == _active_before_by_pooling(index, owners[present], times[present], at)


def test_no_uses_count_the_index_alone(profiles: Profiles) -> None:
    index = profiles.index()
    moments = np.array([NO_TIME + 1, *index.first_time.tolist(), 2**62], dtype=np.int64)
    empty = np.zeros(0, dtype=object)
    got = index.active_before(empty, np.zeros(0, dtype=np.int64), moments)
    assert got.tolist() == _active_before_by_pooling(
        index, empty, np.zeros(0, dtype=np.int64), moments
    )
    assert got[-1] == len(index.first_owner)


@pytest.mark.parametrize("dimension", ["hour_of_week", "changes_bucket", "region", "nothing"])
def test_an_identitys_rows_are_the_dimensions_rows_naming_it(
    profiles: Profiles, dimension: str
) -> None:
    index = profiles.index()
    asked = np.array(["id2", "nobody", "id0", "id1"], dtype=object)
    owner, value, count = index.identity_rows(dimension, asked)
    table = profiles.values[profiles.values["dimension"] == dimension]
    expected = [
        (at, v, int(c))
        for at, key in enumerate(asked.tolist())
        for who, v, c in zip(table["identity_key"], table["value"], table["count"], strict=True)
        if who == key
    ]
    assert list(zip(owner.tolist(), value.tolist(), count.tolist(), strict=True)) == expected
    assert owner.dtype == np.int64
    assert count.dtype == np.int64
    if dimension != "nothing":
        assert expected  # the case is not vacuous


def _users_before_by_pooling(
    profiles: Profiles, actions: Any, uses: Any, action_of: Any, moments: Any
) -> list[int]:
    """The old way: the profile's pairs of the actions pooled with the uses, deduplicated."""
    org = profiles.org_actions
    mine = org[org["event_name"].isin(actions.tolist()) & org["identity_key"].notna()]
    wanted = np.isin(uses[1].astype(str), actions.astype(str)) & ~pd.isna(uses[1])
    _, action, first = first_uses(
        np.concatenate([mine["identity_key"].to_numpy(dtype=object), uses[0][wanted]]),
        np.concatenate([mine["event_name"].to_numpy(dtype=object), uses[1][wanted]]),
        np.concatenate([to_ns(mine["first_seen"]), uses[2][wanted]]),
    )
    position = {a: at for at, a in enumerate(actions.tolist())}
    group = np.array([position[a] for a in action.tolist()], dtype=np.int64)
    return count_before(group, first, action_of, moments).tolist()


_ACTIONS = ["CreateVolume", "RunInstances", "AttachVolume", "NeverCalled", None]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["id0", "id1", "id2", "new", None]),
            st.sampled_from(_ACTIONS),
            st.integers(-40, 40),
        ),
        max_size=30,
    ),
    st.lists(st.tuples(st.integers(0, 3), st.integers(-40, 40)), min_size=1, max_size=6),
)
def test_users_of_an_action_before_a_moment_are_those_of_the_pooled_pairs(
    uses: list[tuple[Any, Any, int]], queries: list[tuple[int, int]]
) -> None:
    profiles = _PROFILES
    index = profiles.index()
    scale = 3_600 * 10**9
    base = int(index.first_sorted[len(index.first_sorted) // 2])
    actions = np.array(_ACTIONS[:4], dtype=object)
    given_uses = (
        np.array([u[0] for u in uses], dtype=object),
        np.array([u[1] for u in uses], dtype=object),
        np.array([base + u[2] * scale for u in uses], dtype=np.int64),
    )
    action_of = np.array([q[0] for q in queries], dtype=np.int64)
    moments = np.array([base + q[1] * scale for q in queries], dtype=np.int64)
    got = index.users_before(actions, first_uses(*given_uses), action_of, moments)
    assert got.dtype == np.int64
    assert got.tolist() == _users_before_by_pooling(
        profiles, actions, given_uses, action_of, moments
    )


def test_users_before_with_no_profile_count_the_uses_alone(config: FeatureConfig) -> None:
    index = Profiles.empty(config).index()
    uses = (
        np.array(["a", "b", "a", "c"], dtype=object),
        np.array(["X", "X", "X", "Y"], dtype=object),
        np.array([5, 1, 3, 2], dtype=np.int64),
    )
    actions = np.array(["X", "Y", "Z"], dtype=object)
    got = index.users_before(
        actions, first_uses(*uses), np.array([0, 0, 0, 1, 2, -1]), np.array([2, 4, 6, 3, 9, 3])
    )
    # X: b at 1, a at 3 (its earliest); Y: c at 2; Z: nobody; -1 is the last action (Z)
    assert got.tolist() == [1, 2, 2, 1, 0, 0]


def test_no_items_are_before_any_query() -> None:
    none = np.zeros(0, dtype=np.int64)
    got = count_before(none, none, np.array([0, 3, -1]), np.array([5, NO_TIME, 2**62]))
    assert got.dtype == np.int64
    assert got.tolist() == [0, 0, 0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chain_roles_from_the_prepared_codes_are_those_of_the_rows_values(
    random_table, config: FeatureConfig, seed: int
) -> None:
    prepared = prepare(random_table(seed, n=300, days=3.0), config)
    rows = np.arange(len(prepared), dtype=np.int64)[::2]
    got = sequences._roles(lambda expr: sequences._prepared_mask(prepared, expr)[rows], len(rows))
    columns = {name: prepared.objects_at(name, rows) for name in ("action", "resource_type")}
    expected = chain_roles(columns)
    assert got.tolist() == expected.tolist()
    assert set(expected.tolist()) > {0}  # some rows have roles


@pytest.mark.parametrize("n", [0, 1, 64, 65, 500])
def test_many_events_keys_by_a_sort_per_dimension_equal_one_sort_of_all(n: int) -> None:
    rng = np.random.default_rng(n)
    ident = np.sort(rng.integers(0, 7, n)).astype(np.int64)
    codes = np.stack([rng.integers(-1, k, n) for k in (30, 4, 1, 12)]).astype(np.int64)
    got = dimension_pair_keys(ident, codes)
    one_sort = windows_module._numbered_pairs(ident, codes)
    expected = _per_dimension(ident, codes)
    for left, middle, right in zip(got, one_sort, expected, strict=True):
        assert left.tolist() == middle.tolist() == right.tolist()
        assert left.dtype == middle.dtype == np.int64
