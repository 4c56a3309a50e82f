"""Where runs and models go: the tracking URI, its artifact root and the experiment.

Precedence: the ``--tracking-uri`` option, then ``MLFLOW_TRACKING_URI``, then a local
SQLite store ``sqlite:///<cwd>/mlruns.db``. For a database store (SQLite or any other
SQLAlchemy URL such as ``postgresql://...``) artifacts go to a local folder,
``mlartifacts`` beside the SQLite file (or in the working directory), given explicitly
when the experiment is created so nothing depends on a tracking server. For a server
(``http://``, ``https://``, ``databricks``) the server decides.
"""

# MLflow, scikit-learn and matplotlib are imported where used, so that importing
# training (and training.simulation) stays light.

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urlparse

from features import ConfigurationError

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "DEFAULT_EXPERIMENT",
    "EXPERIMENT_KIND",
    "artifact_progress",
    "artifact_root_for",
    "ensure_experiment",
    "require_store",
    "resolve_tracking_uri",
    "tracking",
    "ui_url",
]

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT: Final = "changewatch"
"""Experiment used when none is named."""

EXPERIMENT_KIND: Final = {"mlflow.experimentKind": "custom_model_development"}
"""Experiment tag declaring a "Machine learning" experiment (runs, not GenAI traces).

MLflow 3.17's UI ignores it: a browser-wide GenAI / Model training switch decides the
view (GenAI by default, remembered in the browser's local storage), and a
``workflowType=machine_learning`` query parameter overrides it (:func:`ui_url`)."""

_DATABASE_SCHEMES: Final = ("sqlite", "postgresql", "mysql", "mssql")
_PROGRESS_VARIABLE: Final = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


def resolve_tracking_uri(uri: str | None = None, *, cwd: str | Path | None = None) -> str:
    """Return the tracking URI to use.

    Parameters
    ----------
    uri : str, optional
        An explicit URI (the ``--tracking-uri`` option); wins when given.
    cwd : str or Path, optional
        Folder of the default SQLite store; the working directory by default.

    Returns
    -------
    str
        ``uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///<cwd>/mlruns.db``.
    """
    chosen = (uri or "").strip() or os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if chosen:
        return chosen
    folder = Path(cwd) if cwd is not None else Path.cwd()
    return f"sqlite:///{(folder / 'mlruns.db').resolve()}"


def _scheme(uri: str) -> str:
    return urlparse(uri).scheme.split("+", 1)[0].lower()


def _local_store(uri: str) -> Path | None:
    """Return the file a local store lives in (SQLite file or store folder), else ``None``."""
    scheme = _scheme(uri)
    if scheme == "sqlite":
        path = unquote(urlparse(uri).path)
        if not path or path == "/:memory:":
            return None
        return Path(path[1:]) if path.startswith("//") else Path(path.lstrip("/"))
    if scheme == "file":
        return Path(unquote(urlparse(uri).path))
    if scheme == "" and uri not in ("databricks",):
        return Path(uri)
    return None


def require_store(uri: str | None = None) -> str:
    """Return the resolved tracking URI when its store exists; never create it.

    Reading a model from a SQLite file or a folder that is not there would make MLflow
    create an empty store and then fail with "not found"; this check fails first and
    names the store. Servers and other databases are not checked here (a connection
    error names them).

    Raises
    ------
    ConfigurationError
        When the store is a local file or folder that does not exist.
    """
    resolved = resolve_tracking_uri(uri)
    local = _local_store(resolved)
    if local is not None and not local.exists():
        raise ConfigurationError(
            f"no MLflow tracking store at {local} ({resolved}): nothing was read and no store "
            "was created. Name the store the model was registered in with --tracking-uri or "
            "MLFLOW_TRACKING_URI"
        )
    return resolved


