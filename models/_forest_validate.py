"""Load-time validation of a forest's stored layout: every array, every node, before use."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from features import ModelBundleError
from models._forest_layout import (
    FORMAT_VERSION,
    LEAF,
    NODE_ARRAYS,
    SPECS,
    UNDEFINED,
    Bool,
    average_path_length,
    depths,
)

__all__ = ["validate"]


def validate(arrays: dict[str, npt.NDArray[Any]], source: str) -> dict[str, npt.NDArray[Any]]:
    """Check the stored layout completely; return it with read-only arrays."""
    for name, spec in SPECS.items():
        if name not in arrays:
            if spec.required:
                raise ModelBundleError(source, f"missing array {name!r}")
            continue
        arr = np.array(arrays[name], copy=True)
        expected = np.dtype(spec.dtype)
        ok = arr.dtype.kind == "U" if expected.kind == "U" else arr.dtype == expected
        if not ok or arr.ndim != spec.ndim:
            raise ModelBundleError(
                source,
                f"array {name!r}: expected {expected} with {spec.ndim} dimension(s), "
                f"got {arr.dtype} with shape {arr.shape}",
            )
        arrays[name] = arr
    unknown = sorted(set(arrays) - set(SPECS))
    if unknown:
        raise ModelBundleError(source, f"unexpected arrays {unknown}")

    version = int(arrays["format_version"])
    if version != FORMAT_VERSION:
        raise ModelBundleError(
            source, f"expected forest format version {FORMAT_VERSION}, got {version}"
        )
    n_features = int(arrays["n_features"])
    if n_features < 1:
        raise ModelBundleError(source, f"n_features must be >= 1, got {n_features}")
    max_samples = int(arrays["max_samples"])
    if max_samples < 1:
        raise ModelBundleError(source, f"max_samples must be >= 1, got {max_samples}")
    if not math.isfinite(float(arrays["offset"])):
        raise ModelBundleError(source, f"offset must be finite, got {float(arrays['offset'])}")
    names = arrays.get("feature_names")
    if names is not None and names.shape != (n_features,):
        raise ModelBundleError(
            source, f"feature_names: expected {n_features} names, got shape {names.shape}"
        )

    offsets = arrays["tree_offsets"]
    n_nodes = len(arrays["children_left"])
    for name in NODE_ARRAYS:
        if arrays[name].shape != (n_nodes,):
            raise ModelBundleError(
                source,
                f"array {name!r}: expected shape ({n_nodes},) like children_left, "
                f"got {arrays[name].shape}",
            )
    if len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != n_nodes:
        raise ModelBundleError(
            source,
            f"tree_offsets must start at 0 and end at the node count {n_nodes}, "
            f"got {len(offsets)} offsets from {offsets[:1].tolist()} to {offsets[-1:].tolist()}",
        )
    sizes = np.diff(offsets)
    if (sizes < 1).any():
        bad = int(np.flatnonzero(sizes < 1)[0])
        raise ModelBundleError(
            source, f"tree_offsets must increase strictly; tree {bad} has {int(sizes[bad])} nodes"
        )

    tree = np.repeat(np.arange(len(sizes)), sizes)
    local = np.arange(n_nodes, dtype=np.int64) - offsets[tree]
    size = sizes[tree]
    left, right = arrays["children_left"], arrays["children_right"]
    leaf = left == LEAF

    def fail(mask: Bool, what: str, values: npt.NDArray[Any]) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise ModelBundleError(
                source,
                f"tree {int(tree[i])}, node {int(local[i])}: {what}, "
                f"got {values[i].item()!r} ({int(mask.sum())} node(s) wrong)",
            )

    fail(leaf != (right == LEAF), "children_left/right: expected both -1 or neither", right)
    for name, child in (("children_left", left), ("children_right", right)):
        fail(
            ~leaf & ((child <= local) | (child >= size)),
            f"{name}: expected -1 or a node after its parent and inside the tree",
            child,
        )
    # Every node but the root has exactly one parent: together with "child after parent"
    # this makes each tree a tree (finite, acyclic, every node reachable from its root).
    parents = np.bincount(
        np.concatenate([left[~leaf], right[~leaf]]) + np.tile(offsets[tree][~leaf], 2),
        minlength=n_nodes,
    )
    root = local == 0
    fail(~root & (parents != 1), "expected exactly one parent", parents)

    feature, threshold = arrays["feature"], arrays["threshold"]
    fail(
        ~leaf & ((feature < 0) | (feature >= n_features)),
        f"feature: expected an index in [0, {n_features})",
        feature,
    )
    fail(leaf & (feature != UNDEFINED), f"feature: expected {UNDEFINED} at a leaf", feature)
    fail(~leaf & ~np.isfinite(threshold), "threshold: expected a finite number", threshold)
    fail(
        leaf & (threshold != float(UNDEFINED)),
        f"threshold: expected {float(UNDEFINED)} at a leaf",
        threshold,
    )
    missing = arrays["missing_go_to_left"]
    fail(missing > 1, "missing_go_to_left: expected 0 or 1", missing)

    counts = arrays["n_node_samples"]
    fail(counts < 1, "n_node_samples: expected >= 1", counts)
    fail(root & (counts > max_samples), f"n_node_samples: expected <= {max_samples}", counts)
    child_sum = np.zeros(n_nodes, dtype=np.int64)
    internal = np.flatnonzero(~leaf)
    child_sum[internal] = (
        counts[left[internal] + offsets[tree][internal]]
        + counts[right[internal] + offsets[tree][internal]]
    )
    fail(
        ~leaf & (child_sum != counts),
        "n_node_samples: expected the sum of the children's counts",
        counts,
    )

    limit = max(1, math.ceil(math.log2(max(max_samples, 2))))
    depth = depths(left, right, offsets, limit=limit, source=source)
    path = arrays["path_length"]
    fail(~np.isfinite(path) | (path < 0), "path_length: expected finite and >= 0", path)
    recomputed = depth + average_path_length(counts)
    fail(
        np.abs(path - recomputed) > 1e-9,
        "path_length: expected depth + c(n_node_samples)",
        path,
    )
    for arr in arrays.values():
        arr.setflags(write=False)
    return arrays
