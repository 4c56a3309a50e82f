"""Resolving a model URI to a local detector bundle, without ever creating a store.

``models:/NAME@alias``, ``models:/NAME/VERSION``, ``runs:/...``, ``models:/m-...`` or a
local directory. Every function here only reads: a SQLite file or store folder that is
not there is an error naming it (:func:`training._tracking.require_store`), not a new
empty store, and "not found" errors name the store that was searched.
"""

# MLflow is imported where used, so that importing training stays light.

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from features import ConfigurationError
from training._pyfunc_io import BUNDLE_ARTIFACT
from training._tracking import require_store, tracking

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "VECTOR_SCORER_TAG",
    "ModelLocation",
    "ModelRef",
    "describe_model",
    "load_model_bundle",
    "open_model",
    "resolve_model",
    "vector_scorer_uri",
]

logger = logging.getLogger(__name__)

VECTOR_SCORER_TAG: Final = "changewatch.vector_scorer"
"""Tag on the event scorer's logged model (and its run): the vector scorer's model URI."""

_MODELS_URI: Final = re.compile(
    r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$"
)


def _client(resolved: str) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=resolved, registry_uri=resolved)


def vector_scorer_uri(uri: str, *, tracking_uri: str | None = None) -> str | None:
    """Return the URI of the vector scorer logged beside the event scorer ``uri`` names.

    ``uri`` is ``models:/NAME@alias``, ``models:/NAME/VERSION``, ``models:/m-...`` or
    ``runs:/RUN/...``. The event scorer's logged model carries the link
    (:data:`VECTOR_SCORER_TAG`); for ``runs:/`` URIs (and versions registered from a
    run path) the run's tag of the same name is read.

    Returns
    -------
    str or None
        A model URI (``models:/m-...``); ``None`` for local paths and for models logged
        before the vector scorer existed.

    Raises
    ------
    ConfigurationError
        When a registered alias or version does not exist.
    """
    if not uri.startswith(("models:/", "runs:/")):
        return None
    from mlflow.exceptions import MlflowException

    resolved = require_store(tracking_uri)
    client = _client(resolved)
    model_id: str | None = None
    run_id: str | None = None
    if uri.startswith("runs:/"):
        run_id = uri[len("runs:/") :].split("/", 1)[0]
    else:
        ref = resolve_model(uri, client)
        source = ref.source if ref is not None else uri
        run_id = ref.run_id if ref is not None else None
        if source.startswith("models:/m-"):
            model_id = source[len("models:/") :].split("/", 1)[0]
    try:
        if model_id is not None:
            logged = client.get_logged_model(model_id)
            if logged.tags.get(VECTOR_SCORER_TAG):
                return str(logged.tags[VECTOR_SCORER_TAG])
            run_id = run_id or logged.source_run_id
        if run_id:
            tagged = client.get_run(run_id).data.tags.get(VECTOR_SCORER_TAG)
            return str(tagged) if tagged else None
    except MlflowException as error:
        raise ConfigurationError(
            f"cannot look up the model {uri!r} in the tracking store {resolved}: {error.message}"
        ) from error
    return None


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A registered model version: name, version, run and where its files are."""

    name: str
    version: str
    run_id: str | None
    source: str

    @property
    def uri(self) -> str:
        """``models:/NAME/VERSION``."""
        return f"models:/{self.name}/{self.version}"


def resolve_model(uri: str, client: MlflowClient) -> ModelRef | None:
    """Resolve ``models:/NAME@alias`` or ``models:/NAME/VERSION``; ``None`` for other URIs.

    Raises
    ------
    ConfigurationError
        When the alias or version does not exist (the message names the store).
    """
    from mlflow.exceptions import MlflowException

    match = _MODELS_URI.match(uri)
    if match is None:
        return None
    name = match["name"]
    try:
        if match["alias"]:
            version = client.get_model_version_by_alias(name, match["alias"])
        else:
            version = client.get_model_version(name, match["version"])
    except MlflowException as error:
        raise ConfigurationError(
            f"cannot resolve model {uri!r} in the tracking store {client.tracking_uri}: "
            f"{error.message}"
        ) from error
    return ModelRef(name, str(version.version), version.run_id, str(version.source))


def describe_model(uri: str, *, tracking_uri: str | None = None) -> dict[str, str | None]:
    """Return the registered name, version, alias and run of ``models:/NAME@alias``.

    Other URIs (and local paths) give an empty mapping: they name no registered version.

    Raises
    ------
    ConfigurationError
        When the alias or version does not exist.
    """
    if not uri.startswith("models:/"):
        return {}
    ref = resolve_model(uri, _client(require_store(tracking_uri)))
    if ref is None:
        return {}
    alias = uri.rsplit("@", 1)[1] if "@" in uri else None
    return {"name": ref.name, "version": ref.version, "alias": alias, "run_id": ref.run_id}


def _cache_root(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("CHANGEWATCH_CACHE"):
        return Path(os.environ["CHANGEWATCH_CACHE"]) / "models"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "changewatch" / "models"


def _bundle_in(model_dir: Path) -> Path:
    from mlflow.models import Model

    if not (model_dir / "MLmodel").is_file():
        return model_dir  # already a bundle directory
    flavor: dict[str, Any] = Model.load(str(model_dir)).flavors.get("python_function", {})
    artifact = flavor.get("artifacts", {}).get(BUNDLE_ARTIFACT)
    if not artifact:
        raise ConfigurationError(f"{model_dir}: not a changewatch model (no 'bundle' artifact)")
    return model_dir / str(artifact["path"])


def load_model_bundle(
    uri: str, *, tracking_uri: str | None = None, cache_dir: str | Path | None = None
) -> Path:
    """Return a local directory holding the detector bundle of a model.

    ``uri`` is ``models:/NAME@alias``, ``models:/NAME/VERSION``, any other MLflow model
    URI (``runs:/...``, ``models:/m-...``) or a local directory (a logged model or a
    bundle). Registered versions are downloaded once into a cache
    (``$CHANGEWATCH_CACHE/models``, else ``~/.cache/changewatch/models``) keyed by
    tracking store, name and version, so an alias that moves fetches the new version.
    Hand the result to ``models.load_bundle``, which validates every file.

    Raises
    ------
    ConfigurationError
        When the store does not exist, the model cannot be resolved or holds no bundle.
    """
    local = Path(uri)
    if "://" not in uri and ":/" not in uri and local.is_dir():
        return _bundle_in(local)

    import mlflow
    from mlflow.exceptions import MlflowException

    resolved = require_store(tracking_uri)
    ref = resolve_model(uri, _client(resolved))
    key_source = f"{resolved}|{ref.name}|{ref.version}" if ref else f"{resolved}|{uri}"
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    label = f"{ref.name}-v{ref.version}" if ref else "model"
    target = _cache_root(cache_dir) / f"{label}-{key}"
    if (target / "MLmodel").is_file():
        logger.debug("model %s found in cache %s", uri, target)
        return _bundle_in(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
    try:
        download = ref.uri if ref else uri
        try:
            with tracking(resolved):  # models:/ resolution uses the global URIs
                path = mlflow.artifacts.download_artifacts(
                    artifact_uri=download, dst_path=str(scratch)
                )
        except MlflowException as error:
            raise ConfigurationError(
                f"cannot download model {uri!r} from the tracking store {resolved}: {error.message}"
            ) from error
        try:
            os.replace(path, target)
        except OSError:
            if not (target / "MLmodel").is_file():  # not a concurrent download that won
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info("model %s downloaded to %s", uri, target)
    return _bundle_in(target)


@dataclass(frozen=True, slots=True)
class ModelLocation:
    """Where a model URI led: its local bundle, its registration and the store searched.

    Attributes
    ----------
    bundle : Path
        Local directory of the detector bundle (for ``models.load_bundle``).
    registered : dict
        ``name``, ``version``, ``alias``, ``run_id`` of a registered version; empty for
        other URIs and local paths.
    tracking_uri : str or None
        The tracking store read; ``None`` for a local path.
    """

    bundle: Path
    registered: dict[str, str | None]
    tracking_uri: str | None


def open_model(
    uri: str, *, tracking_uri: str | None = None, cache_dir: str | Path | None = None
) -> ModelLocation:
    """Resolve a model URI or local path against an explicit tracking store.

    What a command with ``--model`` and ``--tracking-uri`` needs: the bundle to load and
    the registered version to report. The store is only read, never created.

    Parameters
    ----------
    uri : str
        ``models:/NAME@alias``, ``models:/NAME/VERSION``, ``runs:/...``, ``models:/m-...``
        or a local directory.
    tracking_uri : str, optional
        The store; default ``MLFLOW_TRACKING_URI``, else ``sqlite:///./mlruns.db``.
    cache_dir : path, optional
        Download cache (see :func:`load_model_bundle`).

    Raises
    ------
    ConfigurationError
        When the store does not exist or the model is not in it (the message names it).
    """
    local = Path(os.path.expanduser(uri))
    if "://" not in uri and ":/" not in uri:
        if not local.is_dir():
            raise ConfigurationError(f"no model directory at {uri!r}")
        return ModelLocation(_bundle_in(local), {}, None)
    resolved = require_store(tracking_uri)
    bundle = load_model_bundle(uri, tracking_uri=resolved, cache_dir=cache_dir)
    return ModelLocation(bundle, describe_model(uri, tracking_uri=resolved), resolved)
