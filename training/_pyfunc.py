"""The whole scorer as an MLflow pyfunc model, logged as "models from code".

MLflow copies this file into the logged model and runs it on load; the
``set_model`` call at the bottom names the model. Nothing is pickled: the detector
itself travels as the ``bundle`` artifact (``models.save_bundle``), loaded and
validated by ``models.load_bundle`` in :meth:`ChangeScorerModel.load_context`.

``predict`` takes canonical events (``features.CANONICAL_COLUMNS``) and returns the
scored windows table of ``ChangeDetector.score_windows``, with ``explanations`` as a
JSON string so every pyfunc consumer (REST serving, Spark UDF) can carry it.
"""

# MLflow, scikit-learn and matplotlib are imported where used, so that importing
# training (and training.simulation) stays light.

from __future__ import annotations

import json
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from features import CANONICAL_SCHEMA

__all__ = ["BUNDLE_ARTIFACT", "ChangeScorerModel", "to_pyfunc_input", "to_pyfunc_output"]

BUNDLE_ARTIFACT = "bundle"
"""Key (and folder name) of the detector bundle among the model's artifacts."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    return value


def to_pyfunc_input(events: pd.DataFrame) -> pd.DataFrame:
    """Return canonical events as the pyfunc signature takes them: ``event_time`` naive UTC.

    MLflow's ``datetime`` type is timezone-naive; :meth:`ChangeScorerModel.predict`
    reads naive times (and ISO strings from REST) as UTC. Nullable integer columns
    (``asn``) are float64, as the signature declares them: a batch without a missing
    value would otherwise come as int64, which MLflow refuses to convert.
    """
    out = events.copy()
    times = pd.to_datetime(out["event_time"], utc=True)
    out["event_time"] = times.dt.tz_localize(None)
    for field in CANONICAL_SCHEMA:
        if pa.types.is_integer(field.type) and field.nullable and field.name in out.columns:
            out[field.name] = out[field.name].astype(np.float64)
    return out


def _from_pyfunc_input(events: pd.DataFrame) -> pd.DataFrame:
    out = events.copy()
    out["event_time"] = pd.to_datetime(out["event_time"], utc=True)
    return out


def to_pyfunc_output(windows: pd.DataFrame) -> pd.DataFrame:
    """Return scored windows with ``explanations`` as JSON text and ``event_ids`` as lists."""
    out = windows.loc[:, ~windows.columns.duplicated()].copy()
    if "explanations" in out.columns:
        out["explanations"] = [json.dumps(_jsonable(list(e))) for e in out["explanations"]]
    if "event_ids" in out.columns:
        out["event_ids"] = [[str(i) for i in ids] for ids in out["event_ids"]]
    return out.reset_index(drop=True)


class ChangeScorerModel(PythonModel):
    """Canonical events in, scored windows out, by the bundled ``ChangeDetector``."""

    def __init__(self) -> None:
        self._detector: Any = None

    def load_context(self, context: PythonModelContext) -> None:
        """Load and validate the detector bundle shipped with the model."""
        from models import load_bundle

        self._detector = load_bundle(context.artifacts[BUNDLE_ARTIFACT])

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Score the windows of a batch of canonical events."""
        if self._detector is None:
            self.load_context(context)
        return to_pyfunc_output(self._detector.score_windows(_from_pyfunc_input(model_input)))


mlflow.models.set_model(ChangeScorerModel())
