"""Shared dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving._model_holder import LoadedModel, ModelHolder
from serving._state import StateStore
from serving.api.config import Settings
from serving.api.metrics import Metrics
from serving.api.security import ApiKey, Scope

__all__ = [
    "AdminKey",
    "HolderDep",
    "MetricsDep",
    "ScoreKey",
    "ScorerDep",
    "SettingsDep",
    "StateDep",
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


SettingsDep = Annotated[Settings, Depends(_settings)]
StateDep = Annotated[StateStore, Depends(_state)]
HolderDep = Annotated[ModelHolder, Depends(_holder)]
ScorerDep = Annotated[LoadedModel, Depends(_model)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
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


ScoreKey = Annotated[ApiKey, Depends(_score_key)]
AdminKey = Annotated[ApiKey, Depends(_admin_key)]
