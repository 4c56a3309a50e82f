"""Champion and challenger on the same windows: one period, one set of events, both scored.

:func:`evaluate_on_period` scores one model on an evaluation period (the state carried
up to its start, see :mod:`training._periods`) and evaluates its windows;
:func:`compare_on_period` does it for the challenger and the champion with the same
start, end, events and labels. With the same window length both models see the very
same windows (``same_windows``); with different lengths the window-level metrics are not
comparable and promotion compares on window-invariant ones (:mod:`training._decision`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from features import ChangewatchError, ConfigurationError
from training._evaluate import Evaluation, evaluate_windows
from training._periods import ScoredPeriod, score_period

__all__ = ["Comparison", "PeriodEvaluation", "compare_on_period", "evaluate_on_period"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PeriodEvaluation:
    """One model's evaluation on a period, and how the period was scored."""

    evaluation: Evaluation
    scored: ScoredPeriod
    window: str

    def facts(self) -> dict[str, Any]:
        """Return the period's facts with the model's window length."""
        return {**self.scored.facts(), "window": self.window}


def evaluate_on_period(
    detector: Any,
    events: pd.DataFrame,
    labels: pd.DataFrame,
    start: pd.Timestamp,
    *,
    context: pd.DataFrame,
    allow_in_sample: bool = False,
    policy: Any = None,
) -> PeriodEvaluation:
    """Score ``detector`` on the events from ``start`` and evaluate against ``labels``.

    Raises
    ------
    InputError
        When the period holds no event or no scored window.
    ConfigurationError
        When the model's training period overlaps the evaluation period and
        ``allow_in_sample`` is false.
    """
    scored = score_period(detector, events, start, context=context)
    first, last = detector.training_period_
    if scored.in_sample and not allow_in_sample:
        raise ConfigurationError(
            f"the evaluation period [{scored.start}, {scored.end}) overlaps the model's "
            f"training period [{first}, {last}): evaluating on training data is in-sample. "
            f"Evaluate on events after {last}, or give earlier events as context with --from"
        )
    inside = events[events["event_time"] >= start]
    evaluation = evaluate_windows(
        scored.windows,
        labels,
        threshold=float(detector.threshold),
        period=(scored.start, scored.end),
        events=inside,
        detector=detector,
        context=pd.concat(
            [context, events[events["event_time"] < start]], ignore_index=True
        ).drop_duplicates("event_id"),
        policy=policy,
    )
    window = str(getattr(detector.feature_config, "window", None) or "1h")
    return PeriodEvaluation(evaluation, scored, window)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Challenger and champion evaluated on the same period (or why the champion was not)."""

    champion_version: str
    challenger: PeriodEvaluation
    champion: PeriodEvaluation | None
    error: str | None = None

    @property
    def same_windows(self) -> bool:
        """Whether both models scored exactly the same identity windows."""
        if self.champion is None:
            return False
        keys = [
            set(
                zip(
                    p.evaluation.windows["identity"],
                    p.evaluation.windows["window_start"],
                    strict=True,
                )
            )
            for p in (self.challenger, self.champion)
        ]
        return keys[0] == keys[1]

    def to_json(self) -> dict[str, Any]:
        """Return what ``evaluation/comparison.json`` holds."""
        data: dict[str, Any] = {
            "champion_version": self.champion_version,
            "challenger": {
                **self.challenger.evaluation.to_json(),
                "period": self.challenger.facts(),
            },
            "champion": None,
            "same_windows": self.same_windows,
            "error": self.error,
        }
        if self.champion is not None:
            data["champion"] = {
                **self.champion.evaluation.to_json(),
                "period": self.champion.facts(),
            }
        return data


def compare_on_period(
    challenger: PeriodEvaluation,
    champion: Any,
    champion_version: str,
    events: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    context: pd.DataFrame,
    policy: Any = None,
) -> Comparison:
    """Evaluate ``champion`` on the challenger's period; record an error instead of raising.

    A champion whose training period overlaps the evaluation period is scored anyway
    (``in_sample`` in its facts): refusing would stall a nightly job for days after a
    model trained on recent data was promoted, and the overlap favours the champion, so
    a challenger that wins does so against the odds.
    """
    start = challenger.scored.start
    try:
        theirs = evaluate_on_period(
            champion, events, labels, start, context=context, allow_in_sample=True, policy=policy
        )
    except ChangewatchError as error:
        logger.warning("the champion could not be scored on the same period: %s", error)
        return Comparison(champion_version, challenger, None, str(error))
    if theirs.scored.in_sample:
        logger.warning(
            "the champion (version %s) was trained on part of the evaluation period",
            champion_version,
        )
    return Comparison(champion_version, challenger, theirs)
