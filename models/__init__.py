"""Scoring core of changewatch: compiled isolation forest, percentiles and explanations.

- :class:`CompiledForest`: a fitted ``IsolationForest`` as validated flat arrays, scored
  vectorised (equal to scikit-learn's ``score_samples``), stored as ``.npz`` without pickle.
- :class:`PercentileScale`: anomaly scores as 0-100 percentiles of the training scores.
- :func:`explain`: the features that drove a window's score, as analyst sentences.
"""

from models._arrays import ArraySpec, file_sha256, load_arrays, save_arrays
from models._explain import (
    DEFAULT_TEMPLATE,
    FeatureExplanation,
    describe,
    explain,
    format_number,
    rank_features,
)
from models._forest import FORMAT_VERSION, CompiledForest, average_path_length
from models._percentile import PercentileScale

__all__ = [
    "DEFAULT_TEMPLATE",
    "FORMAT_VERSION",
    "ArraySpec",
    "CompiledForest",
    "FeatureExplanation",
    "PercentileScale",
    "average_path_length",
    "describe",
    "explain",
    "file_sha256",
    "format_number",
    "load_arrays",
    "rank_features",
    "save_arrays",
]