def ui_url(base: str, experiment_id: str, run_id: str | None = None, *, page: str = "") -> str:
    """Return a link into the MLflow UI that opens in its "Model training" view.

    Parameters
    ----------
    base : str
        The UI's address, e.g. ``http://127.0.0.1:5000``.
    experiment_id, run_id : str
        The experiment (its runs table) or one of its runs.
    page : str
        A path below the run, e.g. ``artifacts/model_card.md``.

    Examples
    --------
    >>> ui_url("http://127.0.0.1:5000", "1")
    'http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning'
    >>> ui_url("http://127.0.0.1:5000", "1", "abc", page="artifacts/model_card.md")
    'http://127.0.0.1:5000/#/experiments/1/runs/abc/artifacts/model_card.md?workflowType=machine_learning'
    """
    path = f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs"
    if run_id:
        path += f"/{run_id}"
        if page:
            path += f"/{page.lstrip('/')}"
    return f"{path}?workflowType=machine_learning"


@contextmanager
def artifact_progress() -> Iterator[None]:
    """Show MLflow's "Downloading artifacts" bars only when standard error is a terminal.

    An explicit ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` wins; otherwise it is set to
    ``false`` for the block when standard error is not a terminal (logs, cron, CI).
    """
    if _PROGRESS_VARIABLE in os.environ or sys.stderr.isatty():
        yield
        return
    os.environ[_PROGRESS_VARIABLE] = "false"
    try:
        yield
    finally:
        os.environ.pop(_PROGRESS_VARIABLE, None)


def artifact_root_for(tracking_uri: str, *, cwd: str | Path | None = None) -> str | None:
    """Return the artifact location for new experiments of a database store.

    ``None`` for a tracking server (its own default applies) and for a plain
    directory store.

    Examples
    --------
    >>> artifact_root_for("sqlite:////srv/cw/mlruns.db")
    'file:///srv/cw/mlartifacts'
    """
    scheme = _scheme(tracking_uri)
    if scheme not in _DATABASE_SCHEMES:
        return None
    folder = Path(cwd) if cwd is not None else Path.cwd()
    if scheme == "sqlite":
        path = unquote(urlparse(tracking_uri).path)
        # sqlite:////abs/path -> "//abs/path"; sqlite:///rel/path -> "/rel/path"
        database = Path(path[1:]) if path.startswith("//") else Path(path.lstrip("/"))
        if path and path != "/:memory:" and not database.is_absolute():
            database = folder / database
        if path and path != "/:memory:":
            folder = database.parent
    return (folder / "mlartifacts").resolve().as_uri()


def ensure_experiment(
    client: MlflowClient, name: str, *, artifact_location: str | None = None
) -> str:
    """Return the id of experiment ``name``, creating it (with its artifact location) if new.

    The experiment is tagged :data:`EXPERIMENT_KIND` so the UI opens on its runs.

    Raises
    ------
    ConfigurationError
        When the experiment exists but was deleted.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            raise ConfigurationError(
                f"experiment {name!r} is deleted; restore it or choose another --experiment"
            )
        for key, value in EXPERIMENT_KIND.items():
            if key not in experiment.tags:  # experiments made before the tag existed
                client.set_experiment_tag(experiment.experiment_id, key, value)
        return str(experiment.experiment_id)
    logger.info("creating experiment %s (artifacts in %s)", name, artifact_location or "default")
    return str(
        client.create_experiment(
            name, artifact_location=artifact_location, tags=dict(EXPERIMENT_KIND)
        )
    )


@contextmanager
def tracking(uri: str | None = None) -> Iterator[str]:
    """Point MLflow's fluent API (runs, logging, registry) at ``uri`` for a block.

    The previous tracking and registry URIs are restored afterwards, so a library
    call never leaves global state behind. MLflow's artifact progress bars show only
    on a terminal (:func:`artifact_progress`). Yields the resolved URI.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    resolved = resolve_tracking_uri(uri)
    # the raw settings (None when unset), not the effective URIs: restoring an effective
    # URI would pin it and outlive a later MLFLOW_TRACKING_URI or set_tracking_uri
    previous_tracking = getattr(tracking_utils, "_tracking_uri", None)
    previous_registry = getattr(registry_utils, "_registry_uri", None)
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    try:
        with artifact_progress():
            yield resolved
    finally:
        tracking_utils._tracking_uri = previous_tracking
        registry_utils._registry_uri = previous_registry
