"""Quality floors as an analyst meets them: recall and the alert budget, on simulated organisations.

For two organisation sizes, two seeds and a 14-day and a 28-day baseline: train the detector
on the baseline, score the 7-day test period with the baseline as history and the
organisation's own change policy (``changewatch score --history --windows``), and judge the
findings against the labels (``training.simulated_budget``; ``bench/quality.py`` prints the
same numbers). Every attack scenario is caught at medium or higher, no hard negative is
flagged at medium or higher, at most 2 benign medium+ findings a day, and the model's
window ROC-AUC is at least 0.95 (issue #13).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from training import BudgetRun, simulated_budget

ORGANISATIONS = {"small": {"org": "small", "scale": 0.5}, "large": {"org": "large", "scale": 0.5}}
# each size with both seeds and both baseline lengths
RUNS = [("small", 5, 14), ("small", 17, 28), ("large", 17, 14), ("large", 5, 28)]


@pytest.fixture(scope="module", params=RUNS, ids=[f"{o}-seed{s}-{b}d" for o, s, b in RUNS])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> BudgetRun:
    org, seed, baseline = request.param
    out: Path = tmp_path_factory.mktemp(f"quality-{org}-{seed}-{baseline}") / "sim"
    return simulated_budget(
        out, seed=seed, baseline_days=baseline, simulate_options=ORGANISATIONS[org]
    )


pytestmark = pytest.mark.slow


def test_every_attack_scenario_is_caught_at_medium_or_higher(run: BudgetRun) -> None:
    assert run.budget.scenarios
    assert run.budget.missed == ()


def test_no_hard_negative_is_flagged_at_medium_or_higher(run: BudgetRun) -> None:
    assert run.budget.hard_negatives
    assert run.budget.flagged == (), run.budget.benign_examples


def test_at_most_two_benign_medium_plus_findings_a_day(run: BudgetRun) -> None:
    assert run.budget.benign_medium_plus_per_day <= 2.0, run.budget.benign_examples


def test_window_roc_auc_is_at_least_0_95(run: BudgetRun) -> None:
    assert run.window_auc is not None
    assert run.window_auc >= 0.95
