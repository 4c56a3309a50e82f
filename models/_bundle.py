"""The model bundle: a fitted :class:`ChangeDetector` as plain files with a hashed manifest.

Layout of a bundle directory (no pickle anywhere)::

    manifest.json            versions, configuration, training period, fingerprint,
                             library versions, and sha256 + size of every other file
    config.json              detector parameters, feature settings, feature names
    forest.npz               CompiledForest (validated node by node on load)
    scale.npz                PercentileScale quantiles of the training scores
    train_scores.npz         the training scores
    usual.parquet            per identity (and the organisation) the usual value per feature
    recent.parquet           baseline events within ``horizon`` of its end (canonical table)
    profiles/...             features.Profiles.save output

:func:`load_bundle` refuses, with :class:`~changewatch.errors.ModelBundleError`, a bundle
with a changed, missing or extra file, another bundle format, feature or canonical schema
version, feature names outside the catalogue or inconsistent between parts, or forest
arrays out of bounds.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sklearn

from features import (
    CANONICAL_SCHEMA,
    FEATURE_NAMES,
    PROFILE_SCHEMA_VERSION,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    VECTOR_SCHEMA_VERSION,
    ChangewatchError,
    FeatureConfig,
    ModelBundleError,
    Profiles,
    read_events,
)
from models._arrays import ArraySpec, file_sha256, load_arrays, save_arrays
from models._detector import ChangeDetector
from models._forest import FORMAT_VERSION, CompiledForest
from models._isolation import IsolationDetector
from models._percentile import PercentileScale
from models._usual import UsualValues

__all__ = ["BUNDLE_FORMAT", "BUNDLE_FORMAT_VERSION", "load_bundle", "save_bundle"]

logger = logging.getLogger(__name__)

BUNDLE_FORMAT: Final = "changewatch-model-bundle"
BUNDLE_FORMAT_VERSION: Final = 1
"""Version of the bundle layout; bumped whenever a file is added, removed or changes meaning."""

MANIFEST: Final = "manifest.json"
_SCORES_SPEC: Final = {"scores": ArraySpec(np.float64, 1)}
_DETECTOR_PARAMS: Final = (
    "n_estimators",
    "max_samples",
    "max_features",
    "random_state",
    "threshold",
    "exclude_cold_start",
    "only_change_windows",
    "top",
)


def _library_versions() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
        "changewatch": version("changewatch"),
    }


def _json_param(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store parameter value {value!r} in JSON; use a plain number")


def save_bundle(
    detector: ChangeDetector,
    path: str | os.PathLike[str],
    *,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a fitted detector to the directory ``path`` (created; must be empty if present).

    Parameters
    ----------
    detector : ChangeDetector
        A fitted detector.
    path : path-like
        Target directory.
    metadata : dict, optional
        JSON-ready extra facts (run id, git commit ...) copied into the manifest.

    Returns
    -------
    dict
        The manifest, as written to ``manifest.json``.
    """
    if not hasattr(detector, "detector_"):
        raise ValueError("save_bundle needs a fitted ChangeDetector; call fit first")
    target = Path(path)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target}: bundle directory must be empty")
    target.mkdir(parents=True, exist_ok=True)
    config = detector.state_for_serving().config
    params = {name: _json_param(getattr(detector, name)) for name in _DETECTOR_PARAMS}
    configuration = {
        "detector": params,
        "feature_config": config.to_json(),
        "feature_names": list(detector.feature_names_),
    }
    (target / "config.json").write_text(
        json.dumps(configuration, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    inner = detector.detector_
    inner.compiled_.to_npz(target / "forest.npz")
    inner.scale_.to_npz(target / "scale.npz")
    save_arrays(
        target / "train_scores.npz",
        {"scores": np.asarray(detector.train_scores_, dtype=np.float64)},
    )
    detector.usual_.to_frame().to_parquet(target / "usual.parquet", index=False)
    _write_events(detector.recent_, target / "recent.parquet")
    detector.profiles_.save(target / "profiles")
    start, end = detector.training_period_
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "bundle_format_version": BUNDLE_FORMAT_VERSION,
        "feature_schema_version": VECTOR_SCHEMA_VERSION,
        "canonical_schema_version": SCHEMA_VERSION,
        "profile_schema_version": PROFILE_SCHEMA_VERSION,
        "forest_format_version": FORMAT_VERSION,
        "configuration": configuration,
        "training_period": {"start": start.isoformat(), "end": end.isoformat()},
        "n_training_windows": detector.n_training_windows_,
        "baseline": getattr(detector, "baseline_", "identities"),
        "data_fingerprint": detector.data_fingerprint_,
        "libraries": _library_versions(),
        "metadata": metadata or {},
        "files": _file_table(target),
    }
    (target / MANIFEST).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    logger.info("model bundle written to %s (%d files)", target, len(manifest["files"]) + 1)
    return manifest


def _write_events(events: pd.DataFrame, path: Path) -> None:
    schema = CANONICAL_SCHEMA.with_metadata({SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()})
    table = pa.Table.from_pandas(
        events[list(CANONICAL_SCHEMA.names)], schema=schema, preserve_index=False
    )
    pq.write_table(table, path)


def _files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() or (p.is_symlink() and not p.is_dir())
    )


