"""The per-scenario table of an evaluation: where each labelled scenario ranked, when caught."""

from __future__ import annotations

import math
from typing import Any, Final

import pandas as pd

__all__ = ["SCENARIO_COLUMNS", "scenario_table"]

SCENARIO_COLUMNS: Final = (
    "scenario",
    "kind",
    "labelled_events",
    "windows",
    "best_rank",
    "best_score",
    "best_percentile",
    "detected",
    "first_event",
    "first_alert",
    "hours_to_detect",
)
"""Columns of :func:`scenario_table`."""

_HOUR: Final = pd.Timedelta(hours=1)


def _first_event_times(
    hits: pd.DataFrame, scored: pd.DataFrame, events: pd.DataFrame | None
) -> pd.Series:
    """First labelled event time per scenario (from the events, else its first window start)."""
    if events is not None and len(events):
        times = events[["event_id", "event_time"]].drop_duplicates("event_id")
        timed = hits.merge(times, on="event_id", how="left")
        if timed["event_time"].notna().all():
            return timed.groupby("scenario")["event_time"].min()
    starts = scored["window_start"].reindex(hits["window"]).to_numpy()
    return pd.Series(starts, index=hits["scenario"].to_numpy()).groupby(level=0).min()


def scenario_table(
    scored: pd.DataFrame,
    hits: pd.DataFrame,
    labels: pd.DataFrame,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return one row per scenario of ``labels`` (the labels of the evaluated events).

    Parameters
    ----------
    scored : pandas.DataFrame
        Windows with ``rank``, ``alerted``, ``score``, ``percentile``, ``window_start``
        and ``window_end``.
    hits : pandas.DataFrame
        ``window`` (row of ``scored``), ``event_id``, ``scenario``, ``kind``.
    labels : pandas.DataFrame
        Labels of the evaluated events.
    events : pandas.DataFrame, optional
        The evaluated events, for the time of each scenario's first event.

    Returns
    -------
    pandas.DataFrame
        :data:`SCENARIO_COLUMNS`; ``hours_to_detect`` runs from the scenario's first
        labelled event to the end of its first alerted window (when that window closes,
        a batch scorer has seen it), NaN when not detected or for hard negatives.
    """
    first_event = _first_event_times(hits, scored, events) if len(hits) else pd.Series()
    kinds = labels.drop_duplicates("scenario").set_index("scenario")["kind"]
    counts = labels["scenario"].value_counts()
    rows: list[dict[str, Any]] = []
    for scenario, kind in kinds.items():
        mine = scored.loc[hits.loc[hits["scenario"] == scenario, "window"].unique()]
        caught = mine[mine["alerted"]]
        first = first_event.get(scenario, pd.NaT)
        first_alert = caught["window_end"].min() if len(caught) else pd.NaT
        hours = math.nan
        if kind == "attack" and not pd.isna(first_alert) and not pd.isna(first):
            hours = max((first_alert - first) / _HOUR, 0.0)
        rows.append(
            {
                "scenario": str(scenario),
                "kind": str(kind),
                "labelled_events": int(counts.get(scenario, 0)),
                "windows": len(mine),
                "best_rank": int(mine["rank"].min()) if len(mine) else None,
                "best_score": _best(mine["score"]),
                "best_percentile": _best(mine["percentile"]),
                "detected": bool(len(caught)),
                "first_event": None if pd.isna(first) else pd.Timestamp(first),
                "first_alert": None if pd.isna(first_alert) else pd.Timestamp(first_alert),
                "hours_to_detect": hours,
            }
        )
    return pd.DataFrame(rows, columns=list(SCENARIO_COLUMNS))


def _best(values: pd.Series) -> float:
    return float(values.max()) if values.notna().any() else math.nan
