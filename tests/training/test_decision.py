"""The promotion rule as a table: floor, tolerance band, direction, window-invariant fallback."""

from __future__ import annotations

import pytest

from training._decision import criteria, decide

PR = "eval_pr_auc"


@pytest.mark.parametrize(
    ("challenger", "champion", "floor", "expected"),
    [
        (0.90, None, 0.2, "first"),  # no champion: the floor decides
        (0.10, None, 0.2, "rejected"),  # below the floor, even as the first model
        (None, None, 0.2, "rejected"),  # not evaluated
        (0.85, 0.80, 0.2, "promoted"),  # better
        (0.79, 0.80, 0.2, "promoted"),  # within the 0.02 band: a tie promotes
        (0.75, 0.80, 0.2, "rejected"),  # worse by more than the band
        (0.15, 0.10, 0.2, "rejected"),  # better than a poor champion, still below the floor
        (0.50, None, None, "first"),  # no floor asked for
    ],
)
def test_floor_and_band(
    challenger: float | None, champion: float | None, floor: float | None, expected: str
) -> None:
    rules = criteria(PR, windows_differ=False, tolerance=None)
    theirs = None if champion is None else {PR: champion}
    decision = decide(rules, {PR: challenger}, theirs, floor=floor)
    assert decision.decision == expected, decision.reason


def test_an_explicit_tolerance_replaces_the_default_band() -> None:
    rules = criteria(PR, windows_differ=False, tolerance=0.0)
    assert decide(rules, {PR: 0.79}, {PR: 0.80}, floor=None).decision == "rejected"


@pytest.mark.parametrize(
    ("challenger", "champion", "expected"),
    [(1.0, 2.0, "promoted"), (2.05, 2.0, "promoted"), (3.0, 2.0, "rejected")],
)
def test_lower_is_better_metrics_compare_the_other_way(
    challenger: float, champion: float, expected: str
) -> None:
    name = "eval_benign_alerts_per_day"  # band: 10 % of the champion's value
    rules = criteria(name, windows_differ=False, tolerance=None)
    assert decide(rules, {name: challenger}, {name: champion}, floor=None).decision == expected


def test_different_windows_compare_on_scenarios_then_benign_alerts() -> None:
    rules = criteria(PR, windows_differ=True, tolerance=None)
    assert [r.metric for r in rules] == ["eval_scenarios_detected", "eval_benign_alerts_per_day"]
    same_scenarios = {"eval_scenarios_detected": 8.0}
    noisier = decide(
        rules,
        {**same_scenarios, "eval_benign_alerts_per_day": 9.0},
        {**same_scenarios, "eval_benign_alerts_per_day": 3.0},
        floor=None,
    )
    assert noisier.decision == "rejected"
    assert "eval_benign_alerts_per_day" in noisier.reason
    catches_more = decide(
        rules,
        {"eval_scenarios_detected": 9.0, "eval_benign_alerts_per_day": 9.0},
        {"eval_scenarios_detected": 8.0, "eval_benign_alerts_per_day": 3.0},
        floor=None,
    )
    assert catches_more.decision == "promoted"


def test_a_window_invariant_metric_is_kept_when_windows_differ() -> None:
    rules = criteria("eval_scenario_recall", windows_differ=True, tolerance=None)
    assert [r.metric for r in rules] == ["eval_scenario_recall"]
