"""The application: :func:`create_app` builds it from :class:`Settings`."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from features import PRODUCT_VERSION, ConfigurationError
from models.scoring import PolicyFile, load_policy, read_yaml_model
from serving._model_holder import ModelHolder, ModelResolver, load_model, local_bundles
from serving._state import StateStore
from serving.api.config import Settings, get_settings
from serving.api.metrics import Metrics, ServiceMiddleware
from serving.api.reloads import ReloadFollower
from serving.api.routes import health, model, policy, score
from serving.api.security import is_loopback

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

_DESCRIPTION = """
Scores AWS CloudTrail changes: the change-window and behaviour rules on every event,
the isolation-forest model per identity and window, combined into findings (the same
code as `changewatch score`). Send `Authorization: Bearer <key>`; `score` keys may
score and read the model, `admin` keys may do everything. `/healthz`, `/readyz` and
`/metrics` need no key. Every answer says `degraded` while the rules score alone.
"""


def _import_windows(store: StateStore, settings: Settings) -> None:
    if not settings.windows:
        return
    load_policy(*settings.windows)  # the files must be valid together before anything is stored
    items = [
        item
        for path in settings.windows
        for item in policy.policy_items(read_yaml_model(PolicyFile, path).resolved())
    ]
    store.put_objects(items)
    logger.info("imported %d policy objects from %d files", len(items), len(settings.windows))


def create_app(
    settings: Settings | None = None, *, resolve: ModelResolver | None = None
) -> FastAPI:
    """Build the service; nothing is global, so tests can build as many as they like.

    ``resolve`` turns registry model URIs into bundle directories (the command line
    passes one that asks the training package); without it only bundle directories load.

    Raises
    ------
    ConfigurationError
        When no API key is configured and the host is not loopback, or the state
        database or a windows file cannot be used.
    """
    settings = settings or get_settings()
    if not len(settings.api_keys) and not is_loopback(settings.host):
        raise ConfigurationError(
            f"no API key configured: refusing to serve on {settings.host!r}; set "
            "CHANGEWATCH_API_KEYS='name:scope:secret' or --keys-file, or bind to 127.0.0.1"
        )
    if not len(settings.api_keys):
        logger.warning("no API key configured: every loopback client is admin")
    store = StateStore(
        settings.state,
        max_age=timedelta(days=settings.retention_days),
        max_per_identity=settings.retention_per_identity,
    )
    _import_windows(store, settings)
    holder = ModelHolder(settings.model, partial(load_model, resolve=resolve or local_bundles))
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.open()
        generation = store.version("model")  # before loading: a reload meanwhile is followed
        holder.reload()
        metrics.set_model(holder.current)
        if holder.current.degraded:
            logger.warning("serving degraded: %s", holder.current.reason)
        store.checkpoint_in_background()
        store.policy().calendar.warm(datetime.now(UTC) + timedelta(days=2))
        follower = ReloadFollower(
            store, holder, metrics, settings.reload_poll_seconds, generation=generation
        )
        follower.start()
        # what was loaded stays: a full collection would otherwise walk it again and again,
        # pausing requests for tens of milliseconds (ADR 0017)
        gc.collect()
        gc.freeze()
        yield
        gc.unfreeze()
        follower.stop()
        store.close()

    # /docs and /redoc load Swagger UI and ReDoc from the package, not a CDN (ADR 0038)
    app = FastAPIOffline(
        title="changewatch",
        version=PRODUCT_VERSION,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    # scoring is CPU-bound and shares one database: a few threads do it, the other
    # requests wait their turn on the event loop instead of thrashing 40 threads (ADR 0017)
    app.state.scoring = anyio.CapacityLimiter(settings.scoring_threads)
    app.state.store = store
    app.state.holder = holder
    app.state.metrics = metrics
    for module in (score, policy, model, health):
        app.include_router(module.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        ServiceMiddleware,
        metrics=metrics,
        max_body=settings.max_body_bytes,
        degraded=lambda: holder.current.degraded,
    )
    return app
