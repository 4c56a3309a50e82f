"""CompiledForest scores exactly as IsolationForest.score_samples does."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from models import CompiledForest

TOL = 1e-9

SETTINGS: list[dict[str, Any]] = [
    {},
    {"max_samples": 64},
    {"max_samples": 0.5},
    {"max_samples": 2000},  # more than the data: sklearn warns and uses all rows
    {"max_features": 0.5},
    {"max_features": 3},
    {"max_features": 1},
    {"bootstrap": True},
    {"bootstrap": True, "max_samples": 0.3, "max_features": 0.7},
    {"contamination": 0.05},
    {"contamination": 0.2, "max_features": 0.6},
    {"max_samples": 2},
]


def _fit(n_features: int, seed: int, **params: Any) -> tuple[IsolationForest, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(600, n_features)) * rng.uniform(0.1, 100.0, n_features)
    expect_warning = params.get("max_samples") == 2000
    with pytest.warns(UserWarning, match="max_samples") if expect_warning else nullcontext():
        sk = IsolationForest(n_estimators=25, random_state=seed, **params).fit(data)
    return sk, data


@pytest.mark.parametrize(
    "params", SETTINGS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "default"
)
@pytest.mark.parametrize("n_features", [1, 4, 17])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_sklearn_on_random_data(
    params: dict[str, Any], n_features: int, seed: int
) -> None:
    if isinstance(params.get("max_features"), int) and params["max_features"] > n_features:
        pytest.skip("max_features larger than the data")
    sk, data = _fit(n_features, seed, **params)
    compiled = CompiledForest.from_sklearn(sk)
    rng = np.random.default_rng(seed + 100)
    rows_test = np.vstack([data[:50], rng.normal(size=(700, n_features)) * 3 * data.std(axis=0)])

    np.testing.assert_allclose(
        compiled.score_samples(rows_test), sk.score_samples(rows_test), rtol=0, atol=TOL
    )
    np.testing.assert_allclose(
        compiled.decision_function(rows_test), sk.decision_function(rows_test), rtol=0, atol=TOL
    )
    np.testing.assert_allclose(
        compiled.anomaly_score(rows_test), -sk.score_samples(rows_test), rtol=0, atol=TOL
    )


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_single_rows_equal_sklearn(seed: int) -> None:
    sk, data = _fit(6, seed, max_features=0.5)
    compiled = CompiledForest.from_sklearn(sk)
    for row in data[:20]:
        assert compiled.score_samples(row)[0] == pytest.approx(
            sk.score_samples(row[None])[0], abs=TOL
        )
        assert compiled.score_samples(row[None])[0] == pytest.approx(
            sk.score_samples(row[None])[0], abs=TOL
        )


@pytest.mark.parametrize("block", [1, 2, 7, 513])
def test_a_row_scores_the_same_alone_and_in_any_block(block: int) -> None:
    """Bit for bit: the service scores one window where a batch scores many (ADR 0032)."""
    sk, data = _fit(6, 4, max_features=0.5)
    compiled = CompiledForest.from_sklearn(sk)
    rows = np.vstack([data, data])[: max(block, 1)]
    together = compiled.anomaly_score(rows)
    alone = np.array([compiled.anomaly_score(row)[0] for row in rows])
    assert together.tobytes() == alone.tobytes()


def _threshold_rows(sk: IsolationForest, n_features: int, rng: np.random.Generator) -> np.ndarray:
    """Rows whose values sit on, and one float32 step either side of, the trees' thresholds."""
    values: list[tuple[int, float]] = []
    for est, feats in zip(sk.estimators_, sk.estimators_features_, strict=True):
        tree = est.tree_
        for f_local, t in zip(tree.feature, tree.threshold, strict=True):
            if f_local < 0:
                continue
            f = int(feats[f_local]) if len(feats) != n_features else int(f_local)
            t32 = np.float32(t)
            for v in (
                t,  # float64 threshold: rounds to nearest float32, maybe above t
                float(t32),
                float(np.nextafter(t32, np.float32(np.inf))),
                float(np.nextafter(t32, np.float32(-np.inf))),
                float(np.nextafter(t, np.inf)),
                float(np.nextafter(t, -np.inf)),
            ):
                values.append((f, v))
    rows = np.repeat(rng.normal(size=(1, n_features)), len(values), axis=0)
    for i, (f, v) in enumerate(values):
        rows[i, f] = v
    return rows


