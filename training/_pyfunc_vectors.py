"""The scorer for behaviour vectors as an MLflow pyfunc model, logged as "models from code".

``training/_pyfunc.py`` takes canonical events and returns their windows, fewer rows
than it is given; ``mlflow.pyfunc.spark_udf`` needs one output row per input row. This
model takes behaviour vectors (:data:`features.VECTOR_COLUMNS`, as
``features.behaviour_vectors`` or ``training.spark.spark_scoring_vectors`` compute
them) and returns, row for row, the columns :data:`VECTOR_SCORE_COLUMNS`:

* ``score`` and ``percentile`` (NaN for windows not scored: cold start, or no change
  with ``only_change_windows``), ``cold_start``;
* ``explanation``: the text of the top explanation (``""`` when there is none: the
  windows not scored; ``spark_udf`` would write a missing string as ``"nan"``);
* ``explanations``: every explanation as JSON text, as the event scorer gives them.

It is logged in the same run as the event scorer (name ``vector_scorer``) with a copy
of the same ``bundle`` artifact, and the event scorer's logged model carries its URI
in the tag ``changewatch.vector_scorer`` (``training._registry``). MLflow copies this
file into the logged model and runs it on load; it imports only the packages shipped
as ``code_paths`` (``changewatch``, ``features``, ``models``).
"""

from __future__ import annotations

import json
from typing import Any, Final

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModelContext

from features import KEY_COLUMNS, VECTOR_COLUMNS
from training._pyfunc_bundle import BUNDLE_ARTIFACT, BundledDetectorModel

__all__ = [
    "BUNDLE_ARTIFACT",
    "VECTOR_SCORE_COLUMNS",
    "VectorScorerModel",
    "score_vector_rows",
    "to_vector_input",
]

VECTOR_SCORE_COLUMNS: Final = ("score", "percentile", "cold_start", "explanation", "explanations")
"""Columns :meth:`VectorScorerModel.predict` returns, one row per input vector."""

_TIMES: Final = ("window_start", "window_end")
_TEXT: Final = ("identity_key", "schema_version")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_vector_input(vectors: pd.DataFrame) -> pd.DataFrame:
    """Return vectors as the model's signature takes them.

    Window times become timezone-naive UTC (MLflow's ``datetime`` is naive; Spark hands
    them over that way in a UTC session), keys and the schema version text, every
    feature float64, in :data:`features.VECTOR_COLUMNS` order.
    """
    columns: dict[str, Any] = {}
    for name in VECTOR_COLUMNS:
        if name in _TIMES:
            times = pd.to_datetime(vectors[name], utc=True)
            columns[name] = times.dt.tz_localize(None).to_numpy()
        elif name in _TEXT:
            columns[name] = vectors[name].astype(str).to_numpy(dtype=object)
        else:
            columns[name] = vectors[name].to_numpy(dtype=np.float64)
    return pd.DataFrame(columns, columns=list(VECTOR_COLUMNS))


def _from_vector_input(frame: pd.DataFrame) -> pd.DataFrame:
    """Read vectors back as ``features.behaviour_vectors`` gives them (naive times are UTC)."""
    out = frame.reset_index(drop=True).copy()
    missing = [name for name in KEY_COLUMNS if name not in out.columns]
    if missing:
        raise ValueError(f"behaviour vectors lack the key columns {missing}")
    for name in _TIMES:
        out[name] = pd.to_datetime(out[name], utc=True)
    return out


def score_vector_rows(detector: Any, vectors: pd.DataFrame) -> pd.DataFrame:
    """Score ``vectors`` with a fitted ``models.ChangeDetector``: one row per vector.

    Parameters
    ----------
    detector : models.ChangeDetector
        A fitted detector.
    vectors : pandas.DataFrame
        :data:`features.VECTOR_COLUMNS` rows.

    Returns
    -------
    pandas.DataFrame
        :data:`VECTOR_SCORE_COLUMNS`, in the order of ``vectors``; equal to the same
        columns of ``detector.score_vectors(vectors)``.
    """
    scored = detector.score_vectors(vectors)
    explanations = list(scored["explanations"])
    return pd.DataFrame(
        {
            "score": scored["score"].to_numpy(dtype=np.float64),
            "percentile": scored["percentile"].to_numpy(dtype=np.float64),
            "cold_start": scored["cold_start"].to_numpy(dtype=bool),
            "explanation": [str(e[0]["text"]) if len(e) else "" for e in explanations],
            "explanations": [json.dumps(list(e), default=_plain) for e in explanations],
        },
        columns=list(VECTOR_SCORE_COLUMNS),
    )


class VectorScorerModel(BundledDetectorModel):
    """Behaviour vectors in, one scored row per vector out, by the bundled ``ChangeDetector``."""

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Score a batch of behaviour vectors, row for row."""
        return score_vector_rows(self.detector(context), _from_vector_input(model_input))


mlflow.models.set_model(VectorScorerModel())
