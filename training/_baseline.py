"""Checks on the training data: a baseline too short to trust, and labelled attacks in it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

__all__ = [
    "MIN_BASELINE_DAYS",
    "MIN_IDENTITIES",
    "MIN_WINDOWS",
    "LabelledInTraining",
    "baseline_warnings",
    "labelled_in_training",
]

logger = logging.getLogger(__name__)

MIN_WINDOWS: Final = 500
"""Fewer training windows than this and the percentiles are coarse (p99 is the 5th
highest window of 500) and each isolation tree (256 windows) sees most of the data."""
MIN_IDENTITIES: Final = 5
"""Fewer identities than this and "usual for the organisation" means one or two people."""
MIN_BASELINE_DAYS: Final = 14.0
"""Fewer days than this and the weekly rhythm is seen at most once after the cold start
(an identity is in cold start for its first 7 days)."""


def baseline_warnings(detector: Any, training: pd.DataFrame) -> list[str]:
    """Return one sentence per way the baseline is short (empty when it is not).

    Parameters
    ----------
    detector : models.ChangeDetector
        The fitted detector (training windows and period).
    training : pandas.DataFrame
        The training events.
    """
    start, end = detector.training_period_
    days = (pd.Timestamp(end) - pd.Timestamp(start)) / pd.Timedelta(days=1)
    windows = int(detector.n_training_windows_)
    identities = int(training["identity_key"].nunique())
    found = []
    if windows < MIN_WINDOWS:
        found.append(
            f"only {windows} training windows (fewer than {MIN_WINDOWS}): percentiles are "
            "coarse and the forest sees little variety"
        )
    if identities < MIN_IDENTITIES:
        found.append(f"only {identities} identities (fewer than {MIN_IDENTITIES})")
    if days < MIN_BASELINE_DAYS:
        found.append(
            f"only {days:.1f} days of baseline (fewer than {MIN_BASELINE_DAYS:g}): identities "
            "spend their first 7 days in cold start and the weekly rhythm is barely seen"
        )
    for text in found:
        logger.warning("short baseline: %s", text)
    return found


@dataclass(frozen=True, slots=True)
class LabelledInTraining:
    """Events labelled ``attack`` found in the training period."""

    events: int
    scenarios: tuple[str, ...]
    excluded: bool

    def message(self) -> str:
        """Return the warning text."""
        action = (
            "excluded from training"
            if self.excluded
            else ("trained on as normal (pass --exclude-labelled to leave them out)")
        )
        return (
            f"{self.events} events labelled as attacks lie in the training period "
            f"({', '.join(self.scenarios)}): {action}"
        )


def labelled_in_training(
    training: pd.DataFrame, labels: pd.DataFrame | None, *, exclude: bool
) -> tuple[pd.DataFrame, LabelledInTraining]:
    """Find labelled attack events among the training events; drop them when ``exclude``.

    Returns
    -------
    tuple of (pandas.DataFrame, LabelledInTraining)
        The training events to fit on, and what was found.
    """
    if labels is None or not len(labels):
        return training, LabelledInTraining(0, (), exclude)
    attacks = labels[labels["kind"] == "attack"]
    inside = training["event_id"].astype(str).isin(attacks["event_id"])
    count = int(inside.sum())
    found = attacks[attacks["event_id"].isin(training.loc[inside, "event_id"].astype(str))]
    report = LabelledInTraining(count, tuple(sorted(found["scenario"].unique())), exclude)
    if count:
        logger.warning("%s", report.message())
    if exclude and count:
        return training[~inside].reset_index(drop=True), report
    return training, report
