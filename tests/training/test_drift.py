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


def test_discrete_features_get_one_bin_per_value() -> None:
    from training._drift import psi_edges

    assert list(psi_edges(np.array([0.0, 0.0, 1.0, 2.0, 2.0]))) == [0.5, 1.5]


def test_atoms_that_shift_a_little_are_not_drift(rng: np.random.Generator) -> None:
    # -log2 of a count ratio: one more identity seen moves every atom a little
    atoms = -np.log2((np.arange(1, 30) + 1.0) / 41.0)
    weights = rng.dirichlet(np.ones(len(atoms)))
    reference = rng.choice(atoms, 3000, p=weights)
    current = rng.choice(-np.log2((np.arange(1, 30) + 1.0) / 42.0), 3000, p=weights)
    assert population_stability(reference, current) < 0.1


def test_a_model_and_one_trained_on_its_own_subset_show_no_major_drift(labelled) -> None:
    from features import behaviour_vectors
    from models import DEFAULT_FEATURES

    baseline = labelled.baseline
    later = baseline[baseline["event_time"] >= baseline["event_time"].min() + pd.Timedelta(days=2)]
    report = drift_report(behaviour_vectors(baseline), behaviour_vectors(later), DEFAULT_FEATURES)
    assert (report["status"] != "major").all(), report.head(3).to_string()
