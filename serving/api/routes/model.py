"""The model being served, and its reload."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from starlette.concurrency import run_in_threadpool

from serving._model_holder import LoadedModel, ModelHolder
from serving.api.deps import AdminKey, HolderDep, MetricsDep, ScoreKey, StateDep
from serving.api.reloads import announce_reload
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


@router.get("", response_model=ModelPublic, responses={401: {}, 403: {}})
async def get_model(_: ScoreKey, holder: HolderDep) -> ModelPublic:
    """Name, version, alias, run id, training period and feature schema of the model."""
    return model_public(holder.current, holder)


@router.post(
    "/reload",
    response_model=ReloadPublic,
    responses={401: {}, 403: {}, 409: {"description": "The load failed; the old model stays."}},
)
async def reload_model(
    _: AdminKey, holder: HolderDep, store: StateDep, metrics: MetricsDep
) -> ReloadPublic:
    """Load the newest version of the model and swap it in; a failed load keeps the old one."""
    reloaded, error = await run_in_threadpool(holder.reload)
    metrics.set_model(holder.current)
    if reloaded:
        await run_in_threadpool(announce_reload, store, holder)
    if not reloaded:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"reload failed, still serving {holder.current.uri!r}: {error}",
        )
    return ReloadPublic(reloaded=True, error=None, model=model_public(holder.current, holder))
