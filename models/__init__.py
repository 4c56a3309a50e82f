"""What judges events: the detector, and (in :mod:`models.scoring`) the rules and findings.

- :class:`CompiledForest`: a fitted ``IsolationForest`` as validated flat arrays, scored
  vectorised (equal to scikit-learn's ``score_samples``), stored as ``.npz`` without pickle.
- :class:`PercentileScale`: anomaly scores as 0-100 percentiles of the training scores.
- :func:`explain`: the features that drove a window's score, as analyst sentences.
- :class:`IsolationDetector`: the numeric estimator (matrix -> scores, percentiles).
- :class:`ChangeDetector`: canonical events -> scored, explained identity windows
  (:class:`ScoredWindows`, the columns its result table is built from).
- :func:`save_bundle` / :func:`load_bundle`: the model bundle; :func:`sign_bundle` and
  :func:`read_bundle_key` for signed bundles (``load_bundle(path, key=...)``).
- :func:`column_arrays`: a frame's columns read as the arrays it holds (what the model path
  reads per request).
- :mod:`models.scoring`: the scoring core (rules, change policy, findings) that the service,
  the command line and Spark share.
"""

from models._arrays import ArraySpec, file_sha256, load_arrays, save_arrays
from models._bundle import (
    BUNDLE_FORMAT,
    BUNDLE_FORMAT_VERSION,
    load_bundle,
    save_bundle,
)
from models._detector import ChangeDetector, data_fingerprint
from models._explain import (
    DEFAULT_TEMPLATE,
    FeatureExplanation,
    describe,
    explain,
    format_number,
    rank_features,
)
from models._forest import FORMAT_VERSION, CompiledForest, average_path_length
from models._isolation import IsolationDetector
from models._percentile import PercentileScale
from models._scored import ScoredWindows, column_arrays
from models._signing import SIGNING_KEY_ENV, read_bundle_key, sign_bundle
from models._usual import DEFAULT_FEATURES, EXCLUDED_FEATURES, LOG_SCALED, UsualValues
from models._wording import TEMPLATES, templates_for, window_phrase

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMAT_VERSION",
    "DEFAULT_FEATURES",
    "DEFAULT_TEMPLATE",
    "EXCLUDED_FEATURES",
    "FORMAT_VERSION",
    "LOG_SCALED",
    "SIGNING_KEY_ENV",
    "TEMPLATES",
    "ArraySpec",
    "ChangeDetector",
    "CompiledForest",
    "FeatureExplanation",
    "IsolationDetector",
    "PercentileScale",
    "ScoredWindows",
    "UsualValues",
    "average_path_length",
    "column_arrays",
    "data_fingerprint",
    "describe",
    "explain",
    "file_sha256",
    "format_number",
    "load_arrays",
    "load_bundle",
    "rank_features",
    "read_bundle_key",
    "save_arrays",
    "save_bundle",
    "sign_bundle",
    "templates_for",
    "window_phrase",
]
