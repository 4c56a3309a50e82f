"""Liveness, readiness and Prometheus metrics.

``/healthz`` is open. ``/readyz`` and ``/metrics`` answer anyone too (a load balancer's
probe, a scraper), but only a key with the ``metrics`` or ``admin`` scope sees their
details: why the service is degraded (bundle paths, load errors) and the model, findings
by severity, the model served (ADR 0040).
"""

from __future__ import annotations

import sqlite3
from typing import Final

from fastapi import APIRouter, HTTPException, Response

from serving.api.deps import MetricsDep, ScorerDep, StateDep, WatcherKey
from serving.api.metrics import CONTENT_TYPE_LATEST
from serving.api.problems import problem_responses
from serving.api.schemas import HealthPublic, ReadyPublic

__all__ = ["router"]

router = APIRouter(tags=["health"])

_WATCHER: Final = problem_responses(
    401,
    403,
    _401="An unknown key (send none, or a `metrics` or `admin` key).",
    _403="The key lacks the `metrics` scope.",
)


@router.get("/healthz", response_model=HealthPublic, operation_id="getHealth")
async def healthz() -> HealthPublic:
    """Answer that the process is up (no key needed)."""
    return HealthPublic(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyPublic,
    responses=problem_responses(
        401,
        403,
        503,
        _401=_WATCHER[401]["description"],
        _403=_WATCHER[403]["description"],
        _503="The state database is unusable.",
    ),
    operation_id="getReadiness",
)
async def readyz(store: StateDep, model: ScorerDep, key: WatcherKey) -> ReadyPublic:
    """Whether the service can score (200), and whether only with the rules (``degraded``).

    Why it is degraded and which model it serves are shown to `metrics` and `admin`
    keys only.
    """
    try:
        store.check()
    except sqlite3.Error as error:
        why = f": {error}" if key is not None else ""
        raise HTTPException(503, f"the state database cannot be read{why}") from None
    detail = key is not None
    return ReadyPublic(
        status="degraded" if model.degraded else "ready",
        degraded=model.degraded,
        degraded_reason=model.reason if detail else None,
        model=f"{model.info.name}@{model.info.version}"
        if model.scorer is not None and detail
        else None,
        state="ok",
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **_WATCHER},
    operation_id="getMetrics",
)
async def metrics(metrics: MetricsDep, key: WatcherKey) -> Response:
    """Prometheus metrics: requests, latency, events, rejects, overload; with a key, all.

    Findings by severity and the model served need a `metrics` or `admin` key
    (Prometheus: `authorization: {credentials: <key>}` in the scrape config).
    """
    return Response(metrics.render(full=key is not None), media_type=CONTENT_TYPE_LATEST)
