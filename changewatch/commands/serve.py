"""``changewatch serve``: the HTTP scoring service (FastAPI under uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["serve"]


@click.command()
@click.option(
    "--model",
    "-m",
    "model",
    default="none",
    show_default=True,
    metavar="URI|PATH|none",
    help="Bundle directory, models:/NAME@alias, or none (rules only).",
)
@click.option(
    "--tracking-uri",
    "tracking_uri",
    metavar="URI",
    help="MLflow tracking store a models:/ URI is read from (default: $MLFLOW_TRACKING_URI); "
    "reading never creates a store.",
)
@click.option(
    "--windows",
    "-w",
    "windows",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Change-policy YAML imported into the state at start (repeatable).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", "-p", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--state",
    default="changewatch-state.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite database of recent events and the policy.",
)
@click.option(
    "--keys-file",
    type=click.Path(exists=True, dir_okay=False),
    help="API keys, one 'name:scope:secret' per line (besides CHANGEWATCH_API_KEYS).",
)
@click.option(
    "--allow-degraded",
    is_flag=True,
    help="Start with the rules alone when the model cannot be loaded (it says why; "
    "POST /v1/model/reload retries) instead of stopping.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes serving the same state database (each loads the model).",
)
def serve(
    model: str,
    tracking_uri: str | None,
    windows: tuple[str, ...],
    host: str,
    port: int,
    state: str,
    keys_file: str | None,
    allow_degraded: bool,
    workers: int,
) -> None:
    """Serve scoring over HTTP (docs/api.md).

    Routes: POST /v1/score, POST /v1/score/vectors, the change-policy resources
    under /v1, GET /v1/model, POST /v1/model/reload, /healthz, /readyz, /metrics.
    Keys come from CHANGEWATCH_API_KEYS="name:scope:secret,..." or --keys-file;
    without a key the service only starts on loopback. Other settings are read
    from CHANGEWATCH_* (see serving/api/config.py). With --workers N, N processes
    share the state: each event is stored once, policy writes and model reloads
    reach all of them (metrics are per process). A model that cannot be loaded
    stops the start, naming it and why, unless --allow-degraded.

    \b
    Examples:
      CHANGEWATCH_API_KEYS="soar:score:$(openssl rand -hex 24)" \\
          changewatch serve --model models:/changewatch@champion --host 0.0.0.0
      changewatch serve --model none --windows change_windows.yaml --workers 2
    """
    import os

    import uvicorn

    from changewatch.model_uri import registry_resolver
    from serving.api import Settings, create_app

    overrides: dict[str, object] = {
        "model": model,
        "host": host,
        "port": port,
        "state": Path(state),
    }
    if windows:
        overrides["windows"] = [Path(w) for w in windows]
    if keys_file:
        overrides["api_keys_file"] = Path(keys_file)
    app = create_app(Settings(**overrides), resolve=registry_resolver(tracking_uri))  # type: ignore[arg-type]
    _load_or_stop(app, model, allow_degraded)
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "info"}
    options |= {"access_log": False, "loop": "auto", "http": "auto"}  # uvloop, httptools
    if workers == 1:
        uvicorn.run(app, **options)
        return
    # the app above checked the settings and the model and imported the windows once;
    # each worker builds its own from the environment (serving.api.config.get_settings)
    app.state.store.close()
    del app  # the supervisor keeps no model
    os.environ |= {
        "CHANGEWATCH_MODEL": model,
        "CHANGEWATCH_HOST": host,
        "CHANGEWATCH_PORT": str(port),
        "CHANGEWATCH_STATE": str(Path(state).resolve()),
    }
    if keys_file:
        os.environ["CHANGEWATCH_API_KEYS_FILE"] = str(Path(keys_file).resolve())
    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    os.environ.pop("CHANGEWATCH_WINDOWS", None)
    uvicorn.run("changewatch.commands.serve:worker_app", factory=True, workers=workers, **options)


def _load_or_stop(app: Any, model: str, allow_degraded: bool) -> None:
    """Load the model before serving; stop with its path and the reason when it cannot load.

    Raises
    ------
    ConfigurationError
        When the model cannot be loaded and ``allow_degraded`` is false.
    """
    from changewatch.errors import ConfigurationError

    loaded, why = app.state.holder.load_before_start()
    if loaded or allow_degraded:
        return
    app.state.store.close()
    raise ConfigurationError(
        f"model {model!r} cannot be loaded: {why}. Nothing was started: fix --model, "
        "or --model none for the rules alone, or --allow-degraded to serve the rules "
        "until a reload succeeds"
    )


def worker_app() -> Any:
    """Build one worker's app (uvicorn's factory).

    Settings come from the environment, and registry URIs resolve against
    ``$MLFLOW_TRACKING_URI``.
    """
    from changewatch.model_uri import registry_resolver
    from serving.api import create_app

    return create_app(resolve=registry_resolver(None))
