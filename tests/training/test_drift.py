from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training import drift_report, population_stability


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_same_distribution_is_stable(rng: np.random.Generator) -> None:
    assert population_stability(rng.normal(size=4000), rng.normal(size=4000)) < 0.02


@pytest.mark.parametrize(("shift", "floor"), [(0.5, 0.1), (1.5, 0.25)])
def test_shifted_distribution_drifts(rng: np.random.Generator, shift: float, floor: float) -> None:
    assert population_stability(rng.normal(size=4000), rng.normal(shift, size=4000)) > floor


def test_count_features_with_many_zeros_are_binned_by_ties(rng: np.random.Generator) -> None:
    reference = np.where(rng.random(5000) < 0.9, 0.0, rng.poisson(3, 5000))
    same = np.where(rng.random(5000) < 0.9, 0.0, rng.poisson(3, 5000))
    busier = np.where(rng.random(5000) < 0.5, 0.0, rng.poisson(3, 5000))
    assert population_stability(reference, same) < 0.02
    assert population_stability(reference, busier) > 0.25


def test_report_ranks_features_and_flags_missing(rng: np.random.Generator) -> None:
    reference = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    current = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(2, size=2000)})
    report = drift_report(reference, current, ["a", "b", "c"])
    assert list(report["feature"]) == ["b", "a", "c"]
    assert list(report["status"]) == ["major", "stable", "missing"]
