"""Scoring precomputed behaviour vectors (``POST /v1/score/vectors``).

Each vector is checked on its own (keys, schema version, numbers); a bad one is
rejected with its position and reason and the rest are scored. The model must offer
``score_vectors(frame) -> list[WindowScore]``; the windows are combined into findings
with no rule hits (rules need events).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from features import FEATURE_NAMES, KEY_COLUMNS, VECTOR_SCHEMA_VERSION
from models.scoring import combine
from serving._model_holder import LoadedModel
from serving.api.metrics import Metrics
from serving.api.schemas import RejectedRecord, VectorsPublic
from serving.api.scoring import window_public

__all__ = ["can_score_vectors", "check_vector", "score_vectors"]


def can_score_vectors(model: LoadedModel) -> bool:
    """Whether the served model scores vectors."""
    return callable(getattr(model.scorer, "score_vectors", None))


def check_vector(vector: dict[str, Any]) -> tuple[str, str] | None:
    """Return ``(field, reason)`` of the first problem of one vector, or ``None``."""
    for key in ("identity_key", "window_start", "window_end"):
        if not isinstance(vector.get(key), str) or not vector[key]:
            return key, "expected a non-empty string"
    version = str(vector.get("schema_version", ""))
    if version != VECTOR_SCHEMA_VERSION:
        return "schema_version", f"expected {VECTOR_SCHEMA_VERSION!r}, got {version!r}"
    try:
        start = pd.Timestamp(vector["window_start"])
        end = pd.Timestamp(vector["window_end"])
    except ValueError as error:
        return "window_start", f"expected ISO 8601 times: {error}"
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        return "window_end", "expected aware times with window_end after window_start"
    for name in FEATURE_NAMES:
        value = vector.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return name, f"expected a number, got {type(value).__name__}"
        if not math.isfinite(value):
            return name, "expected a finite number"
    unknown = sorted(set(vector) - set(KEY_COLUMNS) - set(FEATURE_NAMES))
    if unknown:
        return unknown[0], "not a feature of this vector schema"
    return None


def score_vectors(
    vectors: list[dict[str, Any]], model: LoadedModel, metrics: Metrics
) -> VectorsPublic:
    """Check, score and combine a batch of vectors."""
    rejected: list[RejectedRecord] = []
    good: list[dict[str, Any]] = []
    for position, vector in enumerate(vectors, 1):
        problem = check_vector(vector)
        if problem is None:
            good.append(vector)
        else:
            rejected.append(RejectedRecord(position=position, field=problem[0], reason=problem[1]))
    frame = pd.DataFrame(good, columns=list(KEY_COLUMNS + FEATURE_NAMES))
    for key in ("window_start", "window_end"):
        frame[key] = pd.to_datetime(frame[key], utc=True)
    windows = model.scorer.score_vectors(frame) if good else []  # type: ignore[union-attr]
    info = model.scorer.info() if model.scorer is not None else None
    findings = combine(windows, [], {}, scorer=info)
    metrics.rejected.inc(len(rejected))
    metrics.count_findings(findings)
    return VectorsPublic(
        degraded=False,
        degraded_reason=None,
        model=str(info) if info else None,
        scored=len(good),
        rejected=rejected,
        windows=[window_public(w) for w in windows],
        findings=findings,
    )
