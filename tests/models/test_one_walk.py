"""Scores and attributions from one walk of the forest equal the two separate answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest

from models import CompiledForest, IsolationDetector
from models._forest import _BLOCK_ROWS


def _with_missing(rows: np.ndarray) -> np.ndarray:
    rows = rows.copy()
    rows[min(1, len(rows) - 1), 0] = np.nan
    rows[-1, :] = np.nan
    return rows


@pytest.mark.parametrize("missing", [False, True], ids=["finite", "with missing values"])
@pytest.mark.parametrize("n_rows", [1, 2, 3, 40, _BLOCK_ROWS + 7], ids=lambda n: f"{n}rows")
def test_one_walk_equals_score_and_attributions_bit_for_bit(
    forest: tuple[IsolationForest, CompiledForest, np.ndarray], n_rows: int, missing: bool
) -> None:
    _, compiled, data = forest
    rows = _with_missing(data[:n_rows]) if missing else data[:n_rows]
    scores, credit = compiled.scores_and_attributions(rows)
    assert np.array_equal(scores, compiled.anomaly_score(rows))
    assert np.array_equal(credit, compiled.attributions(rows))


def test_one_row_scores_the_same_alone_and_in_a_batch(
    forest: tuple[IsolationForest, CompiledForest, np.ndarray],
) -> None:
    _, compiled, data = forest
    batch_scores, batch_credit = compiled.scores_and_attributions(data[:600])
    for at in (0, 17, 599):
        scores, credit = compiled.scores_and_attributions(data[at])
        assert scores[0] == batch_scores[at]
        assert np.array_equal(credit[0], batch_credit[at])


@pytest.fixture(scope="module")
def matrix() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(rng.normal(size=(400, 4)), columns=["a", "b", "c", "d"])


@pytest.mark.parametrize("stored", [False, True], ids=["fitted", "rebuilt from its parts"])
def test_score_rows_equals_score_samples_and_attributions(
    matrix: pd.DataFrame, stored: bool
) -> None:
    detector = IsolationDetector(n_estimators=30, random_state=0).fit(matrix)
    if stored:  # as a bundle loads it: no scikit-learn forest, the same compiled one
        detector = IsolationDetector.from_parts(detector.compiled_, detector.scale_)
    rows = matrix.iloc[:7]
    scores, credit = detector.score_rows(rows.to_numpy())
    assert np.array_equal(scores, detector.score_samples(rows))
    assert np.array_equal(credit, detector.attributions(rows))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.array([[0.0, np.nan, 1.0, 2.0]]), "finite"),
        (np.array([[0.0, np.inf, 1.0, 2.0]]), "finite"),
        (np.zeros((2, 3)), r"shape \(n_samples, 4\)"),
        (np.zeros(4), r"shape \(n_samples, 4\)"),
    ],
    ids=["NaN", "infinity", "too narrow", "one dimension"],
)
def test_score_rows_refuses_what_score_samples_refuses(
    matrix: pd.DataFrame, bad: np.ndarray, message: str
) -> None:
    detector = IsolationDetector(n_estimators=10, random_state=0).fit(matrix)
    with pytest.raises(ValueError, match=message):
        detector.score_rows(bad)
