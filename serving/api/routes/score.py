"""Scoring routes: CloudTrail records, and precomputed vectors for batch pipelines."""

from __future__ import annotations

from functools import partial
from typing import Any, Final

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from serving._model_holder import LoadedModel
from serving._state import StateStore
from serving._verdicts import Recorder
from serving.api.deps import (
    ArrivedDep,
    MetricsDep,
    QueueDep,
    ScoreKey,
    ScorerDep,
    SettingsDep,
    StateDep,
    accepts_json,
)
from serving.api.metrics import Metrics
from serving.api.problems import VALIDATION, FieldProblem, ProblemError, problem_responses
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
        "description": 'CloudTrail records: `{"Records": [...]}` (a trail file\'s document), '
        "an array of records or EventBridge envelopes, one envelope, or one record. "
        "May be sent with `Content-Encoding: gzip`; the size limit applies after "
        "decompression. Records that do not fit are named in `rejected`, the rest are scored.",
        "content": {
            "application/json": {
                # the schema is set by serving.api.openapi (it knows CHANGEWATCH_MAX_BATCH)
                "schema": {},
                "examples": {
                    "records": {"value": {"Records": [_RECORD_EXAMPLE]}},
                    "array": {"value": [_RECORD_EXAMPLE]},
                    "eventbridge": {
                        "value": {
                            "version": "0",
                            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                            "detail-type": "AWS API Call via CloudTrail",
                            "source": "aws.ec2",
                            "account": "111122223333",
                            "time": "2026-03-02T10:15:00Z",
                            "region": "eu-central-1",
                            "resources": [],
                            "detail": _RECORD_EXAMPLE,
                        }
                    },
                    "record": {"value": _RECORD_EXAMPLE},
                },
            }
        },
    }
}
_ERRORS: Final = problem_responses(
    400, 401, 403, 413, 415, 422, 503, _422="An event time or id the service cannot read."
)
_JSON: Final = [Depends(accepts_json)]


@router.post(
    "",
    response_model=ScorePublic,
    openapi_extra=_BODY,
    responses=_ERRORS,
    operation_id="score",
    dependencies=_JSON,
)
async def score(
    request: Request,
    _: ScoreKey,
    store: StateDep,
    model: ScorerDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    queue: QueueDep,
    arrived: ArrivedDep,
) -> Response:
    """Score CloudTrail records: rule hits, window scores, findings and rejected records."""
    queue.check(arrived)  # a full queue, or a request late already, answers before the body
    try:
        records = extract_records(orjson.loads(await request.body()))
    except orjson.JSONDecodeError as error:
        raise ProblemError(400, f"the body is not JSON: {error}", type=VALIDATION) from None
    except ValueError as error:
        raise ProblemError(
            422,
            f"not a batch of records: {error}",
            type=VALIDATION,
            errors=[FieldProblem(detail=str(error), pointer="")],
        ) from None
    if len(records) > settings.max_batch:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"batch of {len(records)} records exceeds the limit of {settings.max_batch}",
        )
    recorder = request.app.state.findings
    work = partial(_score_json, records, store, model, metrics, recorder)
    answer = await queue.run(work, arrived)
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


@router.post(
    "/vectors",
    response_model=VectorsPublic,
    responses=problem_responses(
        400, 401, 403, 413, 415, 422, 503, _503="Overloaded (see `Retry-After`), or no model."
    ),
    operation_id="scoreVectors",
    dependencies=_JSON,
)
async def vectors(
    body: VectorsCreate,
    _: ScoreKey,
    model: ScorerDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    queue: QueueDep,
    arrived: ArrivedDep,
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
    return await queue.run(partial(score_vectors, body.vectors, model, metrics), arrived)
