"""The stored layout of a compiled forest: its arrays, their specs, and the path-length maths.

The stored layout is scikit-learn's own per-tree arrays concatenated (``children_left``,
``children_right``, ``feature``, ``threshold``, ``n_node_samples``, ``missing_go_to_left``,
the per-node path length, ``tree_offsets``); see :mod:`models._forest`.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from features import ModelBundleError
from models._arrays import ArraySpec

__all__ = [
    "F32",
    "F64",
    "FORMAT_VERSION",
    "I64",
    "LEAF",
    "NODE_ARRAYS",
    "SPECS",
    "UNDEFINED",
    "Bool",
    "IntP",
    "average_path_length",
    "depths",
]

#: Version of the stored layout; bumped whenever an array is added, removed or changes meaning.
FORMAT_VERSION = 1

#: scikit-learn's markers: "no child" (``TREE_LEAF``), "no feature/threshold" (``TREE_UNDEFINED``).
LEAF: Final = -1
UNDEFINED: Final = -2

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
IntP = npt.NDArray[np.intp]
Bool = npt.NDArray[np.bool_]

SPECS: Final[dict[str, ArraySpec]] = {
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
"""Every stored array: dtype, dimensions, whether it is required."""

NODE_ARRAYS: Final = (
    "children_left",
    "children_right",
    "feature",
    "threshold",
    "n_node_samples",
    "missing_go_to_left",
    "path_length",
)
"""The per-node arrays, all as long as ``children_left``."""


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


def depths(left: I64, right: I64, offsets: I64, *, limit: int, source: str) -> F64:
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
        inner = left[frontier] != LEAF
        frontier = np.concatenate(
            [left[frontier[inner]] + base[inner], right[frontier[inner]] + base[inner]]
        )
        level += 1
    return depth
