"""Fixtures for the scoring core: fitted forests on small, realistic-shaped matrices."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from models import CompiledForest


def window_like(rng: np.random.Generator, n: int, n_features: int) -> np.ndarray:
    """Rows shaped like behavioural windows: sparse counts, a few rates and ratios."""
    data = np.empty((n, n_features))
    for j in range(n_features):
        kind = j % 4
        if kind == 0:  # event counts, mostly zero
            data[:, j] = rng.poisson(0.3, n) * rng.integers(0, 2, n)
        elif kind == 1:  # larger counts
            data[:, j] = rng.poisson(12.0, n)
        elif kind == 2:  # ratios in [0, 1]
            data[:, j] = rng.beta(0.5, 3.0, n)
        else:  # heavy-tailed volumes
            data[:, j] = rng.lognormal(2.0, 1.0, n)
    return data


@pytest.fixture(scope="session")
def make_windows() -> Callable[[np.random.Generator, int, int], np.ndarray]:
    """Factory of window-shaped matrices: ``make_windows(rng, n_rows, n_features)``."""
    return window_like


@pytest.fixture(scope="module")
def forest() -> tuple[IsolationForest, CompiledForest, np.ndarray]:
    rng = np.random.default_rng(7)
    data = window_like(rng, 1500, 12)
    sk = IsolationForest(n_estimators=40, random_state=7).fit(data)
    return sk, CompiledForest.from_sklearn(sk), data
