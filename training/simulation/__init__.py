"""The organisation simulator: weeks of realistic CloudTrail with labelled attacks.

Public surface::

    simulate(out, days=..., seed=..., attacks=..., org="small"|"large",
             policy="realistic"|"complete")          -> SimulationResult
    SCENARIOS                                      name -> Scenario (attacks, hard negatives)
    PRESETS                                        name -> OrgPreset (the organisations)
    POLICIES                                       the change policies it can write
    identity_kind(manifest, identity_key)          person, automation, service, ...

See ``docs/simulator.md`` for the organisation, its rhythm and every scenario.
"""

from __future__ import annotations

from training.simulation._manifest import identity_kind
from training.simulation._presets import PRESETS, OrgPreset
from training.simulation._scenarios import ATTACK, HARD_NEGATIVE, SCENARIOS, Scenario
from training.simulation._simulate import (
    DEFAULT_ORG,
    DEFAULT_REGIONS,
    DEFAULT_START,
    SimulationResult,
    simulate,
)
from training.simulation._windows import POLICIES

__all__ = [
    "ATTACK",
    "DEFAULT_ORG",
    "DEFAULT_REGIONS",
    "DEFAULT_START",
    "HARD_NEGATIVE",
    "POLICIES",
    "PRESETS",
    "SCENARIOS",
    "OrgPreset",
    "Scenario",
    "SimulationResult",
    "identity_kind",
    "simulate",
]
