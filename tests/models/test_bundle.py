"""The model bundle: plain files with hashes; a tampered or mismatched bundle is refused."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import features
from changewatch.errors import ModelBundleError
from features import ConfigurationError
from models import (
    ChangeDetector,
    file_sha256,
    load_bundle,
    read_bundle_key,
    save_bundle,
    sign_bundle,
)
from models.scoring import load_scorer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._generate import generate

CUT = pd.Timestamp("2024-05-24", tz="UTC")


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return generate(20_000, 25, seed=5)


@pytest.fixture(scope="module")
def detector(events: pd.DataFrame) -> ChangeDetector:
    return ChangeDetector(n_estimators=30, random_state=1).fit(events[events["event_time"] < CUT])


@pytest.fixture(scope="module")
def saved(detector: ChangeDetector, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "model"
    save_bundle(detector, path, metadata={"run_id": "abc"})
    return path


@pytest.fixture
def bundle(saved: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(saved, copy)
    return copy


def _manifest(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((path / "manifest.json").read_text())


def _write_manifest(path: Path, manifest: dict) -> None:  # type: ignore[type-arg]
    (path / "manifest.json").write_text(json.dumps(manifest))


def _rehash(path: Path, name: str) -> None:
    manifest = _manifest(path)
    file = path / name
    manifest["files"][name] = {"sha256": file_sha256(file), "bytes": file.stat().st_size}
    _write_manifest(path, manifest)


def test_manifest_records_versions_period_fingerprint_and_every_file(
    saved: Path, detector: ChangeDetector
) -> None:
    manifest = _manifest(saved)
    assert manifest["feature_schema_version"] == features.VECTOR_SCHEMA_VERSION
    assert manifest["canonical_schema_version"] == features.SCHEMA_VERSION
    assert manifest["data_fingerprint"] == detector.data_fingerprint_
    assert manifest["training_period"]["end"] == detector.training_period_[1].isoformat()
    assert set(manifest["libraries"]) == {
        "python",
        "numpy",
        "scikit-learn",
        "pandas",
        "pyarrow",
        "changewatch",
    }
    assert manifest["metadata"] == {"run_id": "abc"}
    on_disk = {p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {"manifest.json"}
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == file_sha256(saved / name)


def test_nothing_in_a_bundle_is_a_pickle(saved: Path) -> None:
    for file in saved.rglob("*"):
        if file.is_file():
            assert not file.read_bytes().startswith(b"\x80"), file
    for file in saved.glob("*.npz"):
        with np.load(file, allow_pickle=False) as archive:
            assert all(archive[name].dtype != object for name in archive.files)


def test_a_loaded_bundle_scores_and_explains_exactly_as_the_trained_detector(
    saved: Path, detector: ChangeDetector, events: pd.DataFrame
) -> None:
    later = events[events["event_time"] >= CUT]
    loaded = load_bundle(saved)
    expected = detector.score_windows(later)
    got = loaded.score_windows(later)
    np.testing.assert_array_equal(expected["score"].to_numpy(), got["score"].to_numpy())
    np.testing.assert_array_equal(expected["percentile"], got["percentile"])
    assert expected["explanations"].tolist() == got["explanations"].tolist()
    assert expected["event_ids"].tolist() == got["event_ids"].tolist()
    assert loaded.get_params()["n_estimators"] == 30
    assert loaded.training_period_ == detector.training_period_


FILES = [
    "config.json",
    "forest.npz",
    "scale.npz",
    "train_scores.npz",
    "usual.parquet",
    "recent.parquet",
    "profiles/values.parquet",
    "profiles/manifest.json",
]


@pytest.mark.parametrize("name", FILES)
def test_a_changed_byte_in_any_file_is_refused(bundle: Path, name: str) -> None:
    file = bundle / name
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x01
    file.write_bytes(bytes(data))
    with pytest.raises(ModelBundleError, match="SHA-256 mismatch") as info:
        load_bundle(bundle)
    assert name in str(info.value)


def test_a_missing_file_is_refused(bundle: Path) -> None:
    (bundle / "usual.parquet").unlink()
    with pytest.raises(ModelBundleError, match=r"missing files \['usual.parquet'\]"):
        load_bundle(bundle)


def test_an_extra_file_is_refused(bundle: Path) -> None:
    (bundle / "helper.pkl").write_bytes(b"\x80\x04.")
    with pytest.raises(ModelBundleError, match=r"unexpected files \['helper.pkl'\]"):
        load_bundle(bundle)


def test_another_feature_schema_version_asks_for_a_retrain(bundle: Path) -> None:
    manifest = _manifest(bundle)
    manifest["feature_schema_version"] = "0"
    _write_manifest(bundle, manifest)
    expected = (
        f"bundle was built for feature schema 0, this changewatch computes "
        f"{features.VECTOR_SCHEMA_VERSION}: retrain"
    )
    with pytest.raises(ModelBundleError, match=expected):
        load_bundle(bundle)


def test_feature_names_outside_the_catalogue_are_refused(bundle: Path) -> None:
    config = json.loads((bundle / "config.json").read_text())
    config["feature_names"][0] = "n_bitcoins_mined"
    (bundle / "config.json").write_text(json.dumps(config))
    manifest = _manifest(bundle)
    manifest["configuration"] = config
    _write_manifest(bundle, manifest)
    _rehash(bundle, "config.json")
    with pytest.raises(ModelBundleError, match=r"n_bitcoins_mined.*not in this changewatch's"):
        load_bundle(bundle)


def test_out_of_bounds_forest_arrays_are_refused_even_with_a_matching_hash(bundle: Path) -> None:
    with np.load(bundle / "forest.npz", allow_pickle=False) as archive:
        arrays = {name: archive[name].copy() for name in archive.files}
    arrays["children_left"][0] = 10**6
    with open(bundle / "forest.npz", "wb") as handle:
        np.savez(handle, **arrays)
    _rehash(bundle, "forest.npz")
    with pytest.raises(ModelBundleError, match="children_left"):
        load_bundle(bundle)


def test_a_config_that_differs_from_the_manifest_is_refused(bundle: Path) -> None:
    config = json.loads((bundle / "config.json").read_text())
    config["detector"]["threshold"] = 50.0
    (bundle / "config.json").write_text(json.dumps(config))
    _rehash(bundle, "config.json")
    with pytest.raises(ModelBundleError, match="differs from the manifest"):
        load_bundle(bundle)


@pytest.mark.parametrize("uri", ["models:/changewatch@champion", "runs:/0123abcd/model"])
def test_registry_uris_are_resolved_by_the_caller_not_the_scoring_core(uri: str) -> None:
    with pytest.raises(ConfigurationError, match="registry URI: resolve it"):
        load_scorer(uri)


def test_saving_into_a_non_empty_directory_is_refused(
    detector: ChangeDetector, tmp_path: Path
) -> None:
    (tmp_path / "other").write_text("x")
    with pytest.raises(FileExistsError):
        save_bundle(detector, tmp_path)


KEY = b"k" * 32


@pytest.mark.parametrize("signer", ["sign_bundle", "save_bundle"])
def test_a_signed_bundle_loads_with_its_key(
    detector: ChangeDetector, bundle: Path, tmp_path: Path, signer: str
) -> None:
    if signer == "sign_bundle":
        sign_bundle(bundle, KEY)
        path = bundle
    else:
        path = tmp_path / "signed"
        save_bundle(detector, path, signing_key=KEY)
    assert (path / "manifest.sig").is_file()
    assert load_bundle(path, key=KEY).data_fingerprint_ == detector.data_fingerprint_
    assert load_bundle(path).data_fingerprint_ == detector.data_fingerprint_  # no key: no check


def test_an_unsigned_bundle_is_refused_when_a_key_is_set(bundle: Path) -> None:
    with pytest.raises(ModelBundleError, match="not signed"):
        load_bundle(bundle, key=KEY)


def test_a_bundle_signed_with_another_key_is_refused(bundle: Path) -> None:
    sign_bundle(bundle, b"o" * 32)
    with pytest.raises(ModelBundleError, match="another key"):
        load_bundle(bundle, key=KEY)


def test_a_manifest_changed_after_signing_is_refused(bundle: Path) -> None:
    sign_bundle(bundle, KEY)
    manifest = _manifest(bundle)
    manifest["metadata"] = {"run_id": "forged"}
    _write_manifest(bundle, manifest)
    with pytest.raises(ModelBundleError, match="does not match"):
        load_bundle(bundle, key=KEY)


def test_a_short_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "key").write_bytes(b"short\n")
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        read_bundle_key(tmp_path / "key")
