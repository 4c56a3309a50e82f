"""The profile index: the profile tables as lookups, built once per Profiles object (ADR 0034)."""

from __future__ import annotations

import pickle
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features import Profiles, behaviour_vectors, build_profiles, to_ns

NO_TIME = np.iinfo(np.int64).min


@pytest.fixture
def profiles(random_table) -> Profiles:
    events = random_table(3, n=300, days=10.0)
    return build_profiles(events, until=pd.Timestamp("2024-03-08", tz="UTC"))


def test_value_lookups_give_each_pairs_count_and_last_use(profiles: Profiles) -> None:
    table = profiles.values
    index = profiles.index()
    for dimension, rows in table.groupby("dimension"):
        count, last = index.value_arrays(
            str(dimension), rows["identity_key"].tolist(), rows["value"].tolist()
        )
        assert count.tolist() == rows["count"].astype(np.int64).tolist()
        assert last.tolist() == to_ns(rows["last_seen"]).tolist()


def test_an_unknown_pair_or_identity_is_never_seen(profiles: Profiles) -> None:
    index = profiles.index()
    count, last = index.value_arrays("region", ["nobody", "nobody"], ["us-east-1", None])
    assert count.tolist() == [0, 0]
    assert last.tolist() == [NO_TIME, NO_TIME]
    figures = index.identity_arrays(np.array(["nobody"], dtype=object))
    assert figures["n_events"].tolist() == [0]
    assert figures["last_seen"].tolist() == [NO_TIME]
    assert figures["last_active_day"].tolist() == [-1]


def test_identity_figures_are_those_of_the_table(profiles: Profiles) -> None:
    table = profiles.identities
    figures = profiles.index().identity_arrays(table["identity_key"].to_numpy(dtype=object))
    assert figures["n_events"].tolist() == table["n_events"].astype(np.int64).tolist()
    assert figures["epoch_start"].tolist() == to_ns(table["epoch_start"]).tolist()


def test_the_index_is_built_once_and_not_carried_to_a_changed_copy(profiles: Profiles) -> None:
    assert profiles.index() is profiles.index()
    fewer = replace(profiles, values=profiles.values.iloc[:0])
    assert fewer.index() is not profiles.index()
    assert fewer.index().value_arrays("region", ["x"], ["y"])[0].tolist() == [0]


def test_profiles_pickled_before_the_index_existed_still_index(profiles: Profiles) -> None:
    restored = pickle.loads(pickle.dumps(profiles))
    object.__delattr__(restored, "_index")  # as unpickled from a version without the cache
    assert restored.index().row == profiles.index().row


def test_vectors_are_the_same_from_a_fresh_or_a_reused_index(random_table) -> None:
    events = random_table(5, n=400, days=12.0)
    cut = pd.Timestamp("2024-03-09", tz="UTC")
    before, after = events[events["event_time"] < cut], events[events["event_time"] >= cut]
    profiles = build_profiles(before, until=cut)
    first = behaviour_vectors(after, profiles)
    again = behaviour_vectors(after, profiles)  # the index built by the first call
    fresh = behaviour_vectors(after, replace(profiles))
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, fresh)