def _file_table(root: Path) -> dict[str, dict[str, Any]]:
    return {
        name: {"sha256": file_sha256(root / name), "bytes": (root / name).stat().st_size}
        for name in _files(root)
        if name != MANIFEST
    }


# ---------------------------------------------------------------------- loading


def load_bundle(path: str | os.PathLike[str]) -> ChangeDetector:
    """Load a bundle written by :func:`save_bundle`, refusing anything tampered or mismatched.

    Raises
    ------
    ModelBundleError
        Naming the file and what was expected: a hash or size mismatch, a missing or
        extra file, another bundle format or schema version ("retrain"), feature names
        outside the catalogue or inconsistent between parts, invalid forest arrays.
    """
    root = Path(path)
    manifest = _read_manifest(root)
    _check_versions(root, manifest)
    _check_files(root, manifest["files"])
    files = manifest["files"]

    def part(name: str) -> Path:
        return root / name

    configuration = _read_json(part("config.json"))
    if configuration != manifest.get("configuration"):
        raise ModelBundleError(
            str(part("config.json")), "differs from the manifest's configuration"
        )
    names = _feature_names(part("config.json"), configuration.get("feature_names"))
    try:
        feature_config = FeatureConfig.from_json(configuration["feature_config"])
        params = {k: configuration["detector"][k] for k in _DETECTOR_PARAMS}
    except (KeyError, TypeError, ChangewatchError) as exc:
        raise ModelBundleError(str(part("config.json")), f"invalid configuration ({exc})") from exc

    forest = CompiledForest.from_npz(part("forest.npz"), sha256=files["forest.npz"]["sha256"])
    if forest.feature_names != names:
        raise ModelBundleError(
            str(part("forest.npz")),
            f"feature names {list(forest.feature_names or [])} differ from config.json "
            f"{list(names)}",
        )
    scale = PercentileScale.from_npz(part("scale.npz"), sha256=files["scale.npz"]["sha256"])
    stored = load_arrays(
        part("train_scores.npz"), _SCORES_SPEC, sha256=files["train_scores.npz"]["sha256"]
    )
    scores = np.asarray(stored["scores"], dtype=np.float64)
    usual = _read_usual(part("usual.parquet"), names)
    try:
        profiles = Profiles.load(part("profiles"))
        recent = read_events(part("recent.parquet"))
    except (ChangewatchError, OSError, ValueError, pa.ArrowException) as exc:
        raise ModelBundleError(str(root), f"unreadable profiles or recent events ({exc})") from exc
    if profiles.config != feature_config:
        raise ModelBundleError(str(part("profiles")), "feature settings differ from config.json")
    threshold = float(params["threshold"])
    inner = IsolationDetector.from_parts(
        forest,
        scale,
        threshold=threshold,
        params={
            k: params[k] for k in ("n_estimators", "max_samples", "max_features", "random_state")
        },
    )
    inner.decision_scores_ = scores
    period = manifest["training_period"]
    try:
        detector = ChangeDetector.from_parts(
            params={"feature_config": feature_config, "features": list(names), **params},
            detector=inner,
            profiles=profiles,
            recent=recent,
            usual=usual,
            feature_names=names,
            training_period=(pd.Timestamp(period["start"]), pd.Timestamp(period["end"])),
            data_fingerprint=str(manifest["data_fingerprint"]),
            train_scores=scores,
            n_training_windows=int(manifest["n_training_windows"]),
            baseline=str(manifest.get("baseline", "identities")),
        )
    except (ChangewatchError, ValueError, TypeError) as exc:
        raise ModelBundleError(str(root), f"inconsistent parts ({exc})") from exc
    here = _library_versions()
    for library, version in manifest.get("libraries", {}).items():
        if here.get(library) != version:
            logger.info("bundle built with %s %s, running %s", library, version, here.get(library))
    return detector


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelBundleError(str(path), f"unreadable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelBundleError(str(path), f"expected a JSON object, got {type(data).__name__}")
    return data


def _read_manifest(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise ModelBundleError(str(root), "expected a bundle directory")
    manifest = _read_json(root / MANIFEST)
    if manifest.get("format") != BUNDLE_FORMAT:
        raise ModelBundleError(
            str(root / MANIFEST),
            f"expected format {BUNDLE_FORMAT!r}, got {manifest.get('format')!r}",
        )
    required = (
        "bundle_format_version",
        "feature_schema_version",
        "canonical_schema_version",
        "configuration",
        "training_period",
        "data_fingerprint",
        "n_training_windows",
        "files",
    )
    missing = [key for key in required if key not in manifest]
    if missing:
        raise ModelBundleError(str(root / MANIFEST), f"missing entries {missing}")
    if not isinstance(manifest["files"], dict):
        raise ModelBundleError(str(root / MANIFEST), "files: expected an object")
    return manifest


def _check_versions(root: Path, manifest: dict[str, Any]) -> None:
    source = str(root / MANIFEST)
    checks = (
        ("bundle_format_version", BUNDLE_FORMAT_VERSION, "bundle format", "re-save it"),
        ("feature_schema_version", VECTOR_SCHEMA_VERSION, "feature schema", "retrain"),
        ("canonical_schema_version", SCHEMA_VERSION, "canonical event schema", "retrain"),
        ("profile_schema_version", PROFILE_SCHEMA_VERSION, "profile schema", "retrain"),
        ("forest_format_version", FORMAT_VERSION, "forest format", "retrain"),
    )
    for key, ours, what, action in checks:
        theirs = manifest.get(key)
        if str(theirs) != str(ours):
            raise ModelBundleError(
                source,
                f"bundle was built for {what} {theirs}, this changewatch computes {ours}: {action}",
            )


def _check_files(root: Path, listed: dict[str, Any]) -> None:
    for name in listed:
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ModelBundleError(str(root / MANIFEST), f"file name {name!r} leaves the bundle")
    present = set(_files(root)) - {MANIFEST}
    missing = sorted(set(listed) - present)
    if missing:
        raise ModelBundleError(str(root), f"missing files {missing} named in the manifest")
    extra = sorted(present - set(listed))
    if extra:
        raise ModelBundleError(str(root), f"unexpected files {extra} not in the manifest")
    for name in sorted(listed):
        entry = listed[name]
        file = root / name
        if file.is_symlink():
            raise ModelBundleError(str(file), "symbolic links are not accepted in a bundle")
        if not isinstance(entry, dict) or "sha256" not in entry or "bytes" not in entry:
            raise ModelBundleError(
                str(root / MANIFEST), f"files[{name!r}]: expected sha256 and bytes"
            )
        size = file.stat().st_size
        if size != entry["bytes"]:
            raise ModelBundleError(
                str(file), f"size mismatch: expected {entry['bytes']}, got {size}"
            )
        digest = file_sha256(file)
        if digest != str(entry["sha256"]).lower():
            raise ModelBundleError(
                str(file), f"SHA-256 mismatch: expected {entry['sha256']}, got {digest}"
            )


def _feature_names(source: Path, names: Any) -> tuple[str, ...]:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ModelBundleError(str(source), "feature_names: expected a non-empty list of names")
    unknown = [n for n in names if n not in FEATURE_NAMES]
    if unknown:
        raise ModelBundleError(
            str(source),
            f"feature names {unknown} are not in this changewatch's feature catalogue "
            f"(schema {VECTOR_SCHEMA_VERSION}): retrain",
        )
    if len(set(names)) != len(names):
        raise ModelBundleError(str(source), "feature_names: expected distinct names")
    return tuple(names)


def _read_usual(path: Path, names: tuple[str, ...]) -> UsualValues:
    try:
        frame = pd.read_parquet(path)
        return UsualValues.from_frame(frame, names)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ModelBundleError(str(path), f"invalid usual values ({exc})") from exc
