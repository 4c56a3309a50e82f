"""The model being served, and its reload."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from starlette.concurrency import run_in_threadpool

from serving._model_holder import LoadedModel, ModelHolder
from serving.api.deps import AdminKey, HolderDep, MetricsDep, ScoreKey, StateDep
from serving.api.problems import problem_responses
from serving.api.reloads import announce_reload, refreeze
from serving.api.schemas import ModelPublic, ReloadPublic

__all__ = ["model_public", "router"]

router = APIRouter(prefix="/v1/model", tags=["model"])


def model_public(model: LoadedModel, holder: ModelHolder) -> ModelPublic:
    """Return the served model as the API shows it."""
    info = model.info
    return ModelPublic(
        uri=model.uri,
        loaded=model.scorer is not None,
        degraded=model.degraded,
        degraded_reason=model.reason,
        name=info.name,
        version=info.version,
        alias=info.alias,
        run_id=info.run_id,
        training_start=info.training_start,
        training_end=info.training_end,
        feature_schema_version=info.feature_schema_version,
        features=list(info.features),
        loaded_at=model.loaded_at,
        last_reload_error=holder.last_error,
    )


def _version(model: LoadedModel) -> str | None:
    if model.scorer is None:
        return None
    return f"{model.info.name}@{model.info.version}"


@router.get(
    "", response_model=ModelPublic, responses=problem_responses(401, 403), operation_id="getModel"
)
async def get_model(_: ScoreKey, holder: HolderDep) -> ModelPublic:
    """Name, version, alias, run id, training period and feature schema of the model."""
    return model_public(holder.current, holder)


@router.post(
    "/reload",
    response_model=ReloadPublic,
    responses=problem_responses(401, 403, 409, _409="The load failed; the old model stays."),
    operation_id="reloadModel",
)
async def reload_model(
    _: AdminKey, holder: HolderDep, store: StateDep, metrics: MetricsDep
) -> ReloadPublic:
    """Load the newest version of the model and swap it in; a failed load keeps the old one.

    ``outcome`` says what happened: ``replaced`` (another version now serves),
    ``unchanged`` (the same version was loaded again) or ``rules_only`` (no model is
    configured: nothing to load).
    """
    before = holder.current
    if holder.uri.strip().lower() == "none":
        return ReloadPublic(
            reloaded=False,
            outcome="rules_only",
            previous=None,
            error=None,
            model=model_public(before, holder),
        )
    reloaded, error = await run_in_threadpool(holder.reload)
    metrics.set_model(holder.current)
    if not reloaded:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"reload failed, still serving {holder.current.uri!r}: {error}",
        )
    outcome: Literal["replaced", "unchanged"] = (
        "unchanged" if _version(before) == _version(holder.current) else "replaced"
    )
    if outcome == "replaced":
        await run_in_threadpool(announce_reload, store, holder)
    else:
        await run_in_threadpool(refreeze)  # the object loaded again replaced the old one
    return ReloadPublic(
        reloaded=outcome == "replaced",
        outcome=outcome,
        previous=_version(before),
        error=None,
        model=model_public(holder.current, holder),
    )
