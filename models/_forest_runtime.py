"""The runtime layout a compiled forest is scored with, derived from the stored layout.

Nodes are renumbered breadth first over the whole forest so that the right child is
always ``left + 1``; leaves point to themselves with a threshold of ``+inf`` (so every
lane can take a fixed number of steps without masks); thresholds are rounded down to
float32 so that the float32 comparison ``x > t32`` is exactly scikit-learn's
``not (float(x) <= t64)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from models._forest_layout import F32, F64, LEAF, Bool, IntP

__all__ = ["Runtime", "compile_runtime"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
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


def _float32_floor(threshold: F64) -> F32:
    """Largest float32 not above each threshold, so ``x32 > floor`` iff ``x32 > threshold``."""
    with np.errstate(over="ignore"):
        t32 = threshold.astype(np.float32)
    above = t32.astype(np.float64) > threshold
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32


def compile_runtime(a: Mapping[str, npt.NDArray[Any]]) -> Runtime:
    """Derive the breadth-first, self-looping runtime layout from validated stored arrays."""
    offsets = a["tree_offsets"]
    left_local, right_local = a["children_left"], a["children_right"]
    n_nodes = len(left_local)
    tree = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    base = offsets[tree]
    is_leaf = left_local == LEAF
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
    return Runtime(
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
