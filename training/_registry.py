"""The model registry side: logging the scorer, registering versions, aliases.

Resolving a URI to a local bundle lives in :mod:`training._resolve` (re-exported here
for the Spark engine's imports).
"""

# MLflow, scikit-learn and matplotlib are imported where used, so that importing
# training (and training.simulation) stays light.

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from features import (
    CANONICAL_SCHEMA,
    FEATURISER_INPUT_COLUMNS,
    PRODUCT_VERSION,
    VECTOR_COLUMNS,
)
from training._pyfunc_io import BUNDLE_ARTIFACT
from training._resolve import (
    VECTOR_SCORER_TAG,
    ModelRef,
    load_model_bundle,
    resolve_model,
    vector_scorer_uri,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.models.model import ModelInfo

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "CONTENT_TAG",
    "VECTOR_SCORER",
    "VECTOR_SCORER_TAG",
    "ModelRef",
    "alias_version",
    "bundle_content_key",
    "canonical_input_schema",
    "find_version",
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
CONTENT_TAG: Final = "changewatch.content"
"""Model version tag: :func:`bundle_content_key` of the version's bundle."""

_PYFUNC_FILE: Final = Path(__file__).with_name("_pyfunc.py")
_PYFUNC_VECTORS_FILE: Final = Path(__file__).with_name("_pyfunc_vectors.py")
_SERVING_ONLY: Final = frozenset({"fastapi", "click", "tqdm", "pydantic"})
_CODE_PACKAGES: Final = ("changewatch", "features", "models", "training")


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
    """MLflow input schema of the canonical event table (``features.CANONICAL_SCHEMA``).

    A column is *required* when the scorer reads it
    (:data:`features.FEATURISER_INPUT_COLUMNS`); a required column may still hold
    missing values where the canonical schema allows them. The others are optional.
    ``event_time`` is a timezone-naive UTC datetime (MLflow's type); nullable integers
    (``asn``) are doubles. :func:`training.pyfunc_input` converts a canonical frame.
    """
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
        required = column.name in FEATURISER_INPUT_COLUMNS
        columns.append(ColSpec(kind, column.name, required=required))
    return Schema(columns)


def _code_paths(scratch: Path) -> list[str]:
    """Return the packages the logged models import, as ``code_paths``.

    ``training`` goes without its ``simulation`` and ``spark`` subpackages (its
    ``__init__`` imports neither): a trimmed copy in ``scratch``.
    """
    import importlib

    paths = []
    for package in _CODE_PACKAGES:
        folder = Path(str(importlib.import_module(package).__file__)).parent
        if package == "training":
            trimmed = scratch / package
            trimmed.mkdir(parents=True, exist_ok=True)
            for source in [*folder.glob("*.py"), folder / "py.typed"]:
                shutil.copy2(source, trimmed / source.name)
            folder = trimmed
        paths.append(str(folder))
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
    vector_example: pd.DataFrame | None,
    threshold: float | None = None,
    name: str = "scorer",
) -> ModelInfo:
    """Log the scorer and the vector scorer (models from code + the bundle) to the active run.

    Both models carry the ``changewatch``, ``features``, ``models`` and ``training``
    packages as ``code_paths`` and pinned requirements, so ``mlflow models serve`` works
    in a fresh environment. The event scorer (``name``: canonical events in, windows
    out, see :mod:`training._pyfunc_io`) is the one returned and registered; the vector
    scorer (:data:`VECTOR_SCORER`: behaviour vectors in, one scored row each, for
    ``mlflow.pyfunc.spark_udf``) gets a copy of the same bundle, and its URI is tagged
    :data:`VECTOR_SCORER_TAG` on the event scorer's logged model and on the run (see
    :func:`vector_scorer_uri`).

    Parameters
    ----------
    bundle : path
        The detector bundle (``models.save_bundle``).
    input_example, output_example : pandas.DataFrame
        A few canonical events and the detector's ``score_windows`` of them.
    vector_example : pandas.DataFrame or None
        A few behaviour vectors (``ChangeDetector.vectors`` of ``input_example``);
        ``None`` logs no vector scorer (sweeps that never score on Spark).
    threshold : float, optional
        The detector's alert percentile (the output's ``threshold`` and ``alert``);
        default the one in the bundle's ``config.json``.
    name : str
        Name of the event scorer in the run.
    """
    import mlflow
    from mlflow.models import ModelSignature, infer_signature

    from training._pyfunc_io import pyfunc_input, pyfunc_output
    from training._pyfunc_vectors import to_vector_input

    if threshold is None:
        config = json.loads((Path(bundle) / "config.json").read_text(encoding="utf-8"))
        threshold = float(config["detector"]["threshold"])
    outputs = infer_signature(pyfunc_output(output_example, threshold)).inputs
    signature = ModelSignature(inputs=canonical_input_schema(), outputs=outputs)
    with tempfile.TemporaryDirectory(prefix="changewatch-code-") as scratch:
        code = _code_paths(Path(scratch))
        info: ModelInfo = mlflow.pyfunc.log_model(
            name=name,
            python_model=str(_PYFUNC_FILE),
            artifacts={BUNDLE_ARTIFACT: str(bundle)},
            code_paths=code,
            pip_requirements=scorer_requirements(),
            signature=signature,
            input_example=pyfunc_input(input_example),
        )
        if vector_example is None:
            logger.info("logged scorer %s (no vector scorer)", info.model_uri)
            return info
        vectors: ModelInfo = mlflow.pyfunc.log_model(
            name=VECTOR_SCORER,
            python_model=str(_PYFUNC_VECTORS_FILE),
            artifacts={BUNDLE_ARTIFACT: str(bundle)},
            code_paths=code,
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
        artifacts={BUNDLE_ARTIFACT: str(bundle)},
        pip_requirements=scorer_requirements(),
        signature=_vector_signature(),
    )
    return str(path)


def bundle_content_key(manifest: Mapping[str, Any]) -> str:
    """Return a digest of what a bundle scores with: its files and configuration.

    Two fits with the same data and settings write byte-identical files (the forest,
    the profiles, the usual values ...); the manifest's run id and library versions are
    left out, the product version is in. Equal keys mean interchangeable models.
    """
    content = {
        "files": manifest.get("files"),
        "configuration": manifest.get("configuration"),
        "product": PRODUCT_VERSION,
    }
    encoded = json.dumps(content, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def find_version(client: MlflowClient, name: str, key: str) -> ModelVersion | None:
    """Return the newest version of ``name`` tagged with content ``key``, if any."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(f"name = '{name}' and tags.`{CONTENT_TAG}` = '{key}'")
    except MlflowException:  # the model is not registered yet
        return None
    return max(found, key=lambda v: int(v.version)) if found else None


def register(
    model_uri: str,
    name: str,
    *,
    alias: str = CHALLENGER,
    tags: Mapping[str, str] | None = None,
) -> ModelVersion:
    """Register ``model_uri`` as a new version of ``name`` and point ``alias`` at it."""
    import mlflow
    from mlflow import MlflowClient

    version = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
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
