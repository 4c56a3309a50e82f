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

The stored layout and the path-length maths are in :mod:`._forest_layout`, compiling
from scikit-learn in :mod:`._forest_compile`, the load-time validation in
:mod:`._forest_validate` and the runtime layout in :mod:`._forest_runtime`.

Scoring walks all (tree, row) lanes one level per step: per step one gather for the
feature, one for the row value, one for the threshold, one compare and one gather for the
next node. Scores equal ``IsolationForest.score_samples`` to rounding (about 1e-16).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from models._arrays import load_arrays, save_arrays
from models._forest_compile import stored_layout
from models._forest_layout import F32, F64, FORMAT_VERSION, SPECS, IntP, average_path_length
from models._forest_runtime import compile_runtime
from models._forest_validate import validate

__all__ = ["FORMAT_VERSION", "CompiledForest", "average_path_length"]

#: Rows per block for batch scoring (lanes are trees x rows; keeps the working set in L2).
_BLOCK_ROWS = 512


def _tree_sums(lengths: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Sum a (trees, rows) block over trees, tree after tree, for any number of rows.

    ``sum(axis=0)`` adds a block of several rows tree after tree but a single row pairwise,
    so one window scored alone would differ in its last bits from the same window scored
    with others; a running sum has one order whatever the block (the service scores one
    window where a batch scores many, ADR 0032).
    """
    sums: npt.NDArray[np.float64] = np.cumsum(lengths, axis=0)[-1]
    return sums


#: Threads for large batches (blocks are independent); small batches stay on one thread.
_THREADS = max(1, min(4, os.cpu_count() or 1))
_BLOCKS_PER_THREAD = 8


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
        self._arrays = validate(dict(arrays), source)
        a = self._arrays
        self.n_features = int(a["n_features"])
        self.max_samples = int(a["max_samples"])
        self.offset = float(a["offset"])
        self.n_trees = len(a["tree_offsets"]) - 1
        names = a.get("feature_names")
        self.feature_names = None if names is None else tuple(str(n) for n in names)
        self._rt = compile_runtime(a)
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
        return cls(stored_layout(forest, feature_names), source="<sklearn>")

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
        arrays = load_arrays(path, SPECS, sha256=sha256)
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

        def score_block(start: int) -> None:
            block = np.ascontiguousarray(x32[start : start + _BLOCK_ROWS].T)
            nodes = self._walk_block(block, has_nan)
            lengths = self._rt.value.take(nodes, mode="wrap")
            out[start : start + block.shape[1]] = _tree_sums(lengths)

        starts = range(0, n, _BLOCK_ROWS)
        threads = min(_THREADS, len(starts) // _BLOCKS_PER_THREAD)
        if threads > 1:
            # numpy releases the GIL inside each gather and compare, so blocks scored on
            # several threads run in parallel; every block writes its own slice of `out`.
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(score_block, starts))
        else:
            for start in starts:
                score_block(start)
        return out

    def anomaly_score(self, X: npt.ArrayLike) -> F64:  # noqa: N803 (sklearn naming)
        """Isolation-forest anomaly score in (0, 1]: higher is more anomalous.

        ``2 ** (-mean path length / c(max_samples))``, the negation of
        :meth:`score_samples`.
        """
        return self._anomaly(self.path_length_sums(X))

    def _anomaly(self, sums: F64) -> F64:
        """Anomaly scores from the sums over trees of each row's path length."""
        if self._denominator == 0.0:  # a forest of one-sample trees: scikit-learn returns 0.5
            return np.full(sums.shape, 0.5)
        out: F64 = np.exp2(-sums / self._denominator)
        return out

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
        return self._explained(X)[1]

    def scores_and_attributions(self, X: npt.ArrayLike) -> tuple[F64, F64]:  # noqa: N803
        """:meth:`anomaly_score` and :meth:`attributions` of the rows from one walk of the trees.

        Equal bit for bit to calling the two (the same leaves, summed over trees in the
        same order), at about the cost of :meth:`attributions` alone: a caller that needs
        both, as every explained score does, walks the forest once.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_features,)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        attributions : ndarray of shape (n_samples, n_features)
        """
        sums, credit = self._explained(X)
        return self._anomaly(sums), credit

    def _explained(self, X: npt.ArrayLike) -> tuple[F64, F64]:  # noqa: N803
        """Path-length sums and attributions of every row, block by block."""
        x32 = self._check_rows(X)
        n = x32.shape[0]
        has_nan = bool(np.isnan(x32).any())
        sums = np.empty(n, dtype=np.float64)
        out = np.empty((n, self.n_features), dtype=np.float64)
        for start in range(0, n, _BLOCK_ROWS):
            block = np.ascontiguousarray(x32[start : start + _BLOCK_ROWS].T)
            credit, node = self._attribute_block(block, has_nan)
            out[start : start + block.shape[1]] = credit
            sums[start : start + block.shape[1]] = _tree_sums(
                self._rt.value.take(node, mode="wrap")
            )
        return sums, out

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
        return float(_tree_sums(rt.value.take(node, mode="wrap")[:, None])[0])

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

    def _attribute_block(self, block: F32, has_nan: bool) -> tuple[F64, IntP]:
        """Attributions of a column-major block of shape (F, b), and the leaf of every lane."""
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
        return result, node
