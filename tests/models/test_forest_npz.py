"""The compiled forest is stored as plain arrays and refused on load when tampered with."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from changewatch.errors import ChangewatchError, ModelBundleError
from models import CompiledForest, file_sha256


@pytest.fixture
def stored(tmp_path: Path, forest: Any) -> tuple[Path, CompiledForest, np.ndarray]:
    _, compiled, data = forest
    path = tmp_path / "forest.npz"
    compiled.to_npz(path)
    return path, compiled, data


def test_round_trip_scores_identically(stored: Any) -> None:
    path, compiled, data = stored
    loaded = CompiledForest.from_npz(path)
    np.testing.assert_array_equal(loaded.score_samples(data), compiled.score_samples(data))
    np.testing.assert_array_equal(loaded.attributions(data[:20]), compiled.attributions(data[:20]))
    assert (loaded.n_features, loaded.n_trees, loaded.max_samples, loaded.offset) == (
        compiled.n_features,
        compiled.n_trees,
        compiled.max_samples,
        compiled.offset,
    )


def test_to_npz_returns_the_hash_that_from_npz_checks(stored: Any, tmp_path: Path) -> None:
    path, compiled, _ = stored
    digest = compiled.to_npz(tmp_path / "again.npz")
    assert digest == file_sha256(path)
    CompiledForest.from_npz(path, sha256=digest)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelBundleError, match="SHA-256 mismatch"):
        CompiledForest.from_npz(path, sha256=digest)


def test_feature_names_survive_the_round_trip(tmp_path: Path) -> None:
    from sklearn.ensemble import IsolationForest

    data = np.random.default_rng(0).normal(size=(100, 2))
    sk = IsolationForest(n_estimators=3, random_state=0).fit(data)
    compiled = CompiledForest.from_sklearn(sk, feature_names=["snapshots_created", "regions"])
    compiled.to_npz(tmp_path / "f.npz")
    assert CompiledForest.from_npz(tmp_path / "f.npz").feature_names == (
        "snapshots_created",
        "regions",
    )


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name].copy() for name in archive.files}


def _first_internal(a: dict[str, np.ndarray]) -> int:
    return int(np.flatnonzero(a["children_left"] != -1)[1])  # not a root: node 1 of tree 0


def _out_of_range_child(a: dict[str, np.ndarray]) -> None:
    a["children_left"][_first_internal(a)] = int(a["tree_offsets"][1]) + 5


def _cyclic_child(a: dict[str, np.ndarray]) -> None:
    i = _first_internal(a)
    a["children_right"][i] = i  # points at itself


def _backwards_child(a: dict[str, np.ndarray]) -> None:
    a["children_left"][_first_internal(a)] = 0  # back to the root


def _shared_child(a: dict[str, np.ndarray]) -> None:
    i = _first_internal(a)
    a["children_right"][i] = a["children_left"][i]


def _half_leaf(a: dict[str, np.ndarray]) -> None:
    a["children_left"][_first_internal(a)] = -1


def _bad_feature(a: dict[str, np.ndarray]) -> None:
    a["feature"][_first_internal(a)] = int(a["n_features"])


def _negative_feature(a: dict[str, np.ndarray]) -> None:
    a["feature"][0] = -7


def _nan_threshold(a: dict[str, np.ndarray]) -> None:
    a["threshold"][_first_internal(a)] = np.nan


def _inf_threshold(a: dict[str, np.ndarray]) -> None:
    a["threshold"][0] = np.inf


def _wrong_dtype(a: dict[str, np.ndarray]) -> None:
    a["children_left"] = a["children_left"].astype(np.int32)


def _float_children(a: dict[str, np.ndarray]) -> None:
    a["children_right"] = a["children_right"].astype(np.float64)


def _short_array(a: dict[str, np.ndarray]) -> None:
    a["threshold"] = a["threshold"][:-1]


def _2d_array(a: dict[str, np.ndarray]) -> None:
    a["feature"] = a["feature"][:, None]


def _nan_path(a: dict[str, np.ndarray]) -> None:
    leaf = int(np.flatnonzero(a["children_left"] == -1)[0])
    a["path_length"][leaf] = np.nan


def _negative_path(a: dict[str, np.ndarray]) -> None:
    leaf = int(np.flatnonzero(a["children_left"] == -1)[0])
    a["path_length"][leaf] = -1.0


def _shifted_path(a: dict[str, np.ndarray]) -> None:
    leaf = int(np.flatnonzero(a["children_left"] == -1)[0])
    a["path_length"][leaf] += 3.0  # finite, positive, but not depth + c(n)


def _bad_counts(a: dict[str, np.ndarray]) -> None:
    leaf = int(np.flatnonzero(a["children_left"] == -1)[0])
    a["n_node_samples"][leaf] += 1


def _offsets_not_monotone(a: dict[str, np.ndarray]) -> None:
    a["tree_offsets"][2] = a["tree_offsets"][1]


def _offsets_wrong_end(a: dict[str, np.ndarray]) -> None:
    a["tree_offsets"][-1] += 1


def _other_format(a: dict[str, np.ndarray]) -> None:
    a["format_version"] = np.int64(99)


def _missing_array(a: dict[str, np.ndarray]) -> None:
    del a["threshold"]


def _unknown_array(a: dict[str, np.ndarray]) -> None:
    a["payload"] = np.zeros(3)


def _pickled_object(a: dict[str, np.ndarray]) -> None:
    a["children_left"] = np.array([{"__reduce__": "os.system"}, 1], dtype=object)


def _mislabelled_missing(a: dict[str, np.ndarray]) -> None:
    a["missing_go_to_left"][0] = 7


TAMPERS: list[tuple[Callable[[dict[str, np.ndarray]], None], str]] = [
    (_out_of_range_child, "children_left: expected -1 or a node after its parent"),
    (_cyclic_child, "children_right: expected -1 or a node after its parent"),
    (_backwards_child, "children_left: expected -1 or a node after its parent"),
    (_shared_child, "exactly one parent"),
    (_half_leaf, "expected both -1 or neither"),
    (_bad_feature, r"feature: expected an index in \[0, 12\)"),
    (_negative_feature, r"feature: expected an index"),
    (_nan_threshold, "threshold: expected a finite number"),
    (_inf_threshold, "threshold: expected a finite number"),
    (_wrong_dtype, "expected dtype int64, got int32"),
    (_float_children, "expected dtype int64, got float64"),
    (_short_array, r"expected shape \(\d+,\)"),
    (_2d_array, "expected 1 dimension"),
    (_nan_path, "path_length: expected finite and >= 0"),
    (_negative_path, "path_length: expected finite and >= 0"),
    (_shifted_path, r"path_length: expected depth \+ c"),
    (_bad_counts, "n_node_samples: expected the sum"),
    (_offsets_not_monotone, "tree_offsets must increase strictly"),
    (_offsets_wrong_end, "tree_offsets must start at 0 and end"),
    (_other_format, "expected forest format version 1, got 99"),
    (_missing_array, r"missing arrays \['threshold'\]"),
    (_unknown_array, r"unexpected arrays \['payload'\]"),
    (_pickled_object, "unreadable array data"),
    (_mislabelled_missing, "missing_go_to_left: expected 0 or 1"),
]


@pytest.mark.parametrize(
    ("tamper", "message"), TAMPERS, ids=[t.__name__.strip("_") for t, _ in TAMPERS]
)
def test_tampered_file_is_refused_with_a_clear_message(
    stored: Any, tamper: Callable[[dict[str, np.ndarray]], None], message: str
) -> None:
    path, _, _ = stored
    arrays = _arrays(path)
    tamper(arrays)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)  # allow_pickle defaults to True on save: a hostile writer
    with pytest.raises(ModelBundleError, match=message) as caught:
        CompiledForest.from_npz(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ChangewatchError)


def test_in_memory_arrays_are_validated_too(stored: Any) -> None:
    path, _, _ = stored
    arrays = _arrays(path)
    _cyclic_child(arrays)
    with pytest.raises(ModelBundleError, match="after its parent"):
        CompiledForest.from_arrays(arrays)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip at all", pickle.dumps({"a": 1})],
    ids=["empty", "text", "pickle"],
)
def test_a_file_that_is_not_an_npz_archive_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "forest.npz"
    path.write_bytes(content)
    with pytest.raises(ModelBundleError, match=r"not a readable \.npz archive"):
        CompiledForest.from_npz(path)


def test_a_tree_deeper_than_its_sample_size_allows_is_refused(stored: Any) -> None:
    path, _, _ = stored
    arrays = _arrays(path)
    arrays["max_samples"] = np.int64(4)  # trees may then be at most 2 levels deep
    with pytest.raises(ModelBundleError, match="n_node_samples: expected <= 4"):
        CompiledForest.from_arrays(arrays)


def test_stored_arrays_are_read_only(forest: Any) -> None:
    _, compiled, _ = forest
    arrays = compiled.to_arrays()
    arrays["threshold"][:] = 0.0  # a copy: the forest is unaffected
    assert not np.all(compiled.to_arrays()["threshold"] == 0.0)
