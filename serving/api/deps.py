"""Shared dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving._model_holder import LoadedModel, ModelHolder
from serving._state import StateStore
from serving.api.backpressure import ScoringQueue
from serving.api.config import Settings
from serving.api.metrics import Metrics
from serving.api.security import ApiKey, Scope

__all__ = [
    "AdminKey",
    "ArrivedDep",
    "HolderDep",
    "MetricsDep",
    "QueueDep",
    "ScoreKey",
    "ScorerDep",
    "SettingsDep",
    "StateDep",
    "WatcherKey",
    "accepts_json",
    "media_type",
    "triage_key",
]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")
_OPEN = ApiKey("anonymous", Scope.ADMIN, b"")


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _state(request: Request) -> StateStore:
    store: StateStore = request.app.state.store
    return store


async def _holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


async def _model(request: Request) -> LoadedModel:
    holder: ModelHolder = request.app.state.holder
    return holder.current  # read once: the whole request uses this model


async def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def _queue(request: Request) -> ScoringQueue:
    queue: ScoringQueue = request.app.state.queue
    return queue


async def _arrived(request: Request) -> float:
    """``time.perf_counter()`` when the request reached the application (the middleware's)."""
    arrived = getattr(request.state, "arrived", None)
    return arrived if isinstance(arrived, float) else time.perf_counter()


SettingsDep = Annotated[Settings, Depends(_settings)]
StateDep = Annotated[StateStore, Depends(_state)]
HolderDep = Annotated[ModelHolder, Depends(_holder)]
ScorerDep = Annotated[LoadedModel, Depends(_model)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
QueueDep = Annotated[ScoringQueue, Depends(_queue)]
ArrivedDep = Annotated[float, Depends(_arrived)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _check(
    request: Request, credentials: HTTPAuthorizationCredentials | None, need: Scope
) -> ApiKey:
    settings: Settings = request.app.state.settings
    if not len(settings.api_keys):
        return _OPEN  # only ever on loopback: create_app refuses anything else
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = settings.api_keys.match(credentials.credentials)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if not key.scope.allows(need):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"API key {key.name!r} has scope {key.scope.value!r}; this route needs {need.value!r}",
        )
    return key


async def _score_key(request: Request, credentials: Credentials) -> ApiKey:
    return _check(request, credentials, Scope.SCORE)


async def _admin_key(request: Request, credentials: Credentials) -> ApiKey:
    return _check(request, credentials, Scope.ADMIN)


async def triage_key(request: Request, credentials: Credentials) -> ApiKey:
    """Check the key of a findings or verdict route (``triage`` or ``admin``)."""
    return _check(request, credentials, Scope.TRIAGE)


async def _watcher_key(request: Request, credentials: Credentials) -> ApiKey | None:
    """Return the key of a ``metrics`` (or ``admin``) caller; ``None`` when none was sent."""
    settings: Settings = request.app.state.settings
    if credentials is None and len(settings.api_keys):
        return None
    return _check(request, credentials, Scope.METRICS)


ScoreKey = Annotated[ApiKey, Depends(_score_key)]
AdminKey = Annotated[ApiKey, Depends(_admin_key)]
WatcherKey = Annotated[ApiKey | None, Depends(_watcher_key)]
"""Optional: ``None`` for an anonymous caller, who sees less (``/metrics``, ``/readyz``)."""


def media_type(request: Request) -> str | None:
    """Return the ``Content-Type`` without parameters, lower case; ``None`` when absent."""
    value = request.headers.get("content-type")
    return value.split(";", 1)[0].strip().lower() if value else None


def is_json(media: str | None) -> bool:
    """Whether a media type is JSON (``None``, no ``Content-Type``, is read as JSON)."""
    return media is None or media == "application/json" or media.endswith("+json")


async def accepts_json(request: Request) -> None:
    """Refuse a body that is not JSON with 415 (routes that take JSON bodies)."""
    media = media_type(request)
    if not is_json(media):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {media!r} is not read here; send application/json",
        )
