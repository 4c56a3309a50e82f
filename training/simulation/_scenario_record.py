"""What a scenario is: the :class:`Scenario` record and its two kinds."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from training.simulation._engine import Simulation
from training.simulation._time import DAY, HOUR, MINUTE, local_time, to_date

__all__ = ["ATTACK", "HARD_NEGATIVE", "Placer", "Run", "Scenario", "weekday_time"]

ATTACK: Final = "attack"
HARD_NEGATIVE: Final = "hard_negative"

Run = Callable[[Simulation, int, random.Random], None]
Placer = Callable[[Simulation, random.Random], "int | None"]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One injectable scenario.

    Parameters
    ----------
    name : str
        Registry name (``--attacks NAME``).
    kind : str
        ``attack`` or ``hard_negative``.
    techniques : tuple of str
        MITRE ATT&CK technique ids (and the analytic id where one is named).
    events : frozenset of str
        Event names the scenario leaves (exactly, for attacks).
    summary : str
        One line for the manifest and the documentation.
    day : int
        Default day of the test period (0-based; clipped to the period).
    hour : float
        Default local hour of that day.
    timezone : str
        Time zone of ``hour``.
    run : callable
        ``run(sim, t, rng)`` emits the scenario from ``t``.
    placer : callable, optional
        ``placer(sim, rng)`` returns the default injection time when it depends on the
        organisation's calendar (a window, a weekday), or ``None`` when the test period
        has no such time (the scenario is then skipped and the manifest says why).
    """

    name: str
    kind: str
    techniques: tuple[str, ...]
    events: frozenset[str]
    summary: str
    day: int
    hour: float
    timezone: str
    run: Run
    placer: Placer | None = None

    def default_time(self, test_start: int, end: int) -> int:
        """Return the injection time when none is chosen, inside the test period."""
        days = max(1, (end - test_start) // DAY)
        day = to_date(test_start + min(self.day, days - 1) * DAY)
        t = local_time(day, self.hour, self.timezone)
        return max(test_start + 5 * MINUTE, min(t, end - 5 * HOUR))


def weekday_time(
    sim: Simulation, weekday: int, hour: float, timezone: str, skip_frozen: bool = False
) -> int | None:
    """Return the first ``weekday`` (Monday 0) of the test period at local ``hour``.

    ``None`` when the test period has no such day.

    With ``skip_frozen``, days whose time falls in a freeze are passed over.
    """
    org = sim.org
    for offset in range(0, org.end - org.test_start, DAY):
        day = to_date(org.test_start + offset)
        if day.weekday() != weekday:
            continue
        t = local_time(day, hour, timezone)
        frozen = any(f["start_epoch"] <= t < f["end_epoch"] for f in sim.freezes)
        if org.test_start <= t < org.end - 5 * HOUR and not (skip_frozen and frozen):
            return t
    return None
