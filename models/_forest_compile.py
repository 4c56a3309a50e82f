"""Compiling a fitted scikit-learn ``IsolationForest`` into the stored layout."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from models._forest_layout import FORMAT_VERSION, average_path_length, depths

__all__ = ["stored_layout"]


def stored_layout(
    forest: Any, feature_names: list[str] | tuple[str, ...] | None = None
) -> dict[str, npt.NDArray[Any]]:
    """Return the unvalidated stored layout of a fitted ``sklearn.ensemble.IsolationForest``.

    See :meth:`models.CompiledForest.from_sklearn`, which validates what this returns;
    ``feature_names`` default to the forest's ``feature_names_in_`` when it has one.
    Raises ``ValueError`` when ``forest`` is not fitted.
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
    depth = depths(left, right, tree_offsets, limit=64, source="<sklearn>")
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
    return arrays
