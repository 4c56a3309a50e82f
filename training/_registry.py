"""The model registry side: logging the scorer, aliases, and fetching a bundle by URI."""

# MLflow, scikit-learn and matplotlib are imported where used, so that importing
# training (and training.simulation) stays light.

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from features import CANONICAL_SCHEMA, VECTOR_COLUMNS, ConfigurationError
from training._tracking import resolve_tracking_uri, tracking

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.models.model import ModelInfo

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "VECTOR_SCORER",
    "VECTOR_SCORER_TAG",
    "ModelRef",
    "alias_version",
    "canonical_input_schema",
    "load_model_bundle",
    "log_scorer",
    "register",
    "resolve_model",
    "save_vector_scorer",
    "scorer_requirements",
    "vector_input_schema",
    "vector_output_schema",
    "vector_scorer_uri",
]

logger = logging.getLogger(__name__)

CHALLENGER: Final = "challenger"
CHAMPION: Final = "champion"

VECTOR_SCORER: Final = "vector_scorer"
"""Name of the logged model that scores behaviour vectors row by row (``spark_udf``)."""
VECTOR_SCORER_TAG: Final = "changewatch.vector_scorer"
"""Tag on the event scorer's logged model (and its run): the vector scorer's model URI."""

_PYFUNC_FILE: Final = Path(__file__).with_name("_pyfunc.py")
_PYFUNC_VECTORS_FILE: Final = Path(__file__).with_name("_pyfunc_vectors.py")
_SERVING_ONLY: Final = frozenset({"fastapi", "click", "tqdm", "pydantic"})
_CODE_PACKAGES: Final = ("changewatch", "features", "models")
_MODELS_URI: Final = re.compile(
    r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$"
)


def scorer_requirements() -> list[str]:
    """Pinned pip requirements of the logged scorer: changewatch's runtime dependencies.

    Read from the installed ``changewatch`` distribution (so ``pyproject.toml`` stays the
    one list), without the extras and the service-only packages, pinned to the
    versions installed here, plus MLflow itself.
    """
    try:
        declared = importlib.metadata.requires("changewatch") or []
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - always installed
        declared = []
    names = {"mlflow"}
    for requirement in declared:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()
        if name and name not in _SERVING_ONLY:
            names.add(name)
    pinned = []
    for name in sorted(names):
        try:
            pinned.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pinned.append(name)
    return pinned


def canonical_input_schema() -> Any:
    """MLflow input schema of the canonical event table (``features.CANONICAL_SCHEMA``)."""
    import pyarrow as pa
    from mlflow.types import ColSpec, DataType, Schema, TensorSpec
    from mlflow.types.schema import Array

    scalar = {
        pa.string(): DataType.string,
        pa.bool_(): DataType.boolean,
        pa.int64(): DataType.long,
        pa.int32(): DataType.integer,
        pa.float64(): DataType.double,
    }
    columns: list[ColSpec | TensorSpec] = []
    for column in CANONICAL_SCHEMA:
        kind: Any
        if pa.types.is_timestamp(column.type):
            kind = DataType.datetime
        elif pa.types.is_list(column.type):
            kind = Array(scalar[column.type.value_type])
        elif pa.types.is_integer(column.type) and column.nullable:
            kind = DataType.double  # pandas holds missing integers as float NaN
        else:
            kind = scalar[column.type]
        columns.append(ColSpec(kind, column.name, required=not column.nullable))
    return Schema(columns)


def _code_paths() -> list[str]:
    import importlib

    paths = []
    for package in _CODE_PACKAGES:
        module = importlib.import_module(package)
        paths.append(str(Path(str(module.__file__)).parent))
    return paths


def vector_input_schema() -> Any:
    """MLflow input schema of behaviour vectors (:data:`features.VECTOR_COLUMNS`)."""
    from mlflow.types import ColSpec, DataType, Schema

    kinds = {
        "identity_key": DataType.string,
        "window_start": DataType.datetime,
        "window_end": DataType.datetime,
        "schema_version": DataType.string,
    }
    return Schema([ColSpec(kinds.get(name, DataType.double), name) for name in VECTOR_COLUMNS])


def vector_output_schema() -> Any:
    """MLflow output schema of the vector scorer: one row per vector."""
    from mlflow.types import ColSpec, DataType, Schema

    return Schema(
        [
            ColSpec(DataType.double, "score", required=False),
            ColSpec(DataType.double, "percentile", required=False),
            ColSpec(DataType.boolean, "cold_start"),
            ColSpec(DataType.string, "explanation"),
            ColSpec(DataType.string, "explanations"),
        ]
    )


def _vector_signature() -> Any:
    from mlflow.models import ModelSignature

    return ModelSignature(inputs=vector_input_schema(), outputs=vector_output_schema())


