"""The event scorer's pyfunc contract: what ``predict`` takes and what it returns.

Input: canonical events (:data:`features.CANONICAL_COLUMNS`; the columns of
:data:`features.FEATURISER_INPUT_COLUMNS` are required) with ``event_time`` as a
timezone-naive UTC datetime, because MLflow's ``datetime`` type is naive.
:func:`pyfunc_input` turns a canonical frame (``pd.read_parquet`` of an ingested
table, ``features.read_events``) into that form.

Output: one row per identity window, :data:`PYFUNC_OUTPUT_COLUMNS`: the score and
percentile (NaN when not scored: cold start), the model's ``threshold`` and whether the
window ``alert`` s at it, the top explanation in words, every explanation as JSON text
and the ids of the window's events.

This module is imported by the logged model itself (``training/_pyfunc.py``), so it
imports neither MLflow nor anything outside the packages shipped as ``code_paths``.
"""

from __future__ import annotations

import json
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from features import CANONICAL_SCHEMA
from training._evaluate import alerted

__all__ = [
    "BUNDLE_ARTIFACT",
    "PYFUNC_OUTPUT_COLUMNS",
    "from_pyfunc_input",
    "pyfunc_input",
    "pyfunc_output",
]

BUNDLE_ARTIFACT: Final = "bundle"
"""Key (and folder name) of the detector bundle among a logged model's artifacts."""

PYFUNC_OUTPUT_COLUMNS: Final = (
    "identity",
    "window_start",
    "window_end",
    "score",
    "percentile",
    "threshold",
    "alert",
    "cold_start",
    "explanation",
    "explanations",
    "event_ids",
)
"""Columns of the event scorer's ``predict``, in order."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    return value


def pyfunc_input(events: pd.DataFrame) -> pd.DataFrame:
    """Return canonical events as the scorer's signature takes them.

    ``event_time`` becomes timezone-naive UTC (MLflow's ``datetime`` is naive; the
    model reads naive times, and ISO strings from REST, as UTC). Nullable integer
    columns (``asn``) become float64 as the signature declares them: a batch without a
    missing value would otherwise come as int64, which MLflow refuses to convert.

    Examples
    --------
    >>> import mlflow, pandas as pd, training                        # doctest: +SKIP
    >>> model = mlflow.pyfunc.load_model("models:/changewatch@champion")  # doctest: +SKIP
    >>> windows = model.predict(training.pyfunc_input(pd.read_parquet("events.parquet")))
    ... # doctest: +SKIP
    >>> windows[windows["alert"]]                                      # doctest: +SKIP
    """
    out = events.copy()
    times = pd.to_datetime(out["event_time"], utc=True)
    out["event_time"] = times.dt.tz_localize(None)
    for field in CANONICAL_SCHEMA:
        if pa.types.is_integer(field.type) and field.nullable and field.name in out.columns:
            out[field.name] = out[field.name].astype(np.float64)
    return out


def from_pyfunc_input(events: pd.DataFrame) -> pd.DataFrame:
    """Return the scorer's input as a canonical frame (naive times read as UTC)."""
    out = events.copy()
    out["event_time"] = pd.to_datetime(out["event_time"], utc=True)
    return out


def pyfunc_output(windows: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Return ``ChangeDetector.score_windows`` output as :data:`PYFUNC_OUTPUT_COLUMNS`.

    Parameters
    ----------
    windows : pandas.DataFrame
        Scored windows.
    threshold : float
        The model's alert percentile; ``alert`` is ``percentile >= threshold``, the rule
        of :func:`training.evaluate_windows`.
    """
    unique = windows.loc[:, ~windows.columns.duplicated()].reset_index(drop=True)
    explanations = [list(e) for e in unique["explanations"]]
    return pd.DataFrame(
        {
            "identity": unique["identity"].astype(str).to_numpy(dtype=object),
            "window_start": unique["window_start"],
            "window_end": unique["window_end"],
            "score": unique["score"].to_numpy(dtype=np.float64),
            "percentile": unique["percentile"].to_numpy(dtype=np.float64),
            "threshold": np.full(len(unique), float(threshold)),
            "alert": alerted(unique, threshold).to_numpy(dtype=bool),
            "cold_start": unique["cold_start"].to_numpy(dtype=bool),
            "explanation": [str(e[0]["text"]) if e else "" for e in explanations],
            "explanations": [json.dumps(_jsonable(e)) for e in explanations],
            "event_ids": [[str(i) for i in ids] for ids in unique["event_ids"]],
        },
        columns=list(PYFUNC_OUTPUT_COLUMNS),
    )
