"""How the compute rules grade a hit by what the identity's history says (ADR 0035, 0021)."""

from __future__ import annotations

import pytest

from models.scoring import Severity
from models.scoring._rules._novelty import Novelty, graded

H, M, L = Severity.HIGH, Severity.MEDIUM, Severity.LOW


@pytest.mark.parametrize(
    ("base", "found", "routine", "expected"),
    [
        (M, Novelty.UNKNOWN, L, M),  # no history: the rule's base severity
        (M, Novelty.NEW, L, H),  # never did it: one level up
        (M, Novelty.ROUTINE, L, L),  # did it before: the routine severity
        (M, Novelty.ROUTINE, None, None),  # ... or silence
        (M, Novelty.UNATTRIBUTED, L, L),  # records naming nobody: low at most
        (H, Novelty.UNATTRIBUTED, None, L),
        (Severity.INFO, Novelty.UNATTRIBUTED, L, Severity.INFO),
    ],
)
def test_a_hit_is_graded_by_the_identitys_history(
    base: Severity, found: Novelty, routine: Severity | None, expected: Severity | None
) -> None:
    assert graded(base, found, routine=routine) == expected
