"""Explanations name the feature that made a window anomalous, in analyst words."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from changewatch.errors import ConfigurationError
from models import CompiledForest, describe, explain, format_number, rank_features

N_FEATURES = 8


@pytest.fixture(scope="module", params=[0, 1, 2], ids=lambda s: f"seed{s}")
def gaussian(request: pytest.FixtureRequest) -> tuple[CompiledForest, np.random.Generator]:
    rng = np.random.default_rng(request.param)
    data = rng.normal(size=(2000, N_FEATURES))
    sk = IsolationForest(n_estimators=100, random_state=request.param).fit(data)
    return CompiledForest.from_sklearn(sk), rng


@pytest.mark.parametrize("k", [0, 3, 7])
@pytest.mark.parametrize("sigma", [8.0, -8.0])
def test_the_one_anomalous_feature_is_named_first(gaussian: Any, k: int, sigma: float) -> None:
    compiled, rng = gaussian
    rows = rng.normal(scale=0.5, size=(5, N_FEATURES))
    rows[:, k] = sigma
    contributions = compiled.attributions(rows)
    for row in contributions:
        assert rank_features(row)[0] == k
        assert row[k] > 2 * np.delete(row, k).max()  # and it stands out


def test_two_anomalous_features_are_the_top_two(gaussian: Any) -> None:
    compiled, _ = gaussian
    row = np.zeros(N_FEATURES)
    row[[2, 5]] = [7.0, -7.0]
    assert set(rank_features(compiled.attributions(row)[0])[:2]) == {2, 5}


def test_contributions_add_up_to_the_shortened_path(gaussian: Any) -> None:
    compiled, rng = gaussian
    rows = rng.normal(size=(300, N_FEATURES)) * 2
    mean_path = compiled.path_length_sums(rows) / compiled.n_trees
    np.testing.assert_allclose(
        compiled.attributions(rows).sum(axis=1),
        compiled.expected_path_length - mean_path,
        atol=1e-9,
    )


def test_single_row_and_batch_attributions_agree(gaussian: Any) -> None:
    compiled, rng = gaussian
    rows = rng.normal(size=(600, N_FEATURES))
    batch = compiled.attributions(rows)
    np.testing.assert_allclose(compiled.attributions(rows[123]), batch[123:124], atol=1e-12)


def test_attributions_handle_missing_values(gaussian: Any) -> None:
    compiled, _ = gaussian
    row = np.zeros(N_FEATURES)
    row[1] = np.nan
    row[4] = 9.0
    contributions = compiled.attributions(row)[0]
    assert np.isfinite(contributions).all()
    assert rank_features(contributions)[0] == 4


def test_explain_reads_like_an_analyst_sentence(gaussian: Any) -> None:
    compiled, _ = gaussian
    names = [f"f{i}" for i in range(N_FEATURES)]
    names[3] = "snapshots_created_1h"
    row = np.zeros(N_FEATURES)
    row[3] = 14.0
    usual = np.zeros(N_FEATURES)
    templates = {"snapshots_created_1h": "{value} snapshots created in one hour; usually {usual}"}
    found = explain(compiled.attributions(row)[0], row, usual, names, templates=templates, top=2)
    assert found[0].name == "snapshots_created_1h"
    assert found[0].text == "14 snapshots created in one hour; usually 0"
    assert found[0].value == 14.0
    assert 0 < found[0].share <= 1
    assert len(found) <= 2
    assert all(a.contribution >= b.contribution for a, b in itertools.pairwise(found))


def test_features_without_a_template_get_the_default_wording() -> None:
    found = explain([0.0, 2.0], [1.0, 3.5], [1.0, np.nan], ["a", "regions_used"])
    assert [f.text for f in found] == ["regions_used = 3.5; usually unknown"]


def test_an_ordinary_window_may_have_nothing_to_explain() -> None:
    assert explain([-0.2, -0.1], [1.0, 1.0], [1.0, 1.0], ["a", "b"]) == []
    assert len(explain([-0.2, -0.1], [1.0, 1.0], [1.0, 1.0], ["a", "b"], positive_only=False)) == 2


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (14.0, "14"),
        (0.0, "0"),
        (1250.0, "1,250"),
        (0.25, "0.25"),
        (3.14159, "3.1"),
        (1234.56, "1,235"),
        (0.003141, "0.0031"),
        (-2.0, "-2"),
        (float("nan"), "unknown"),
        (float("inf"), "infinite"),
    ],
)
def test_numbers_are_written_briefly(value: float, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize("template", ["{value} in {region}", "{value", "{0} things"])
def test_a_template_with_unknown_or_broken_fields_is_a_configuration_error(template: str) -> None:
    for _ in range(2):  # every time: a checked template is kept, a refused one is not
        with pytest.raises(ConfigurationError, match="template for feature 'x'"):
            describe("x", 1.0, 0.0, template)


def test_a_checked_template_is_kept_per_feature_name() -> None:
    assert describe("a", 3.0, 1.0, "{value} of a; usually {usual}") == "3 of a; usually 1"
    with pytest.raises(ConfigurationError, match="template for feature 'b'"):
        describe("b", 3.0, 1.0, "{value} of {b}")
    assert describe("a", 2.5, 1.0, "{value} of a; usually {usual}") == "2.5 of a; usually 1"


def test_rank_features_breaks_ties_by_column() -> None:
    assert rank_features([1.0, 3.0, 3.0, -1.0]) == [1, 2, 0]
    assert rank_features([1.0, 3.0, 3.0, -1.0], positive_only=False) == [1, 2, 0, 3]


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="must all have 2 entries"):
        explain([1.0, 2.0, 3.0], [1.0, 2.0], [0.0, 0.0], ["a", "b"])
