"""Scoring routes: CloudTrail records, and precomputed vectors for batch pipelines."""

from __future__ import annotations

from typing import Any, Final

import orjson
from anyio import to_thread
from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from serving._model_holder import LoadedModel
from serving._state import StateStore
from serving._verdicts import Recorder
from serving.api.deps import MetricsDep, ScoreKey, ScorerDep, SettingsDep, StateDep
from serving.api.metrics import Metrics
from serving.api.schemas import ScorePublic, VectorsCreate, VectorsPublic
from serving.api.scoring import extract_records, score_records
from serving.api.vectors import can_score_vectors, score_vectors

__all__ = ["router"]

router = APIRouter(prefix="/v1/score", tags=["score"])

_RECORD_EXAMPLE: Final = {
    "eventVersion": "1.09",
    "eventTime": "2026-03-02T10:15:00Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "CreateSnapshot",
    "awsRegion": "eu-central-1",
    "eventID": "0e9f7a6b-0000-4000-8000-000000000001",
    "recipientAccountId": "111122223333",
    "sourceIPAddress": "203.0.113.10",
    "userAgent": "aws-cli/2.15.30 Python/3.11.8",
    "userIdentity": {
        "type": "IAMUser",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
    },
    "requestParameters": {"volumeId": "vol-0a1b2c3d4e5f60718"},
    "responseElements": {"snapshotId": "snap-0123456789abcdef0"},
}
_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["Records"],
                            "properties": {"Records": {"type": "array", "items": {}}},
                        },
                        {"type": "array", "items": {}},
                        {"type": "object", "required": ["detail-type", "detail"]},
                    ]
                },
                "examples": {
                    "records": {"value": {"Records": [_RECORD_EXAMPLE]}},
                    "array": {"value": [_RECORD_EXAMPLE]},
                    "eventbridge": {
                        "value": {
                            "detail-type": "AWS API Call via CloudTrail",
                            "account": "111122223333",
                            "region": "eu-central-1",
                            "detail": _RECORD_EXAMPLE,
                        }
                    },
                },
            }
        },
    }
}
_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: {"description": "The body is not JSON or not a batch of records."},
    401: {"description": "No API key, or an unknown one."},
    403: {"description": "The key lacks the `score` scope."},
    413: {"description": "The body or the batch is over the configured limit."},
}


@router.post("", response_model=ScorePublic, openapi_extra=_BODY, responses=_ERRORS)
async def score(
    request: Request,
    _: ScoreKey,
    store: StateDep,
    model: ScorerDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> Response:
    """Score CloudTrail records: rule hits, window scores, findings and rejected records."""
    try:
        records = extract_records(orjson.loads(await request.body()))
    except (orjson.JSONDecodeError, ValueError) as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"bad batch: {error}") from None
    if len(records) > settings.max_batch:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"batch of {len(records)} records exceeds the limit of {settings.max_batch}",
        )
    limiter = request.app.state.scoring
    recorder = request.app.state.findings
    answer = await to_thread.run_sync(
        _score_json, records, store, model, metrics, recorder, limiter=limiter
    )
    return Response(answer, media_type="application/json")


def _score_json(
    records: list[Any],
    store: StateStore,
    model: LoadedModel,
    metrics: Metrics,
    recorder: Recorder | None = None,
) -> bytes:
    """Score and serialise in the worker thread; the answer was validated when it was built."""
    answer = score_records(records, store, model, metrics, recorder=recorder)
    return answer.model_dump_json().encode()


@router.post("/vectors", response_model=VectorsPublic, responses={**_ERRORS, 503: {}})
async def vectors(
    body: VectorsCreate, _: ScoreKey, model: ScorerDep, settings: SettingsDep, metrics: MetricsDep
) -> VectorsPublic:
    """Score precomputed behaviour vectors with the model (503 while rules only)."""
    if len(body.vectors) > settings.max_batch:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"batch of {len(body.vectors)} vectors exceeds the limit of {settings.max_batch}",
        )
    if not can_score_vectors(model):
        why = model.reason or f"model {model.uri!r} cannot score vectors"
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"vectors need the model; {why}")
    return await run_in_threadpool(score_vectors, body.vectors, model, metrics)
