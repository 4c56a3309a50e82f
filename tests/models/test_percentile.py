"""Scores as 0-100 percentiles of the training distribution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from changewatch.errors import ModelBundleError
from models import PercentileScale


@pytest.fixture
def training_scores() -> np.ndarray:
    return np.random.default_rng(0).beta(2.0, 5.0, size=20_000)


def test_percentiles_lie_in_0_100_and_never_decrease(training_scores: np.ndarray) -> None:
    scale = PercentileScale.from_scores(training_scores)
    s = np.sort(np.concatenate([training_scores, np.linspace(-1.0, 2.0, 5000)]))
    p = scale.percentile(s)
    assert p.min() == 0.0
    assert p.max() == 100.0
    assert np.all(np.diff(p) >= 0)


def test_training_scores_come_out_roughly_uniform(training_scores: np.ndarray) -> None:
    scale = PercentileScale.from_scores(training_scores)
    p = scale.percentile(training_scores)
    assert np.quantile(p, [0.1, 0.5, 0.9]) == pytest.approx([10.0, 50.0, 90.0], abs=0.2)
    assert scale.percentile(np.median(training_scores)) == pytest.approx(50.0, abs=0.1)


def test_bounds_of_the_training_range(training_scores: np.ndarray) -> None:
    scale = PercentileScale.from_scores(training_scores)
    assert scale.percentile(training_scores.min() - 1) == 0.0
    assert scale.percentile(training_scores.max()) == 100.0
    assert scale.percentile(training_scores.max() + 1) == 100.0
    assert np.isnan(scale.percentile(np.nan))


def test_a_threshold_keeps_its_meaning_across_retrains() -> None:
    # two "retrains" whose raw scores live on different scales flag the same share
    rng = np.random.default_rng(1)
    old, new = rng.normal(0.4, 0.05, 50_000), rng.normal(0.55, 0.02, 50_000)
    for train in (old, new):
        scale = PercentileScale.from_scores(train[:25_000])
        flagged = np.mean(scale.percentile(train[25_000:]) >= 99.0)
        assert flagged == pytest.approx(0.01, abs=0.003)


def test_score_at_inverts_percentile(training_scores: np.ndarray) -> None:
    scale = PercentileScale.from_scores(training_scores)
    for q in (0.0, 12.5, 50.0, 99.0, 100.0):
        assert scale.percentile(scale.score_at(q)) == pytest.approx(q, abs=1e-6)
    with pytest.raises(ValueError, match=r"percentile must be in \[0, 100\], got 101"):
        scale.score_at(101)


def test_ties_in_the_training_scores_stay_monotone() -> None:
    scores = np.repeat([0.3, 0.5, 0.7], [500, 300, 200])
    scale = PercentileScale.from_scores(scores)
    p = scale.percentile(np.array([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]))
    assert np.all(np.diff(p) >= 0)
    assert p[0] == 0.0
    assert p[-1] == 100.0


def test_building_is_deterministic(training_scores: np.ndarray) -> None:
    a = PercentileScale.from_scores(training_scores)
    b = PercentileScale.from_scores(training_scores.copy())
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
    assert a.quantiles.shape == (1001,)


def test_npz_round_trip(tmp_path: Path, training_scores: np.ndarray) -> None:
    scale = PercentileScale.from_scores(training_scores)
    digest = scale.to_npz(tmp_path / "scale.npz")
    loaded = PercentileScale.from_npz(tmp_path / "scale.npz", sha256=digest)
    np.testing.assert_array_equal(loaded.quantiles, scale.quantiles)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (np.array([0.1, 0.3, 0.2]), "non-decreasing"),
        (np.array([0.1, np.nan, 0.2]), "finite"),
        (np.array([0.1]), ">= 2 points"),
        (np.array([0.1, 0.2], dtype=np.float32), "expected dtype float64, got float32"),
    ],
)
def test_a_bad_grid_is_refused(tmp_path: Path, grid: np.ndarray, message: str) -> None:
    path = tmp_path / "scale.npz"
    with open(path, "wb") as handle:
        np.savez(handle, quantiles=grid)
    with pytest.raises(ModelBundleError, match=message):
        PercentileScale.from_npz(path)


@pytest.mark.parametrize(
    ("scores", "n_points", "message"),
    [([], 1001, "empty"), ([0.1, np.inf], 1001, "finite"), ([0.1, 0.2], 1, "n_points")],
)
def test_bad_training_scores_are_refused(scores: list[float], n_points: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PercentileScale.from_scores(scores, n_points=n_points)
