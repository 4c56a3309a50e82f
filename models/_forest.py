"""A fitted isolation forest compiled into flat arrays and scored with vectorised numpy.

:class:`CompiledForest` holds two layouts of the same forest:

* the **stored** layout, scikit-learn's own per-tree arrays concatenated
  (``children_left``, ``children_right``, ``feature``, ``threshold``, ``n_node_samples``,
  ``missing_go_to_left``, the per-node path length, ``tree_offsets``). This is what
  :meth:`CompiledForest.to_npz` writes and what :meth:`CompiledForest.from_npz` validates
  node by node before anything else happens;
* the **runtime** layout, derived from the stored one: nodes renumbered breadth first over
  the whole forest so that the right child is always ``left + 1``, leaves pointing to
  themselves with a threshold of ``+inf`` (so every lane can take a fixed number of steps
  without masks), thresholds rounded down to float32 so that the float32 comparison
  ``x > t32`` is exactly scikit-learn's ``not (float(x) <= t64)``.

Scoring walks all (tree, row) lanes one level per step: per step one gather for the
feature, one for the row value, one for the threshold, one compare and one gather for the
next node. Scores equal ``IsolationForest.score_samples`` to rounding (about 1e-16).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from changewatch.errors import ModelBundleError
from models._arrays import ArraySpec, load_arrays, save_arrays

__all__ = ["FORMAT_VERSION", "CompiledForest", "average_path_length"]

logger = logging.getLogger(__name__)

#: Version of the stored layout; bumped whenever an array is added, removed or changes meaning.
FORMAT_VERSION = 1

#: scikit-learn's markers: "no child" (``TREE_LEAF``), "no feature/threshold" (``TREE_UNDEFINED``).
_LEAF = -1
_UNDEFINED = -2

#: Rows per block for batch scoring (lanes are trees x rows; keeps the working set in L2).
_BLOCK_ROWS = 512

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
IntP = npt.NDArray[np.intp]
Bool = npt.NDArray[np.bool_]

_SPECS: dict[str, ArraySpec] = {
    "format_version": ArraySpec(np.int64, 0),
    "n_features": ArraySpec(np.int64, 0),
    "max_samples": ArraySpec(np.int64, 0),
    "offset": ArraySpec(np.float64, 0),
    "tree_offsets": ArraySpec(np.int64, 1),
    "children_left": ArraySpec(np.int64, 1),
    "children_right": ArraySpec(np.int64, 1),
    "feature": ArraySpec(np.int64, 1),
    "threshold": ArraySpec(np.float64, 1),
    "n_node_samples": ArraySpec(np.int64, 1),
    "missing_go_to_left": ArraySpec(np.uint8, 1),
    "path_length": ArraySpec(np.float64, 1),
    "feature_names": ArraySpec(np.str_, 1, required=False),
}
_NODE_ARRAYS = (
    "children_left",
    "children_right",
    "feature",
    "threshold",
    "n_node_samples",
    "missing_go_to_left",
    "path_length",
)


def average_path_length(n_samples: npt.ArrayLike) -> F64:
    """Average path length of an unsuccessful search in a binary search tree of ``n`` items.

    The normaliser ``c(n)`` of the isolation forest paper, computed exactly as
    scikit-learn does: 0 for ``n <= 1``, 1 for ``n == 2``, else
    ``2 (ln(n - 1) + euler_gamma) - 2 (n - 1) / n``.
    """
    n = np.asarray(n_samples, dtype=np.float64)
    out = np.zeros(n.shape, dtype=np.float64)
    big = n > 2
    out[n == 2] = 1.0
    nb = n[big]
    out[big] = 2.0 * (np.log(nb - 1.0) + np.euler_gamma) - 2.0 * (nb - 1.0) / nb
    return out


@dataclass(frozen=True)
class _Runtime:
    """The breadth-first, self-looping layout the scorer walks (derived, never stored)."""

    feature: IntP  # feature of each node (0 at leaves)
    threshold: F32  # largest float32 <= the float64 threshold (+inf at leaves)
    left: IntP  # left child; right child is left + 1; leaves point to themselves
    nan_right: Bool  # NaN goes right at this node (internal and not missing_go_to_left)
    value: F64  # path length of a row ending at this node: depth + c(n_node_samples)
    expected: F64  # expected path length of a training row passing through this node
    roots: IntP
    root_feature: IntP
    root_threshold: F32
    root_left: IntP
    root_nan_right: Bool
    n_steps: int  # levels below the root (max depth over trees)


class CompiledForest:
    """A fitted isolation forest as validated flat arrays, scored without per-call overhead.

    Build one with :meth:`from_sklearn` or :meth:`from_npz`; do not call the constructor
    directly (it takes the stored arrays and validates them).

    Parameters
    ----------
    arrays : mapping of str to ndarray
        The stored layout (see the module docstring); validated here.
    source : str, default="<memory>"
        Where the arrays came from, for error messages.

    Attributes
    ----------
    n_features : int
        Number of columns a row must have.
    n_trees : int
        Number of trees.
    max_samples : int
        Sub-sample size each tree was grown on (scikit-learn's ``max_samples_``).
    offset : float
        scikit-learn's ``offset_``: ``decision_function = score_samples - offset``.
    feature_names : tuple of str or None
        Column names the forest was fitted with, when known.
    max_depth : int
        Depth of the deepest tree.
    """

    def __init__(self, arrays: Mapping[str, npt.NDArray[Any]], *, source: str = "<memory>") -> None:
        self._arrays = _validate(dict(arrays), source)
        a = self._arrays
        self.n_features = int(a["n_features"])
        self.max_samples = int(a["max_samples"])
        self.offset = float(a["offset"])
        self.n_trees = len(a["tree_offsets"]) - 1
        names = a.get("feature_names")
        self.feature_names = None if names is None else tuple(str(n) for n in names)
        self._rt = _compile(a)
        self.max_depth = self._rt.n_steps
        self._denominator = float(self.n_trees * average_path_length([self.max_samples])[0])
        self._scaled_feature: dict[int, IntP] = {}

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_sklearn(
        cls, forest: Any, *, feature_names: list[str] | tuple[str, ...] | None = None
    ) -> CompiledForest:
        """Compile a fitted ``sklearn.ensemble.IsolationForest``.

        Parameters
        ----------
        forest : IsolationForest
            A fitted forest (any ``max_samples``, ``max_features``, ``bootstrap``,
            ``contamination``).
        feature_names : sequence of str, optional
            Column names; defaults to the forest's ``feature_names_in_`` when it has one.

        Returns
        -------
        CompiledForest
        """
        estimators = getattr(forest, "estimators_", None)
        if estimators is None:
            raise ValueError("expected a fitted IsolationForest, got one without estimators_")
        n_features = int(forest.n_features_in_)
        lefts, rights, feats, thrs, counts, missing, offsets = [], [], [], [], [], [], [0]
        for tree_est, features in zip(estimators, forest.estimators_features_, strict=True):
            tree = tree_est.tree_
            feature = np.asarray(tree.feature, dtype=np.int64).copy()
            internal = feature >= 0
            # scikit-learn indexes X[:, features] only when the subset is smaller than X.
            if len(features) != n_features:
                feature[internal] = np.asarray(features, dtype=np.int64)[feature[internal]]
            lefts.append(np.asarray(tree.children_left, dtype=np.int64))
            rights.append(np.asarray(tree.children_right, dtype=np.int64))
            feats.append(feature)
            thrs.append(np.asarray(tree.threshold, dtype=np.float64))
            counts.append(np.asarray(tree.n_node_samples, dtype=np.int64))
            missing.append(np.asarray(tree.missing_go_to_left, dtype=np.uint8))
            offsets.append(offsets[-1] + int(tree.node_count))
        left = np.concatenate(lefts)
        right = np.concatenate(rights)
        tree_offsets = np.asarray(offsets, dtype=np.int64)
        n_node_samples = np.concatenate(counts)
        depth = _depths(left, right, tree_offsets, limit=64, source="<sklearn>")
        arrays: dict[str, npt.NDArray[Any]] = {
            "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
            "n_features": np.asarray(n_features, dtype=np.int64),
            "max_samples": np.asarray(forest.max_samples_, dtype=np.int64),
            "offset": np.asarray(forest.offset_, dtype=np.float64),
            "tree_offsets": tree_offsets,
            "children_left": left,
            "children_right": right,
            "feature": np.concatenate(feats),
            "threshold": np.concatenate(thrs),
            "n_node_samples": n_node_samples,
            "missing_go_to_left": np.concatenate(missing),
            "path_length": depth + average_path_length(n_node_samples),
        }
        names = feature_names
        if names is None and hasattr(forest, "feature_names_in_"):
            names = [str(n) for n in forest.feature_names_in_]
        if names is not None:
            arrays["feature_names"] = np.asarray(list(names), dtype=np.str_)
        return cls(arrays, source="<sklearn>")

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, npt.NDArray[Any]], *, source: str = "<memory>"
    ) -> CompiledForest:
        """Build from the stored layout (as returned by :meth:`to_arrays`), validating it."""
        return cls(arrays, source=source)

    @classmethod
    def from_npz(cls, path: str | os.PathLike[str], *, sha256: str | None = None) -> CompiledForest:
        """Load a forest written by :meth:`to_npz`, refusing anything tampered or corrupt.

        Parameters
        ----------
        path : path-like
            The ``.npz`` file.
        sha256 : str, optional
            Expected SHA-256 of the file, checked before it is parsed.

        Raises
        ------
        ModelBundleError
            On a hash mismatch, a pickled or unknown array, a wrong dtype or shape, or any
            node whose child, feature, threshold, count or path length is out of bounds.
        """
        arrays = load_arrays(path, _SPECS, sha256=sha256)
        return cls(arrays, source=str(path))

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Return the stored layout (copies), for embedding in a larger bundle."""
        return {name: np.array(value, copy=True) for name, value in self._arrays.items()}

    def to_npz(self, path: str | os.PathLike[str]) -> str:
        """Write the stored layout to ``path`` (``np.savez``) and return the file's SHA-256."""
        return save_arrays(path, self._arrays)

    # ------------------------------------------------------------------ scoring

    def path_length_sums(self, X: npt.ArrayLike) -> F64:  # noqa: N803 (sklearn naming)
        """Sum over trees of each row's path length (depth plus ``c`` of the leaf's size).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_features,)
            Rows to score; cast to float32 as scikit-learn does. A 1-D input is one row.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        x32 = self._check_rows(X)
        n = x32.shape[0]
        has_nan = bool(np.isnan(x32).any())
        if n == 1:
            return np.asarray([self._row_sum(x32[0], has_nan)], dtype=np.float64)
        out = np.empty(n, dtype=np.float64)
        for start in range(0, n, _BLOCK_ROWS):
            block = np.ascontiguousarray(x32[start : start + _BLOCK_ROWS].T)
            nodes = self._walk_block(block, has_nan)
            out[start : start + block.shape[1]] = self._rt.value.take(nodes, mode="wrap").sum(
                axis=0
            )
        return out

    def anomaly_score(self, X: npt.ArrayLike) -> F64:  # noqa: N803 (sklearn naming)
        """Isolation-forest anomaly score in (0, 1]: higher is more anomalous.

        ``2 ** (-mean path length / c(max_samples))``, the negation of
        :meth:`score_samples`.
        """
        sums = self.path_length_sums(X)
        if self._denominator == 0.0:  # a forest of one-sample trees: scikit-learn returns 0.5
            return np.full(sums.shape, 0.5)
        return np.exp2(-sums / self._denominator)

    def score_samples(self, X: npt.ArrayLike) -> F64:  # noqa: N803 (sklearn naming)
        """Equal to ``IsolationForest.score_samples`` (lower is more abnormal)."""
        return -self.anomaly_score(X)

    def decision_function(self, X: npt.ArrayLike) -> F64:  # noqa: N803 (sklearn naming)
        """Equal to ``IsolationForest.decision_function``: ``score_samples - offset``."""
        return self.score_samples(X) - self.offset

    def attributions(self, X: npt.ArrayLike) -> F64:  # noqa: N803 (sklearn naming)
        """Per-feature share of each row's shortened path (path-length decomposition).

        For every tree, each split on the row's path moves the expected path length of a
        training row from the parent's to the child's; the split's feature is credited
        with that drop. Averaged over trees, a row's credits sum exactly to
        ``expected_path_length - mean path length of the row``: positive credit means the
        feature made the row easier to isolate (more anomalous). See ADR 0010.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_features,)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            Path-length units (levels), averaged over trees.
        """
        x32 = self._check_rows(X)
        n = x32.shape[0]
        has_nan = bool(np.isnan(x32).any())
        out = np.empty((n, self.n_features), dtype=np.float64)
        for start in range(0, n, _BLOCK_ROWS):
            block = np.ascontiguousarray(x32[start : start + _BLOCK_ROWS].T)
            out[start : start + block.shape[1]] = self._attribute_block(block, has_nan)
        return out

    @property
    def expected_path_length(self) -> float:
        """Mean over trees of the expected path length of a training row (the root's)."""
        return float(self._rt.expected.take(self._rt.roots).mean())

    # ------------------------------------------------------------------ internals

    def _check_rows(self, X: npt.ArrayLike) -> F32:  # noqa: N803
        with np.errstate(over="ignore"):  # values beyond float32 become +-inf, as in sklearn
            arr = np.asarray(X, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (n_samples, {self.n_features}), got {np.shape(X)}")
        return arr

    def _scaled(self, b: int) -> IntP:
        """Node feature times ``b``: the column offset of a node's feature in a (F, b) block."""
        scaled = self._scaled_feature.get(b)
        if scaled is None:
            if len(self._scaled_feature) > 8:
                self._scaled_feature.clear()
            scaled = self._rt.feature * b
            self._scaled_feature[b] = scaled
        return scaled

    def _row_sum(self, x: F32, has_nan: bool) -> float:
        """Sum of path lengths of one row: T lanes, one numpy call per gather."""
        rt = self._rt
        xv = x.take(rt.root_feature)
        go = xv > rt.root_threshold
        if has_nan:
            go |= np.isnan(xv) & rt.root_nan_right
        node = rt.root_left + go
        for _ in range(rt.n_steps - 1):
            xv = x.take(rt.feature.take(node, mode="wrap"))
            go = xv > rt.threshold.take(node, mode="wrap")
            if has_nan:
                go |= np.isnan(xv) & rt.nan_right.take(node, mode="wrap")
            node = rt.left.take(node, mode="wrap")
            node += go
        return float(rt.value.take(node, mode="wrap").sum())

    def _root_step(self, block: F32, has_nan: bool) -> IntP:
        rt = self._rt
        xv = block[rt.root_feature]  # (T, b): whole rows of the column-major block
        go = xv > rt.root_threshold[:, None]
        if has_nan:
            go |= np.isnan(xv) & rt.root_nan_right[:, None]
        node: IntP = rt.root_left[:, None] + go
        return node

    def _step(self, node: IntP, flat: F32, scaled: IntP, lane: IntP, has_nan: bool) -> IntP:
        rt = self._rt
        idx = scaled.take(node, mode="wrap")
        idx += lane
        xv = flat.take(idx, mode="wrap")
        go = xv > rt.threshold.take(node, mode="wrap")
        if has_nan:
            go |= np.isnan(xv) & rt.nan_right.take(node, mode="wrap")
        nxt = rt.left.take(node, mode="wrap")
        nxt += go
        return nxt

    def _walk_block(self, block: F32, has_nan: bool) -> IntP:
        """Leaf of every (tree, row) lane for a column-major block of shape (F, b)."""
        b = block.shape[1]
        flat = block.ravel()
        scaled = self._scaled(b)
        lane = np.arange(b, dtype=np.intp)
        node = self._root_step(block, has_nan)
        for _ in range(self._rt.n_steps - 1):
            node = self._step(node, flat, scaled, lane, has_nan)
        return node

    def _attribute_block(self, block: F32, has_nan: bool) -> F64:
        rt = self._rt
        n_features, b = block.shape
        flat = block.ravel()
        scaled = self._scaled(b)
        lane = np.arange(b, dtype=np.intp)
        credit = np.zeros(n_features * b, dtype=np.float64)
        prev = np.broadcast_to(rt.roots[:, None], (self.n_trees, b))
        node = self._root_step(block, has_nan)
        for step in range(self._rt.n_steps):
            if step:
                prev, node = node, self._step(node, flat, scaled, lane, has_nan)
            drop = rt.expected.take(prev, mode="wrap") - rt.expected.take(node, mode="wrap")
            where = scaled.take(prev, mode="wrap") + lane
            credit += np.bincount(where.ravel(), weights=drop.ravel(), minlength=credit.size)
        result: F64 = credit.reshape(n_features, b).T / self.n_trees
        return result


# ---------------------------------------------------------------------- validation


def _validate(arrays: dict[str, npt.NDArray[Any]], source: str) -> dict[str, npt.NDArray[Any]]:
    """Check the stored layout completely; return it with read-only arrays."""
    for name, spec in _SPECS.items():
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
    unknown = sorted(set(arrays) - set(_SPECS))
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
    for name in _NODE_ARRAYS:
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
    leaf = left == _LEAF

    def fail(mask: Bool, what: str, values: npt.NDArray[Any]) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise ModelBundleError(
                source,
                f"tree {int(tree[i])}, node {int(local[i])}: {what}, "
                f"got {values[i].item()!r} ({int(mask.sum())} node(s) wrong)",
            )

    fail(leaf != (right == _LEAF), "children_left/right: expected both -1 or neither", right)
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
    fail(leaf & (feature != _UNDEFINED), f"feature: expected {_UNDEFINED} at a leaf", feature)
    fail(~leaf & ~np.isfinite(threshold), "threshold: expected a finite number", threshold)
    fail(
        leaf & (threshold != float(_UNDEFINED)),
        f"threshold: expected {float(_UNDEFINED)} at a leaf",
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
    depth = _depths(left, right, offsets, limit=limit, source=source)
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


def _depths(left: I64, right: I64, offsets: I64, *, limit: int, source: str) -> F64:
    """Depth of every node (root 0) from the stored layout; refuse trees deeper than ``limit``.

    Assumes children are inside their tree; visits level by level from the roots.
    """
    n_nodes = len(left)
    depth = np.full(n_nodes, -1.0)
    frontier = offsets[:-1].copy()
    level = 0
    while frontier.size:
        if level > limit:
            raise ModelBundleError(
                source, f"trees must be at most {limit} levels deep, found deeper nodes"
            )
        depth[frontier] = level
        base = offsets[np.searchsorted(offsets, frontier, side="right") - 1]
        inner = left[frontier] != _LEAF
        frontier = np.concatenate(
            [left[frontier[inner]] + base[inner], right[frontier[inner]] + base[inner]]
        )
        level += 1
    return depth


def _float32_floor(threshold: F64) -> F32:
    """Largest float32 not above each threshold, so ``x32 > floor`` iff ``x32 > threshold``."""
    with np.errstate(over="ignore"):
        t32 = threshold.astype(np.float32)
    above = t32.astype(np.float64) > threshold
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32


def _compile(a: Mapping[str, npt.NDArray[Any]]) -> _Runtime:
    """Derive the breadth-first, self-looping runtime layout from validated stored arrays."""
    offsets = a["tree_offsets"]
    left_local, right_local = a["children_left"], a["children_right"]
    n_nodes = len(left_local)
    tree = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    base = offsets[tree]
    is_leaf = left_local == _LEAF
    left_g = np.where(is_leaf, -1, left_local + base)
    right_g = np.where(is_leaf, -1, right_local + base)

    # Breadth first over the whole forest; the two children of a node are placed together.
    levels = []
    frontier = offsets[:-1].astype(np.intp)
    while frontier.size:
        levels.append(frontier)
        inner = frontier[~is_leaf[frontier]]
        frontier = np.stack([left_g[inner], right_g[inner]], axis=1).ravel()
    order = np.concatenate(levels)
    new = np.empty(n_nodes, dtype=np.intp)
    new[order] = np.arange(n_nodes, dtype=np.intp)

    leaf = is_leaf[order]
    own = np.arange(n_nodes, dtype=np.intp)
    left = np.where(leaf, own, new[np.where(leaf, 0, left_g[order])])
    feature = np.where(leaf, 0, a["feature"][order]).astype(np.intp)
    threshold = _float32_floor(np.where(leaf, np.inf, a["threshold"][order]))
    nan_right = ~leaf & (a["missing_go_to_left"][order] == 0)
    value = a["path_length"][order].astype(np.float64)
    counts = a["n_node_samples"][order].astype(np.float64)

    # Expected path length of a training row at each node, bottom-up (children come later).
    expected = value.copy()
    for nodes in reversed(levels):
        idx = new[nodes]
        idx = idx[~leaf[idx]]
        lc, rc = left[idx], left[idx] + 1
        expected[idx] = (counts[lc] * expected[lc] + counts[rc] * expected[rc]) / (
            counts[lc] + counts[rc]
        )

    roots = new[offsets[:-1]]
    for arr in (feature, threshold, left, nan_right, value, expected, roots):
        arr.setflags(write=False)
    logger.debug("compiled forest: %d trees, %d nodes, %d levels", len(roots), n_nodes, len(levels))
    return _Runtime(
        feature=feature,
        threshold=threshold,
        left=left,
        nan_right=nan_right,
        value=value,
        expected=expected,
        roots=roots,
        root_feature=feature[roots],
        root_threshold=threshold[roots],
        root_left=left[roots],
        root_nan_right=nan_right[roots],
        n_steps=len(levels) - 1,
    )
