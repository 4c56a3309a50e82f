"""The numeric detector: an isolation forest, compiled, with scores as training percentiles.

:class:`IsolationDetector` is a plain scikit-learn estimator (matrix in, scores out). It
fits ``sklearn.ensemble.IsolationForest``, compiles it into a :class:`CompiledForest`
(the form that is stored and served) and summarises the training scores as a
:class:`PercentileScale`. Everything after ``fit`` is computed by the compiled forest,
so a detector loaded from a bundle scores exactly as the one that was trained.

Orientation follows PyOD's naming: ``score_samples`` is *higher = more anomalous*
(the opposite of scikit-learn's ``IsolationForest.score_samples``); ``predict`` and
``decision_function`` keep scikit-learn's outlier convention (``-1`` and negative for
outliers).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.utils.validation import check_is_fitted, validate_data

from models._forest import CompiledForest
from models._percentile import PercentileScale

__all__ = ["IsolationDetector"]

F64 = npt.NDArray[np.float64]


class IsolationDetector(OutlierMixin, BaseEstimator):  # type: ignore[misc]
    """Isolation forest whose scores are higher-is-more-anomalous and read as percentiles.

    Parameters
    ----------
    n_estimators : int, default=100
        Number of trees.
    max_samples : "auto", int or float, default="auto"
        Rows drawn to grow each tree (as in ``IsolationForest``).
    max_features : int or float, default=1.0
        Features drawn to grow each tree (as in ``IsolationForest``).
    bootstrap : bool, default=False
        Draw rows with replacement.
    random_state : int, RandomState instance or None, default=None
        Seed of the forest.
    threshold : float, default=99.0
        Percentile of the training scores (0-100) above which :meth:`predict` calls a
        row an outlier.

    Attributes
    ----------
    forest_ : IsolationForest
        The fitted scikit-learn forest (not stored in bundles; ``None`` after loading).
    compiled_ : CompiledForest
        The same forest as validated arrays; all scoring goes through it.
    scale_ : PercentileScale
        Quantiles of the training scores.
    decision_scores_ : ndarray of shape (n_samples,)
        Anomaly scores of the training rows.
    threshold_ : float
        Anomaly score at the ``threshold`` percentile.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` was given a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(300, 4))
    >>> det = IsolationDetector(n_estimators=50, random_state=0).fit(X)
    >>> bool(det.score_samples([[8, 8, 8, 8]])[0] > det.score_samples([[0, 0, 0, 0]])[0])
    True
    """

    forest_: IsolationForest | None
    compiled_: CompiledForest
    scale_: PercentileScale
    decision_scores_: F64
    threshold_: float
    n_features_in_: int

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_samples: str | int | float = "auto",
        max_features: int | float = 1.0,
        bootstrap: bool = False,
        random_state: Any = None,
        threshold: float = 99.0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.random_state = random_state
        self.threshold = threshold

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def fit(self, X: Any, y: Any = None) -> IsolationDetector:  # noqa: N803 (sklearn naming)
        """Fit the forest on the rows of ``X`` (the baseline) and compile it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Baseline rows, finite.
        y : ignored

        Returns
        -------
        IsolationDetector
            ``self``.
        """
        if not isinstance(self.threshold, numbers.Real) or not 0.0 <= self.threshold <= 100.0:
            raise ValueError(f"threshold must be a percentile in [0, 100], got {self.threshold!r}")
        data = validate_data(self, X, dtype=np.float64)
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            max_features=self.max_features,
            bootstrap=self.bootstrap,
            random_state=self.random_state,
        ).fit(data)
        names = getattr(self, "feature_names_in_", None)
        self.forest_ = forest
        self.compiled_ = CompiledForest.from_sklearn(
            forest, feature_names=None if names is None else [str(n) for n in names]
        )
        self.decision_scores_ = self.compiled_.anomaly_score(data)
        self.scale_ = PercentileScale.from_scores(self.decision_scores_)
        self.threshold_ = self.scale_.score_at(float(self.threshold))
        return self

    @classmethod
    def from_parts(
        cls,
        compiled: CompiledForest,
        scale: PercentileScale,
        *,
        threshold: float = 99.0,
        params: dict[str, Any] | None = None,
    ) -> IsolationDetector:
        """Rebuild a fitted detector from stored parts (a bundle), without scikit-learn's forest.

        Parameters
        ----------
        compiled : CompiledForest
            The validated forest.
        scale : PercentileScale
            The training-score quantiles.
        threshold : float, default=99.0
            Percentile of :meth:`predict`.
        params : dict, optional
            The other constructor parameters, as recorded at training.
        """
        detector = cls(threshold=threshold, **(params or {}))
        detector.forest_ = None
        detector.compiled_ = compiled
        detector.scale_ = scale
        detector.decision_scores_ = np.zeros(0)
        detector.threshold_ = scale.score_at(float(threshold))
        detector.n_features_in_ = compiled.n_features
        if compiled.feature_names is not None:
            detector.feature_names_in_ = np.asarray(compiled.feature_names, dtype=object)
        return detector

    def _rows(self, X: Any) -> npt.NDArray[np.float64]:  # noqa: N803
        check_is_fitted(self, "compiled_")
        if hasattr(self, "forest_") and self.forest_ is not None:
            rows: npt.NDArray[np.float64] = validate_data(self, X, dtype=np.float64, reset=False)
            return rows
        if isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_"):
            missing = [n for n in self.feature_names_in_ if n not in X.columns]
            if missing:
                raise ValueError(f"X lacks the fitted feature columns {missing}")
            X = X[list(self.feature_names_in_)]  # noqa: N806
        return self._matrix(X)

    def _matrix(self, X: Any) -> npt.NDArray[np.float64]:  # noqa: N803
        """``X`` as a float64 matrix of the fitted width, refusing NaN and infinity."""
        rows = np.asarray(X, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features_in_}), got {rows.shape}"
            )
        if not np.isfinite(rows).all():
            raise ValueError("X must be finite, got NaN or infinity")
        return rows

    def score_samples(self, X: Any) -> F64:  # noqa: N803 (sklearn naming)
        """Anomaly score of each row in (0, 1]: higher is more anomalous."""
        rows = self._rows(X)
        return self.compiled_.anomaly_score(rows)

    def percentile(self, X: Any) -> F64:  # noqa: N803 (sklearn naming)
        """Percentile (0-100) of each row's score among the training scores."""
        return self.scale_.percentile(self.score_samples(X))

    def decision_function(self, X: Any) -> F64:  # noqa: N803 (sklearn naming)
        """``threshold_ - score``: negative for outliers, as scikit-learn's detectors."""
        scores = self.score_samples(X)
        return self.threshold_ - scores

    def predict(self, X: Any) -> npt.NDArray[np.int64]:  # noqa: N803 (sklearn naming)
        """``-1`` for rows scored above the threshold percentile (outliers), else ``1``."""
        decision = self.decision_function(X)
        return np.where(decision >= 0, 1, -1).astype(np.int64)

    def attributions(self, X: Any) -> F64:  # noqa: N803 (sklearn naming)
        """Per-feature credit of each row's score (see :meth:`CompiledForest.attributions`)."""
        rows = self._rows(X)
        return self.compiled_.attributions(rows)

    def score_rows(self, rows: npt.ArrayLike) -> tuple[F64, F64]:
        """:meth:`score_samples` and :meth:`attributions` of a matrix in the fitted column order.

        For a caller that builds the matrix itself, columns in the order of
        ``feature_names_in_`` (:class:`~models.ChangeDetector`: each window's excess over
        its usual values): no DataFrame, no feature-name check, one walk of the trees for
        both answers. Equal bit for bit to the two methods on the same rows.

        Parameters
        ----------
        rows : array-like of shape (n_samples, n_features_in_)
            Finite values.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            As :meth:`score_samples`.
        attributions : ndarray of shape (n_samples, n_features_in_)
            As :meth:`attributions`.

        Raises
        ------
        ValueError
            When ``rows`` has another width, or holds NaN or infinity.
        """
        check_is_fitted(self, "compiled_")
        return self.compiled_.scores_and_attributions(self._matrix(rows))
