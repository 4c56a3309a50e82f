"""The organisation simulator: weeks of realistic CloudTrail with labelled attacks.

Public surface::

    simulate(out, days=..., seed=..., attacks=...)  -> SimulationResult
    SCENARIOS                                      name -> Scenario (attacks, hard negatives)

See ``docs/simulator.md`` for the organisation, its rhythm and every scenario.
"""

from __future__ import annotations

from training.simulation._scenarios import ATTACK, HARD_NEGATIVE, SCENARIOS, Scenario
from training.simulation._simulate import DEFAULT_REGIONS, DEFAULT_START, SimulationResult, simulate

__all__ = [
    "ATTACK",
    "DEFAULT_REGIONS",
    "DEFAULT_START",
    "HARD_NEGATIVE",
    "SCENARIOS",
    "Scenario",
    "SimulationResult",
    "simulate",
]
