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
    """Check the stored layout completely; return it with read-only arrays.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
        The stored arrays, by name (copied: the caller's arrays are not changed).
    source : str
        Where the arrays were read from, named in every error.

    Returns
    -------
    dict of str to numpy.ndarray
        The arrays, each a read-only copy.

    Raises
    ------
    ModelBundleError
        On the first array, header value or node that breaks the layout, naming it.
    """
    _check_arrays(arrays, source)
    n_features, max_samples = _check_header(arrays, source)
    offsets = _check_tree_offsets(arrays, source)
    nodes = _Nodes(arrays, offsets, source)
    nodes.check_children()
    nodes.check_splits(n_features)
    nodes.check_counts(max_samples)
    nodes.check_path_lengths(max_samples)
    for arr in arrays.values():
        arr.setflags(write=False)
    return arrays


def _check_arrays(arrays: dict[str, npt.NDArray[Any]], source: str) -> None:
    """Copy each known array in place after checking its dtype and dimensions."""
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


def _check_header(arrays: dict[str, npt.NDArray[Any]], source: str) -> tuple[int, int]:
    """Check the forest's scalars and feature names; return ``n_features`` and ``max_samples``."""
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
    return n_features, max_samples


def _check_tree_offsets(arrays: dict[str, npt.NDArray[Any]], source: str) -> npt.NDArray[Any]:
    """Check that the node arrays have one length and the trees split it; return the offsets."""
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
    return offsets


class _Nodes:
    """The checks of every node at once, each failing on the first node that breaks it."""

    def __init__(
        self, arrays: dict[str, npt.NDArray[Any]], offsets: npt.NDArray[Any], source: str
    ) -> None:
        self.arrays = arrays
        self.source = source
        sizes = np.diff(offsets)
        n_nodes = len(arrays["children_left"])
        self.tree = np.repeat(np.arange(len(sizes)), sizes)
        self.first = offsets[self.tree]
        self.local = np.arange(n_nodes, dtype=np.int64) - self.first
        self.size = sizes[self.tree]
        self.offsets = offsets
        self.left, self.right = arrays["children_left"], arrays["children_right"]
        self.leaf = self.left == LEAF
        self.root = self.local == 0

    def fail(self, mask: Bool, what: str, values: npt.NDArray[Any]) -> None:
        """Raise, naming the first node where ``mask`` holds and its value, if any does."""
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise ModelBundleError(
                self.source,
                f"tree {int(self.tree[i])}, node {int(self.local[i])}: {what}, "
                f"got {values[i].item()!r} ({int(mask.sum())} node(s) wrong)",
            )

    def check_children(self) -> None:
        """Children after their parent, inside the tree; every node but a root has one parent.

        Together these make each tree a tree (finite, acyclic, every node reachable from
        its root).
        """
        left, right, leaf = self.left, self.right, self.leaf
        self.fail(
            leaf != (right == LEAF), "children_left/right: expected both -1 or neither", right
        )
        for name, child in (("children_left", left), ("children_right", right)):
            self.fail(
                ~leaf & ((child <= self.local) | (child >= self.size)),
                f"{name}: expected -1 or a node after its parent and inside the tree",
                child,
            )
        parents = np.bincount(
            np.concatenate([left[~leaf], right[~leaf]]) + np.tile(self.first[~leaf], 2),
            minlength=len(left),
        )
        self.fail(~self.root & (parents != 1), "expected exactly one parent", parents)

    def check_splits(self, n_features: int) -> None:
        """Split features and thresholds at inner nodes, the undefined markers at leaves."""
        leaf = self.leaf
        feature, threshold = self.arrays["feature"], self.arrays["threshold"]
        self.fail(
            ~leaf & ((feature < 0) | (feature >= n_features)),
            f"feature: expected an index in [0, {n_features})",
            feature,
        )
        self.fail(
            leaf & (feature != UNDEFINED), f"feature: expected {UNDEFINED} at a leaf", feature
        )
        self.fail(~leaf & ~np.isfinite(threshold), "threshold: expected a finite number", threshold)
        self.fail(
            leaf & (threshold != float(UNDEFINED)),
            f"threshold: expected {float(UNDEFINED)} at a leaf",
            threshold,
        )
        missing = self.arrays["missing_go_to_left"]
        self.fail(missing > 1, "missing_go_to_left: expected 0 or 1", missing)

    def check_counts(self, max_samples: int) -> None:
        """Sample counts: positive, at most ``max_samples`` at a root, the children's sum."""
        counts = self.arrays["n_node_samples"]
        self.fail(counts < 1, "n_node_samples: expected >= 1", counts)
        self.fail(
            self.root & (counts > max_samples), f"n_node_samples: expected <= {max_samples}", counts
        )
        child_sum = np.zeros(len(counts), dtype=np.int64)
        internal = np.flatnonzero(~self.leaf)
        first = self.first[internal]
        child_sum[internal] = (
            counts[self.left[internal] + first] + counts[self.right[internal] + first]
        )
        self.fail(
            ~self.leaf & (child_sum != counts),
            "n_node_samples: expected the sum of the children's counts",
            counts,
        )

    def check_path_lengths(self, max_samples: int) -> None:
        """Each node's path length: its depth (bounded by the sample size) plus c(count)."""
        limit = max(1, math.ceil(math.log2(max(max_samples, 2))))
        depth = depths(self.left, self.right, self.offsets, limit=limit, source=self.source)
        path = self.arrays["path_length"]
        self.fail(~np.isfinite(path) | (path < 0), "path_length: expected finite and >= 0", path)
        recomputed = depth + average_path_length(self.arrays["n_node_samples"])
        self.fail(
            np.abs(path - recomputed) > 1e-9,
            "path_length: expected depth + c(n_node_samples)",
            path,
        )