def log_scorer(
    bundle: str | Path,
    *,
    input_example: pd.DataFrame,
    output_example: pd.DataFrame,
    vector_example: pd.DataFrame,
    name: str = "scorer",
) -> ModelInfo:
    """Log the scorer and the vector scorer (models from code + the bundle) to the active run.

    Both models carry the ``changewatch``, ``features`` and ``models`` packages as
    ``code_paths`` and pinned requirements, so ``mlflow models serve`` works in a
    fresh environment. The event scorer (``name``: canonical events in, windows out)
    is the one returned and registered; the vector scorer (:data:`VECTOR_SCORER`:
    behaviour vectors in, one scored row each, for ``mlflow.pyfunc.spark_udf``) gets a
    copy of the same bundle, and its URI is tagged :data:`VECTOR_SCORER_TAG` on the
    event scorer's logged model and on the run (see :func:`vector_scorer_uri`).

    Parameters
    ----------
    bundle : path
        The detector bundle (``models.save_bundle``).
    input_example, output_example : pandas.DataFrame
        A few canonical events and the detector's ``score_windows`` of them.
    vector_example : pandas.DataFrame
        A few behaviour vectors (``ChangeDetector.vectors`` of ``input_example``).
    name : str
        Name of the event scorer in the run.
    """
    import mlflow
    from mlflow.models import ModelSignature, infer_signature

    from training._pyfunc import to_pyfunc_input, to_pyfunc_output
    from training._pyfunc_vectors import to_vector_input

    input_example = to_pyfunc_input(input_example)
    outputs = infer_signature(to_pyfunc_output(output_example)).inputs
    signature = ModelSignature(inputs=canonical_input_schema(), outputs=outputs)
    info: ModelInfo = mlflow.pyfunc.log_model(
        name=name,
        python_model=str(_PYFUNC_FILE),
        artifacts={"bundle": str(bundle)},
        code_paths=_code_paths(),
        pip_requirements=scorer_requirements(),
        signature=signature,
        input_example=input_example,
    )
    vectors: ModelInfo = mlflow.pyfunc.log_model(
        name=VECTOR_SCORER,
        python_model=str(_PYFUNC_VECTORS_FILE),
        artifacts={"bundle": str(bundle)},
        code_paths=_code_paths(),
        pip_requirements=scorer_requirements(),
        signature=_vector_signature(),
        input_example=to_vector_input(vector_example),
    )
    mlflow.set_logged_model_tags(info.model_id, {VECTOR_SCORER_TAG: vectors.model_uri})
    mlflow.set_logged_model_tags(vectors.model_id, {"changewatch.event_scorer": info.model_uri})
    mlflow.set_tag(VECTOR_SCORER_TAG, vectors.model_uri)
    logger.info("logged scorer %s and vector scorer %s", info.model_uri, vectors.model_uri)
    return info


def save_vector_scorer(bundle: str | Path, path: str | Path) -> str:
    """Write the vector scorer of a bundle directory as a local MLflow model at ``path``.

    For bundles that were never logged (``--model <bundle dir>``) or models logged
    before the vector scorer existed; the result is an MLflow model directory that
    ``mlflow.pyfunc.spark_udf`` takes.

    Returns
    -------
    str
        ``path``.
    """
    import mlflow

    mlflow.pyfunc.save_model(
        str(path),
        python_model=str(_PYFUNC_VECTORS_FILE),
        artifacts={"bundle": str(bundle)},
        pip_requirements=scorer_requirements(),
        signature=_vector_signature(),
    )
    return str(path)


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
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    resolved = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=resolved, registry_uri=resolved)
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
        raise ConfigurationError(f"cannot look up the model {uri!r}: {error.message}") from error
    return None


def register(model_uri: str, name: str, *, alias: str = CHALLENGER) -> ModelVersion:
    """Register ``model_uri`` as a new version of ``name`` and point ``alias`` at it."""
    import mlflow
    from mlflow import MlflowClient

    version = mlflow.register_model(model_uri, name)
    MlflowClient().set_registered_model_alias(name, alias, str(version.version))
    logger.info("registered %s version %s as @%s", name, version.version, alias)
    return version


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """Return the version ``name@alias`` points at, or ``None`` when the alias is unset."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        code = getattr(error, "error_code", "")
        if code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


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
        When the alias or version does not exist.
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
        raise ConfigurationError(f"cannot resolve model {uri!r}: {error.message}") from error
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
    from mlflow import MlflowClient

    resolved = resolve_tracking_uri(tracking_uri)
    ref = resolve_model(uri, MlflowClient(tracking_uri=resolved, registry_uri=resolved))
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
    artifact = flavor.get("artifacts", {}).get("bundle")
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
        When the model cannot be resolved or holds no bundle.
    """
    local = Path(uri)
    if "://" not in uri and ":/" not in uri and local.is_dir():
        return _bundle_in(local)

    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    resolved = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=resolved, registry_uri=resolved)
    ref = resolve_model(uri, client)
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
            raise ConfigurationError(f"cannot download model {uri!r}: {error.message}") from error
        try:
            os.replace(path, target)
        except OSError:
            if not (target / "MLmodel").is_file():  # not a concurrent download that won
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info("model %s downloaded to %s", uri, target)
    return _bundle_in(target)
