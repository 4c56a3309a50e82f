"""Usual values: each identity's medians, the organisation's for strangers, peers' for newcomers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import UsualValues

FEATURES = ("n_events", "error_ratio", "novel_action_share")


@pytest.fixture
def usual() -> UsualValues:
    vectors = pd.DataFrame(
        {
            "identity_key": ["alice", "alice", "alice", "bob", "bob", "carol"],
            "n_events": [2.0, 4.0, 9.0, 10.0, 30.0, 7.0],
            "error_ratio": [0.0, 0.5, 0.5, 0.1, 0.3, np.nan],
            "novel_action_share": [0.0, 0.0, 1.0, 0.2, 0.2, 0.0],
        }
    )
    return UsualValues.fit(vectors, FEATURES)


def _by_pandas(usual: UsualValues, identities: list[str]) -> np.ndarray:
    """The lookup as written with pandas (the meaning the arrays must keep)."""
    found = usual.table.reindex(pd.Index(identities, dtype=object))
    return found.fillna(usual.org).to_numpy(dtype=np.float64)


@pytest.mark.parametrize(
    "identities",
    [["alice"], ["bob", "alice"], ["nobody"], ["carol", "nobody", "alice", "alice"], []],
    ids=["one", "two", "stranger", "mixed and repeated", "none"],
)
def test_lookup_gives_own_medians_and_the_organisations_for_the_rest(
    usual: UsualValues, identities: list[str]
) -> None:
    got = usual.lookup(np.asarray(identities, dtype=object))
    assert got.shape == (len(identities), len(FEATURES))
    assert np.array_equal(got, _by_pandas(usual, identities))


def test_a_feature_without_an_own_median_takes_the_organisations(usual: UsualValues) -> None:
    (carol,) = usual.lookup(["carol"])
    assert carol[0] == 7.0
    assert carol[1] == usual.org["error_ratio"]


def test_a_newcomer_with_peers_takes_their_median_and_a_known_identity_keeps_its_own(
    usual: UsualValues,
) -> None:
    peers = {"dave": ["alice", "bob", "nobody"], "alice": ["bob"]}
    got = usual.lookup(["dave", "alice", "erin"], peers)
    team = usual.table.loc[["alice", "bob"]].median().to_numpy()
    assert np.array_equal(got[0], team)
    assert np.array_equal(got[1], usual.table.loc["alice"].to_numpy())
    assert np.array_equal(got[2], usual.org.to_numpy())


def test_excess_of_arrays_equals_the_tables_excess(usual: UsualValues) -> None:
    vectors = pd.DataFrame(
        {
            "identity_key": ["alice", "nobody", "bob"],
            "n_events": [40.0, 0.0, 20.0],
            "error_ratio": [0.9, 0.0, 0.5],
            "novel_action_share": [1.0, 0.5, 0.0],
        },
        index=[7, 3, 5],
    )
    table = usual.excess(vectors)
    raw = vectors[list(FEATURES)].to_numpy(dtype=np.float64)
    arrays = usual.excess_of(raw, usual.lookup(vectors["identity_key"].to_numpy(dtype=object)))
    assert list(table.index) == [7, 3, 5]
    assert np.array_equal(table.to_numpy(), arrays)
    assert table.loc[3, "n_events"] == 0.0  # below the usual counts as nothing
    assert table.loc[7, "n_events"] == pytest.approx(np.log1p(40.0) - np.log1p(4.0))


def test_the_arrays_are_built_once_and_again_when_the_table_is_replaced(
    usual: UsualValues,
) -> None:
    usual.lookup(["alice"])
    built = usual._arrays()
    usual.lookup(["bob"])
    assert usual._arrays() is built
    usual.table = usual.table.assign(n_events=usual.table["n_events"] + 1.0)
    assert usual._arrays() is not built
    assert usual.lookup(["alice"])[0, 0] == 5.0


def test_stored_and_rebuilt_usual_values_look_up_alike(usual: UsualValues) -> None:
    storable = UsualValues(usual.table.fillna(0.0), usual.org, usual.windows)  # stored: finite
    rebuilt = UsualValues.from_frame(storable.to_frame(), FEATURES)
    identities = ["alice", "bob", "carol", "nobody"]
    assert np.array_equal(rebuilt.lookup(identities), storable.lookup(identities))
