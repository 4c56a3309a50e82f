"""Scoring a model on an evaluation period, with the history it would have had there.

A model scores events *after* its profiles end (``profiles_.until``). To score a
period ``[start, end)`` soundly the model needs its feature state *at* ``start``:

* **continued** when its profiles end at or before ``start``: the profiles are
  continued with every event read between their end and ``start`` (as the live service
  would have), and the events within ``horizon`` of ``start`` are the look-back;
* **rebuilt** when its profiles end after ``start`` (they already know part of the
  period): the state is rebuilt from the events read before ``start`` only. The
  model's older history is lost, nothing of the period leaks in.

``in_sample`` says the model's *training* period overlaps the evaluation period: its
forest has seen those windows. Callers refuse that (``evaluate``) or record it
(``promote`` for a champion). ``start`` falls on a boundary of every model's window
(:func:`period_grid`), so no window straddles it and no event is dropped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from features import FeatureConfig, FeatureState, InputError, build_profiles

__all__ = [
    "ScoredPeriod",
    "ceil_to",
    "floor_to",
    "model_state",
    "period_grid",
    "score_period",
]

logger = logging.getLogger(__name__)

_DAY: Final = pd.Timedelta(days=1)


def _config(detector: Any) -> FeatureConfig:
    if isinstance(detector, FeatureConfig):
        return detector
    config = getattr(detector, "feature_config", None)
    return config if isinstance(config, FeatureConfig) else FeatureConfig()


def period_grid(detectors: Iterable[Any], *, day: bool = False) -> pd.Timedelta:
    """Return the step every detector's windows align to: the lcm of their window lengths.

    ``detectors`` are fitted detectors or their ``FeatureConfig``.

    With ``day``, a day when every window divides a day (periods then start at midnight
    UTC).
    """
    step = 1
    for detector in detectors:
        step = math.lcm(step, int(pd.Timedelta(_config(detector).window).value))
    if day and _DAY.value % step == 0:
        return _DAY
    return pd.Timedelta(step, unit="ns")


def ceil_to(moment: pd.Timestamp, step: pd.Timedelta) -> pd.Timestamp:
    """Return ``moment`` rounded up to a multiple of ``step`` since the Unix epoch."""
    value = int(moment.value)
    size = int(step.value)
    return pd.Timestamp(-(-value // size) * size, tz="UTC")


def floor_to(moment: pd.Timestamp, step: pd.Timedelta) -> pd.Timestamp:
    """Return ``moment`` rounded down to a multiple of ``step`` since the Unix epoch."""
    value = int(moment.value)
    return pd.Timestamp(value - value % int(step.value), tz="UTC")


def model_state(
    detector: Any, context: pd.DataFrame, start: pd.Timestamp
) -> tuple[FeatureState, str]:
    """Return the detector's feature state at ``start`` and how it was made.

    Parameters
    ----------
    detector : models.ChangeDetector
        A fitted detector.
    context : pandas.DataFrame
        Canonical events read before ``start`` (later ones are ignored).
    start : pandas.Timestamp
        A boundary of the detector's windows.

    Returns
    -------
    tuple of (FeatureState, str)
        The state and ``"continued"`` or ``"rebuilt"`` (see the module docstring).
    """
    config = _config(detector)
    before = context[context["event_time"] < start]
    look_back = start - pd.Timedelta(config.horizon)
    profiles = detector.profiles_
    if profiles.until is not None and profiles.until <= start:
        newer = before[before["event_time"] >= profiles.until]
        profiles = profiles.update(newer, until=start)
        pool = pd.concat([detector.recent_, before], ignore_index=True)
        origin = "continued"
    else:
        profiles = build_profiles(before, config, until=start)
        pool = before
        origin = "rebuilt"
    recent = pool[pool["event_time"] >= look_back].drop_duplicates("event_id")
    return FeatureState(profiles, recent.reset_index(drop=True)), origin


@dataclass(frozen=True, slots=True)
class ScoredPeriod:
    """A model's windows of one evaluation period, and how its state was made."""

    windows: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    state: str
    in_sample: bool
    events: int
    context_events: int

    def facts(self) -> dict[str, Any]:
        """Return the period's facts for tags and JSON."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "windows": len(self.windows),
            "scored_windows": int(self.windows["score"].notna().sum()),
            "events": self.events,
            "events_dropped": 0,
            "context_events": self.context_events,
            "state": self.state,
            "in_sample": self.in_sample,
        }


def score_period(
    detector: Any,
    events: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp | None = None,
    *,
    context: pd.DataFrame | None = None,
) -> ScoredPeriod:
    """Score the windows of ``events`` in ``[start, end)`` with the state at ``start``.

    Parameters
    ----------
    detector : models.ChangeDetector
        A fitted detector.
    events : pandas.DataFrame
        Canonical events; those in the period are scored.
    start, end : pandas.Timestamp
        The period; ``start`` on a window boundary (:func:`period_grid`); ``end``
        defaults to after the last event.
    context : pandas.DataFrame, optional
        Events before ``start`` to carry the state with; default those of ``events``.

    Returns
    -------
    ScoredPeriod

    Raises
    ------
    InputError
        When the period holds no event, or the model scores none of its windows
        (every identity in cold start): an evaluation of nothing is not a result.
    """
    times = events["event_time"]
    keep = times >= start
    if end is not None:
        keep &= times < end
    inside = events[keep]
    if not len(inside):
        raise InputError(f"no events in the evaluation period [{start}, {end or '...'})")
    stop = end if end is not None else ceil_to(inside["event_time"].max(), _DAY)
    earlier = context if context is not None else events[times < start]
    state, origin = model_state(detector, earlier, start)
    windows = detector.score_windows(inside, state=state)
    seen = {str(i) for ids in windows["event_ids"] for i in ids}
    dropped = int((~inside["event_id"].astype(str).isin(seen)).sum())
    if dropped:
        raise InputError(
            f"{dropped} of the {len(inside):,} events of [{start}, {stop}) fell in no scored "
            f"window (the state ends at {state.profiles.until}): the evaluation would not be "
            "of the period it names"
        )
    scored = int(windows["score"].notna().sum())
    if not scored:
        config = _config(detector)
        rebased = ""
        if origin == "rebuilt":
            rebased = (
                f" The events are older than the model's profiles (which end at "
                f"{detector.profiles_.until}), so its state was rebuilt from the earlier "
                "events given only."
            )
        raise InputError(
            f"the model scored none of the {len(windows)} windows of [{start}, {stop}): "
            f"every identity there is in cold start (less than {config.cold_start_days:g} "
            f"days or {config.cold_start_active_days} active days of history before its "
            f"windows in the {len(earlier):,} earlier events read); the model judges "
            f"identities with a baseline, the rules judge the others.{rebased}"
        )
    first, last = detector.training_period_
    in_sample = bool(first < stop and last > start)
    logger.info(
        "scored %d of %d windows in [%s, %s) with the state %s from %d earlier events",
        scored,
        len(windows),
        start,
        stop,
        origin,
        len(earlier),
    )
    return ScoredPeriod(windows, start, stop, origin, in_sample, len(inside), len(earlier))
