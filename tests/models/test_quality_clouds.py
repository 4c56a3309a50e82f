"""Quality floors per cloud: the simulated organisation in Azure and Google Cloud, judged as in AWS.

The organisation of ``test_quality_budget.py`` is rendered as Azure Activity Log and as
Google Cloud Audit Logs (``simulate --cloud``, ADR 0054); each cloud's logs are ingested,
the detector is trained on the baseline and the test period scored with the policy the
simulator wrote in that cloud's names (``training.simulated_budget``; ``bench/quality.py
--clouds`` prints the same numbers). The budget is the AWS one: no hard negative at medium
or higher, at most 2 benign medium+ findings a day. Scenarios missed may only be the gaps
named below, each because a rule does not yet read that cloud (issue #18, item 3): shrink
the lists as rules become cloud-neutral; a new miss fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from training import BudgetRun, simulated_budget

MISSED_GAPS: dict[str, set[str]] = {
    # None left: Azure's serial console connection is a way into the machine (as AWS's
    # SendSerialConsoleSSHPublicKey) and Google's instances.get a read of its startup
    # scripts (as AWS's DescribeInstanceAttribute userData), ADR 0056.
    "azure": set(),
    "gcp": set(),
}


@pytest.fixture(scope="module", params=["azure", "gcp"])
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, BudgetRun]:
    cloud: str = request.param
    out: Path = tmp_path_factory.mktemp(f"quality-{cloud}") / "sim"
    options = {"org": "small", "scale": 0.5, "cloud": cloud}
    return cloud, simulated_budget(out, seed=5, baseline_days=14, simulate_options=options)


pytestmark = pytest.mark.slow


def test_attack_scenarios_are_caught_but_for_named_rule_gaps(run: tuple[str, BudgetRun]) -> None:
    cloud, found = run
    assert len(found.budget.scenarios) >= 10
    assert set(found.budget.missed) <= MISSED_GAPS[cloud]


def test_no_hard_negative_is_flagged_at_medium_or_higher(run: tuple[str, BudgetRun]) -> None:
    # Before ADR 0056 other seeds flagged new_employee_first_days and oncall_fix_outside_window
    # in both clouds: people were weighed like automation there (features.is_person_key).
    _, found = run
    assert found.budget.hard_negatives
    assert found.budget.flagged == (), found.budget.benign_examples


def test_at_most_two_benign_medium_plus_findings_a_day(run: tuple[str, BudgetRun]) -> None:
    # People are pooled with their peers in every cloud (features.PERSON_KEYS, ADR 0056);
    # while only AWS keys were known, this Google run gave 2.29 a day.
    _, found = run
    assert found.budget.benign_medium_plus_per_day <= 2.0, found.budget.benign_examples
