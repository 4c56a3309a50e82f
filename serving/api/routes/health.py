"""Liveness, readiness and Prometheus metrics; no key needed."""

from __future__ import annotations

import sqlite3
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from serving.api.deps import MetricsDep, ScorerDep, StateDep
from serving.api.metrics import CONTENT_TYPE_LATEST
from serving.api.schemas import HealthPublic, ReadyPublic

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic)
async def healthz() -> HealthPublic:
    """Answer that the process is up."""
    return HealthPublic(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyPublic,
    responses={503: {"model": ReadyPublic, "description": "The state database is unusable."}},
)
async def readyz(store: StateDep, model: ScorerDep) -> ReadyPublic | JSONResponse:
    """Whether the service can score (200), and whether only with the rules (``degraded``)."""
    state: Literal["ok", "unavailable"] = "ok"
    try:
        store.check()
    except sqlite3.Error:
        state = "unavailable"
    answer = ReadyPublic(
        status="unavailable" if state != "ok" else "degraded" if model.degraded else "ready",
        degraded=model.degraded,
        degraded_reason=model.reason,
        model=f"{model.info.name}@{model.info.version}" if model.scorer is not None else None,
        state=state,
    )
    if state != "ok":
        return JSONResponse(answer.model_dump(mode="json"), status_code=503)
    return answer


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics: requests, latency, findings by severity, rejects, model."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