@pytest.mark.parametrize("params", [{}, {"max_features": 0.5}, {"bootstrap": True}])
def test_rows_exactly_on_thresholds_follow_sklearn(params: dict[str, Any]) -> None:
    sk, _ = _fit(5, 11, **params)
    compiled = CompiledForest.from_sklearn(sk)
    rows = _threshold_rows(sk, 5, np.random.default_rng(3))
    np.testing.assert_allclose(
        compiled.score_samples(rows), sk.score_samples(rows), rtol=0, atol=TOL
    )


def test_float64_values_that_round_differently_in_float32() -> None:
    # values between two float32 neighbours of a threshold: float64 order and float32 order differ
    sk, _ = _fit(3, 5)
    compiled = CompiledForest.from_sklearn(sk)
    t = float(sk.estimators_[0].tree_.threshold[0])
    f = int(sk.estimators_[0].tree_.feature[0])
    lo = float(np.nextafter(np.float32(t), np.float32(-np.inf)))
    hi = float(np.nextafter(np.float32(t), np.float32(np.inf)))
    grid = np.linspace(lo, hi, 101)
    rows = np.zeros((grid.size, 3))
    rows[:, f] = grid
    np.testing.assert_allclose(
        compiled.score_samples(rows), sk.score_samples(rows), rtol=0, atol=TOL
    )


def test_realistic_windows_equal_sklearn(forest: Any, make_windows: Any) -> None:
    sk, compiled, data = forest
    rows_test = np.vstack([data, make_windows(np.random.default_rng(99), 3000, data.shape[1])])
    np.testing.assert_allclose(
        compiled.score_samples(rows_test), sk.score_samples(rows_test), rtol=0, atol=TOL
    )


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("params", [{}, {"max_features": 0.5}])
def test_missing_and_infinite_values_follow_sklearn(params: dict[str, Any]) -> None:
    sk, data = _fit(4, 8, **params)
    compiled = CompiledForest.from_sklearn(sk)
    rows = np.repeat(data[:8], 6, axis=0)
    rows[0::6, 0] = np.nan
    rows[1::6, 1] = np.inf
    rows[2::6, 2] = -np.inf
    rows[3::6, 3] = 1e39  # beyond float32: becomes inf as in sklearn
    rows[4::6, :] = np.nan
    np.testing.assert_allclose(
        compiled.score_samples(rows), sk.score_samples(rows), rtol=0, atol=TOL
    )
    for row in rows[:6]:
        assert compiled.score_samples(row)[0] == pytest.approx(
            sk.score_samples(row[None])[0], abs=TOL
        )


def test_forest_fitted_on_missing_values_follows_sklearn() -> None:
    rng = np.random.default_rng(4)
    data = rng.normal(size=(500, 4))
    data[rng.random(data.shape) < 0.2] = np.nan
    sk = IsolationForest(n_estimators=20, random_state=0).fit(data)
    compiled = CompiledForest.from_sklearn(sk)
    rows_test = rng.normal(size=(300, 4))
    rows_test[rng.random(rows_test.shape) < 0.3] = np.nan
    np.testing.assert_allclose(
        compiled.score_samples(rows_test), sk.score_samples(rows_test), rtol=0, atol=TOL
    )


def test_batches_larger_than_a_block_equal_row_by_row(forest: Any) -> None:
    _, compiled, data = forest
    whole = compiled.score_samples(data[:700])
    one_by_one = np.array([compiled.score_samples(row)[0] for row in data[:700]])
    np.testing.assert_allclose(whole, one_by_one, rtol=0, atol=1e-12)


def test_constant_training_data_scores_like_sklearn() -> None:
    data = np.ones((50, 3))
    sk = IsolationForest(n_estimators=10, random_state=0).fit(data)
    compiled = CompiledForest.from_sklearn(sk)
    rows_test = np.array([[1.0, 1.0, 1.0], [5.0, -3.0, 0.0]])
    np.testing.assert_allclose(
        compiled.score_samples(rows_test), sk.score_samples(rows_test), rtol=0, atol=TOL
    )


def test_wrong_number_of_columns_is_refused(forest: Any) -> None:
    _, compiled, data = forest
    with pytest.raises(ValueError, match=r"shape \(n_samples, 12\)"):
        compiled.score_samples(data[:, :5])


def test_unfitted_forest_is_refused() -> None:
    with pytest.raises(ValueError, match="fitted"):
        CompiledForest.from_sklearn(IsolationForest())


def test_feature_names_come_from_a_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    sk = IsolationForest(n_estimators=5, random_state=0).fit(frame)
    assert CompiledForest.from_sklearn(sk).feature_names == ("a", "b", "c")
