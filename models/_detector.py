"""The change detector: canonical events in, scored and explained windows out.

:class:`ChangeDetector` wraps the whole path of the detector issue: behavioural vectors
(:func:`features.behaviour_vectors`), identity profiles, the excess of each window over
what its identity usually shows (:class:`~models._usual.UsualValues`), an
:class:`~models.IsolationDetector` fitted on the baseline windows, percentiles of the
training scores and explanations in words. ADR 0013 records the choices.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features import (
    CATALOGUE,
    FEATURE_NAMES,
    VECTOR_COLUMNS,
    ConfigurationError,
    EventColumns,
    FeatureConfig,
    FeatureState,
    InputError,
    Profiles,
    all_text,
    behaviour_vectors,
    build_profiles,
    never_repeating_person_keys,
    peer_groups,
    to_ns,
)
from models._explain import FeatureExplanation, explain
from models._isolation import IsolationDetector
from models._scored import ScoredWindows, column_arrays, float_matrix
from models._usual import DEFAULT_FEATURES, UsualValues, check_features
from models._wording import templates_for

__all__ = ["ChangeDetector", "data_fingerprint", "window_event_ids"]

logger = logging.getLogger(__name__)


def data_fingerprint(event_ids: Sequence[str] | pd.Series, vectors: pd.DataFrame) -> str:
    r"""SHA-256 of the training data: sorted event ids, then the vector matrix.

    The digest covers ``b"changewatch-training-data/1\\n"``, the event ids sorted and
    joined by newlines (UTF-8) with a final newline, then the values of every catalogue
    feature of ``vectors`` (rows in the table's order, columns in catalogue order) as
    little-endian float64 in row-major order.
    """
    digest = hashlib.sha256(b"changewatch-training-data/1\n")
    ids = sorted(str(i) for i in event_ids)
    digest.update(("\n".join(ids) + "\n").encode("utf-8"))
    matrix = np.ascontiguousarray(vectors[list(FEATURE_NAMES)].to_numpy(dtype="<f8"))
    digest.update(matrix.tobytes())
    return digest.hexdigest()


def window_event_ids(events: pd.DataFrame, window: str) -> dict[tuple[str, int], list[str]]:
    """Event ids (in time order) of each (identity key, window start in ns since the epoch)."""
    if len(events) == 0:
        return {}
    keys, times, ids = _event_arrays(events)
    return _window_ids(keys, times, ids, pd.Timedelta(window).value)


def _strings(column: pd.Series | npt.NDArray[Any]) -> npt.NDArray[np.object_]:
    """``column.astype(str)`` as an object array (no conversion when it is of strings).

    A column of Python strings (the service's states keep text so, ADR 0059) is read
    as it is, without a copy: when every value is a ``str`` (none missing, no subclass),
    ``astype(str)`` gives the same values (ADR 0062). An array is read as the Series of it
    (a state's columns, ADR 0065).
    """
    if isinstance(column, np.ndarray) and column.dtype == object and all_text(column):
        return column
    if not isinstance(column, pd.Series):  # an array: read as the Series of it
        column = pd.Series(column, copy=False)
    if column.dtype == "str":
        return column.to_numpy(dtype=object)
    if column.dtype == object:
        values: npt.NDArray[np.object_] = column.to_numpy()
        if all_text(values):
            return values
    return column.astype(str).to_numpy(dtype=object)


def _event_arrays(
    events: pd.DataFrame | EventColumns,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """Identity keys, times (ns since the epoch) and event ids of ``events``, as arrays."""
    keys, times, ids = _held_event_arrays(events)
    return _strings(keys), times, ids


def _held_event_arrays(
    events: pd.DataFrame | EventColumns,
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """:func:`_event_arrays`, a state's identity keys (ADR 0065) as held: not yet text.

    :func:`_strings` converts value by value, so converting some rows of them later
    gives those rows of the converted column.
    """
    if isinstance(events, EventColumns):
        return events.column("identity_key"), events.times(), _strings(events.column("event_id"))
    keys, times, ids = column_arrays(events, _EVENT_COLUMNS)
    return _strings(keys), to_ns(times), _strings(ids)


_EVENT_COLUMNS: Final = ("identity_key", "event_time", "event_id")
"""The events' columns a window's event ids are read from."""


def _pooled_event_arrays(
    frames: Sequence[pd.DataFrame | EventColumns | None],
    *,
    starts: npt.NDArray[np.int64] | None = None,
    width: int = 1,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """:func:`_event_arrays` of ``frames`` read as one table, a repeated event id kept once.

    The same rows as ``pd.concat(frames).drop_duplicates("event_id")`` (the first of
    each id, in table order), without building the table; a table may come as columns
    (a live state's events, ADR 0065); ``None`` stands for no table.

    ``starts`` (ns, sorted, unique) keeps, of those rows, the ones in the windows
    (``width`` ns long) that start there, in the same order: a live state's open day is
    read for the windows scored, not for each of its windows. Only the event ids are
    read whole, to tell the first of each id.
    """
    tables = [_held_event_arrays(frame) for frame in frames if frame is not None and len(frame)]
    if not tables:
        empty = np.zeros(0, dtype=object)
        return empty, np.zeros(0, dtype=np.int64), empty
    named = [event_id for _, _, ids in tables for event_id in ids.tolist()]
    firsts: dict[str, int] | None = None
    if len(set(named)) < len(named):  # the first row of each id, by its place in the table
        firsts = dict(zip(reversed(named), range(len(named) - 1, -1, -1), strict=True))
    parts = []
    offset = 0
    for keys, times, ids in tables:
        rows = np.arange(len(ids)) if starts is None else _in_windows(times, starts, width)
        if firsts is not None:
            first = (firsts[ids[row]] == offset + row for row in rows.tolist())
            rows = rows[np.fromiter(first, dtype=bool, count=len(rows))]
        offset += len(ids)
        if len(rows) == len(ids):
            parts.append((_strings(keys), times, ids))
        else:
            parts.append((_strings(keys[rows]), times[rows], ids[rows]))
    keys, times, ids = (np.concatenate(column) for column in zip(*parts, strict=True))
    return keys, times, ids


def _in_windows(
    times: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], width: int
) -> npt.NDArray[np.intp]:
    """Positions of the ``times`` in the windows (``width`` ns long) that start at ``starts``.

    ``starts`` is sorted and unique (``np.unique``).
    """
    if not len(starts):
        return np.zeros(0, dtype=np.intp)
    begins = times - np.mod(times, width)
    at = np.minimum(np.searchsorted(starts, begins), len(starts) - 1)
    return np.flatnonzero(starts[at] == begins)


def _window_ids(
    keys: npt.NDArray[np.object_],
    time: npt.NDArray[np.int64],
    ids: npt.NDArray[np.object_],
    width: int,
) -> dict[tuple[str, int], list[str]]:
    """:func:`window_event_ids` of events given as arrays, windows ``width`` ns long."""
    if len(ids) == 0:
        return {}
    start = (time - np.mod(time, width)).tolist()
    groups: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for key, begins, moment, event_id in zip(
        keys.tolist(), start, time.tolist(), ids.tolist(), strict=True
    ):
        groups.setdefault((key, begins), []).append((moment, event_id))
    # windows by key then start, each window's ids by time then id: the order a sort of the
    # rows gives, by Python's comparisons (as numpy's sort of text compares them too)
    return {
        (str(key), begins): [event_id for _, event_id in sorted(groups[key, begins])]
        for key, begins in sorted(groups)
    }


_DEFAULT_CONFIG: Final = FeatureConfig()
"""The settings of a detector given none (made once: validating them cost 60 us a call)."""


class ChangeDetector(BaseEstimator):  # type: ignore[misc]
    """Anomaly scores with explanations for every identity window of canonical events.

    Parameters
    ----------
    feature_config : FeatureConfig, optional
        How vectors are cut; default ``FeatureConfig()``.
    features : sequence of str, optional
        Catalogue features the forest sees; default :data:`models.DEFAULT_FEATURES`.
    n_estimators, max_samples, max_features, random_state :
        Of the :class:`IsolationDetector`.
    threshold : float, default=99.0
        Percentile above which a window is an outlier (``detector_.predict``).
    exclude_cold_start : bool, default=True
        Cold-start windows (identity without a baseline yet) are neither trained on nor
        scored: their score and percentile are NaN.
    only_change_windows : bool, default=False
        Train and score only windows with at least one compute change; the others get
        NaN scores.
    top : int, default=3
        Explanations per window (features that pushed the score up, largest first).
    peers : bool, default=True
        Score the windows of a cold-start identity against its peers (the other people of
        its permission set, the same role in other accounts, else the identities of its kind
        in its account):
        its past is its peers' pooled past, its usual their median (ADR 0022).
    min_peers : int, default=1
        Peers an identity needs to be scored against them (in the most alike group that
        has that many: :func:`features.peer_groups`).

    Attributes
    ----------
    profiles_ : Profiles
        Profiles of the baseline, up to the end of the training period.
    recent_ : pandas.DataFrame
        Baseline events within ``horizon`` of its end (the sequence look-back of serving).
    usual_ : UsualValues
        Per identity and feature the median of its baseline windows, plus the organisation.
    detector_ : IsolationDetector
        The fitted forest on the windows' excess over the usual.
    feature_names_ : tuple of str
        Features the forest sees, in column order.
    training_period_ : tuple of pandas.Timestamp
        ``(start, end)``: first window start and end of the last window of the baseline.
    data_fingerprint_ : str
        :func:`data_fingerprint` of the baseline events and vectors.
    train_scores_ : ndarray
        Anomaly scores of the training windows.
    n_training_windows_ : int
        Windows the forest was fitted on.
    baseline_ : str
        ``"identities"``: trained on windows of identities with a baseline of their own;
        ``"population"``: the baseline was too short for that, so trained on every window
        (cold-start windows are then scored too; warned about at fit).
    person_keyed_automation_ : tuple of str
        Roles keyed per person whose keys never repeat (probably automation: check the
        identity-key patterns, ADR 0020); warned about at fit.
    """

    profiles_: Profiles
    recent_: pd.DataFrame
    usual_: UsualValues
    detector_: IsolationDetector
    feature_names_: tuple[str, ...]
    training_period_: tuple[pd.Timestamp, pd.Timestamp]
    data_fingerprint_: str
    train_scores_: npt.NDArray[np.float64]
    n_training_windows_: int
    person_keyed_automation_: tuple[str, ...]
    baseline_: str

    def __init__(
        self,
        *,
        feature_config: FeatureConfig | None = None,
        features: Sequence[str] | None = None,
        n_estimators: int = 100,
        max_samples: str | int | float = "auto",
        max_features: int | float = 1.0,
        random_state: Any = 0,
        threshold: float = 99.0,
        exclude_cold_start: bool = True,
        only_change_windows: bool = False,
        top: int = 3,
        peers: bool = True,
        min_peers: int = 1,
    ) -> None:
        self.feature_config = feature_config
        self.features = features
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.random_state = random_state
        self.threshold = threshold
        self.exclude_cold_start = exclude_cold_start
        self.only_change_windows = only_change_windows
        self.top = top
        self.peers = peers
        self.min_peers = min_peers

    # ------------------------------------------------------------------ training

    def _feature_config(self) -> FeatureConfig:
        """Return the feature settings in use."""
        return self.feature_config if self.feature_config is not None else _DEFAULT_CONFIG

    def _checked_features(self) -> tuple[str, ...]:
        """Return the forest's features, checked against the catalogue."""
        return check_features(self.features if self.features is not None else DEFAULT_FEATURES)

    def fit(self, events: pd.DataFrame, y: Any = None) -> ChangeDetector:
        """Learn profiles, usual values and the forest from the baseline ``events``.

        Parameters
        ----------
        events : pandas.DataFrame
            Canonical events of the baseline period.
        y : ignored

        Returns
        -------
        ChangeDetector
            ``self``.

        Raises
        ------
        InputError
            When ``events`` is not a canonical table or leaves fewer than two windows to
            train on.
        ConfigurationError
            When ``features`` names something outside the catalogue.
        """
        if not isinstance(events, pd.DataFrame):
            raise InputError(f"events must be a canonical pandas DataFrame, got {type(events)}")
        config = self._feature_config()
        self._checked_features()
        if len(events) == 0:
            raise InputError("cannot train on no events")
        self.person_keyed_automation_ = tuple(r.role for r in never_repeating_person_keys(events))
        vectors = behaviour_vectors(events, config=config)
        end = vectors["window_end"].max()
        horizon_start = end - pd.Timedelta(config.horizon)
        return self.fit_vectors(
            vectors,
            profiles=build_profiles(events, config, until=end),
            recent=events[events["event_time"] >= horizon_start].reset_index(drop=True),
            training_period=(vectors["window_start"].min(), end),
            fingerprint=data_fingerprint(events["event_id"], vectors),
        )

    def fit_vectors(
        self,
        vectors: pd.DataFrame,
        *,
        profiles: Profiles,
        recent: pd.DataFrame,
        training_period: tuple[pd.Timestamp, pd.Timestamp],
        fingerprint: str,
        usual: UsualValues | None = None,
    ) -> ChangeDetector:
        """Fit from baseline vectors computed elsewhere: the usual values and the forest.

        The second half of :meth:`fit`, for an engine that computes the vectors, profiles
        and usual values itself (Spark, on every window) and hands over a sample of the
        windows for the forest.

        Parameters
        ----------
        vectors : pandas.DataFrame
            Baseline vectors (all of them, or a sample when ``usual`` is given).
        profiles : Profiles
            Profiles of the baseline, up to its end.
        recent : pandas.DataFrame
            Baseline events within ``horizon`` of its end.
        training_period : tuple of pandas.Timestamp
            ``(start, end)`` of the baseline windows.
        fingerprint : str
            Digest of the training data (:func:`data_fingerprint` on one machine).
        usual : UsualValues, optional
            Usual values learned from every baseline window; from ``vectors`` if omitted.

        Returns
        -------
        ChangeDetector
            ``self``.

        Raises
        ------
        InputError
            When fewer than two of the windows can be trained on.
        ConfigurationError
            When ``features`` names something outside the catalogue.
        """
        names = self._checked_features()
        config = self._feature_config()
        self.training_period_ = training_period
        self.profiles_ = profiles
        self.recent_ = recent
        self.usual_ = usual if usual is not None else UsualValues.fit(vectors, names)
        self.baseline_ = "identities"
        mask = self._scored(vectors)
        if int(mask.sum()) < 2:
            self.baseline_ = "population"
            mask = self._scored(vectors)
            if int(mask.sum()) < 2:
                raise InputError(
                    f"need at least 2 baseline windows to train on, got {int(mask.sum())} "
                    f"of {len(vectors)}"
                )
            logger.warning(
                "only %d of %d baseline windows belong to identities with a baseline of "
                "their own: trained on the population of all windows instead. The model "
                "judges windows against the whole organisation's, not each identity's own "
                "history; its novelty and rhythm features mean little until identities have "
                "%s days and %d active days of history",
                int((vectors["cold_start"].to_numpy() == 0).sum()),
                len(vectors),
                config.cold_start_days,
                config.cold_start_active_days,
            )
        X = self.usual_.excess(vectors[mask])  # noqa: N806 (sklearn naming)
        self.detector_ = IsolationDetector(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            max_features=self.max_features,
            random_state=self.random_state,
            threshold=self.threshold,
        ).fit(X)
        self.feature_names_ = names
        self.train_scores_ = self.detector_.decision_scores_
        self.n_training_windows_ = int(mask.sum())
        self.data_fingerprint_ = fingerprint
        logger.info(
            "trained on %d of %d baseline windows (%d identities), %s to %s",
            self.n_training_windows_,
            len(vectors),
            vectors["identity_key"].nunique(),
            *self.training_period_,
        )
        return self

    def _scored(
        self, vectors: pd.DataFrame, cold: npt.NDArray[Any] | None = None
    ) -> npt.NDArray[np.bool_]:
        """Which windows are scored; ``cold``: the vectors' ``cold_start`` column, when read."""
        mask = np.ones(len(vectors), dtype=bool)
        if self.exclude_cold_start and getattr(self, "baseline_", "identities") == "identities":
            mask &= (vectors["cold_start"].to_numpy() if cold is None else cold) == 0
        if self.only_change_windows:
            mask &= vectors["n_changes"].to_numpy() > 0
        return mask

    # ------------------------------------------------------------------ serving

    def state_for_serving(self) -> FeatureState:
        """Feature state at the end of training: baseline profiles and recent events."""
        check_is_fitted(self, "detector_")
        return FeatureState(self.profiles_, self.recent_)

    def vectors(self, events: pd.DataFrame, *, state: FeatureState | None = None) -> pd.DataFrame:
        """Vectors of the windows ``events`` touch, measured against ``state``.

        ``state`` defaults to :meth:`state_for_serving`: the events come after training.
        """
        state = self._state(state)
        return state.vectors(events)

    def _state(self, state: FeatureState | None) -> FeatureState:
        check_is_fitted(self, "detector_")
        state = state if state is not None else self.state_for_serving()
        if state.config != self._feature_config():
            raise ConfigurationError(
                "the feature state was built with other feature settings than the detector"
            )
        return state

    def score_windows(
        self,
        events: pd.DataFrame,
        *,
        state: FeatureState | None = None,
        org_first_use: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Score and explain every identity window that ``events`` touch.

        Parameters
        ----------
        events : pandas.DataFrame
            Canonical events after the end of training (or after ``state``).
        state : FeatureState, optional
            History to measure against; default :meth:`state_for_serving`.
        org_first_use : pandas.DataFrame, optional
            The organisation's first-use table, when ``state`` holds only some of its
            identities (see :func:`features.behaviour_vectors`).

        Returns
        -------
        pandas.DataFrame
            :data:`RESULT_COLUMNS` then the other :data:`features.VECTOR_COLUMNS`. ``score`` is in
            (0, 1], higher is more anomalous; ``percentile`` (0-100) places it among the
            training windows; both are NaN for windows not scored (cold start, or no
            change with ``only_change_windows``). ``explanations`` is a list of
            ``{feature, value, usual, contribution, text}``, largest contribution first.
        """
        return self.scored_windows(events, state=state, org_first_use=org_first_use).table()

    def scored_windows(
        self,
        events: pd.DataFrame,
        *,
        state: FeatureState | None = None,
        org_first_use: pd.DataFrame | None = None,
    ) -> ScoredWindows:
        """:meth:`score_windows` as columns, before its table is built (ADR 0066).

        The scoring core reads its window scores from these; :meth:`ScoredWindows.table`
        is the table :meth:`score_windows` returns. Parameters as there.
        """
        state = self._state(state)
        vectors = state.vectors(events, org_first_use=org_first_use)
        pools: dict[str, list[str]] = {}
        if self.peers:
            vectors, pools = _peer_vectors(
                vectors, events, state, self.min_peers, known=self.profiles_
            )
        width = state.config.window_ns
        kept = state.kept()

        def event_ids(starts: npt.NDArray[np.int64]) -> dict[tuple[str, int], list[str]]:
            pooled = _pooled_event_arrays([kept, events], starts=np.unique(starts), width=width)
            return _window_ids(*pooled, width)

        return self._scored_columns(vectors, pools, event_ids)

    def score_vectors(
        self, vectors: pd.DataFrame, *, peers: Mapping[str, Sequence[str]] | None = None
    ) -> pd.DataFrame:
        """Score and explain precomputed vectors (as :meth:`score_windows`, no event ids).

        ``event_ids`` is empty for every window; use this for vectors computed elsewhere
        (Spark) or to study the model on edited vectors. ``peers`` names, for identities
        measured against their peers, the peers whose usual values they are held to.
        """
        return self.scored_vectors(vectors, peers=peers).table()

    def scored_vectors(
        self, vectors: pd.DataFrame, *, peers: Mapping[str, Sequence[str]] | None = None
    ) -> ScoredWindows:
        """:meth:`score_vectors` as columns, before its table is built (ADR 0066)."""
        check_is_fitted(self, "detector_")
        return self._scored_columns(vectors, peers or {}, _no_event_ids)

    def _scored_columns(
        self,
        vectors: pd.DataFrame,
        peers: Mapping[str, Sequence[str]],
        event_ids: Callable[[npt.NDArray[np.int64]], Mapping[tuple[str, int], list[str]]],
    ) -> ScoredWindows:
        """Score and explain ``vectors`` once, for :meth:`score_windows` and :meth:`score_vectors`.

        ``event_ids`` is given the windows' starts (ns, one a vector, read once here) and
        returns the event ids of a window by (identity key, start in ns); a window it
        does not name has none (precomputed vectors).
        """
        n = len(vectors)
        key, start, end, cold_start = column_arrays(vectors, _WINDOW_COLUMNS)
        keys = np.asarray(key, dtype=object)
        starts = to_ns(start)
        window_ids = event_ids(starts)
        cold = np.asarray(cold_start)
        scores = np.full(n, np.nan)
        explained: list[list[FeatureExplanation]] = [[] for _ in range(n)]
        mask = self._scored(vectors, cold)
        if mask.any():
            at = np.flatnonzero(mask)
            scores[at], found = self._explained_scores(vectors, keys, at, peers)
            for out, items in zip(at.tolist(), found, strict=True):
                explained[out] = items
        return ScoredWindows(
            vectors=vectors,
            identity=keys,
            start=starts,
            end=to_ns(end),
            score=scores,
            percentile=self.detector_.scale_.percentile(scores),
            cold_start=cold == 1,
            explained=explained,
            event_ids=[
                window_ids.get((str(k), w), []) for k, w in zip(keys, starts.tolist(), strict=True)
            ],
            peers=[_peers_phrase(str(k), peers) for k in keys] if peers else [""] * n,
        )

    def _explained_scores(
        self,
        vectors: pd.DataFrame,
        keys: npt.NDArray[np.object_],
        at: npt.NDArray[np.intp],
        peers: Mapping[str, Sequence[str]],
    ) -> tuple[npt.NDArray[np.float64], list[list[FeatureExplanation]]]:
        """Anomaly scores and explanations of the windows at positions ``at``.

        One matrix of the windows' feature values, their usual values looked up once,
        the excess over them, and one walk of the forest for scores and attributions:
        plain arrays from the vector block to the explanations, whether 1 window or
        thousands are scored.
        """
        usual_names = self.usual_.features
        raw = float_matrix(vectors, usual_names)[at]
        values = (
            raw
            if usual_names == self.feature_names_
            else float_matrix(vectors, self.feature_names_)[at]
        )
        usual = self.usual_.lookup(keys[at], peers)
        scores, credit = self.detector_.score_rows(self.usual_.excess_of(raw, usual))
        templates = templates_for(self._feature_config().window)
        names = self.feature_names_
        explained = [
            explain(c, v, u, names, templates=templates, top=self.top)
            for c, v, u in zip(credit, values, usual, strict=True)
        ]
        return scores, explained

    @classmethod
    def from_parts(
        cls,
        *,
        params: Mapping[str, Any],
        detector: IsolationDetector,
        profiles: Profiles,
        recent: pd.DataFrame,
        usual: UsualValues,
        feature_names: Sequence[str],
        training_period: tuple[pd.Timestamp, pd.Timestamp],
        data_fingerprint: str,
        train_scores: npt.ArrayLike,
        n_training_windows: int,
        baseline: str = "identities",
    ) -> ChangeDetector:
        """Assemble a fitted detector from parts learned elsewhere.

        :func:`models.load_bundle` rebuilds a stored detector with it, and the Spark
        trainer (``training.spark.fit_detector_spark``) one whose vectors, profiles and
        usual values were computed on executors. The result scores exactly as a detector
        fitted with :meth:`fit` that learned the same parts.

        Parameters
        ----------
        params : mapping
            Constructor parameters (as :meth:`get_params` gives them); omitted ones take
            their defaults.
        detector : IsolationDetector
            The fitted forest, on the excess over ``usual`` of the ``feature_names``.
        profiles : Profiles
            Profiles of the baseline; built with the detector's feature settings.
        recent : pandas.DataFrame
            Canonical baseline events within ``horizon`` of the end of training.
        usual : UsualValues
            Usual values of exactly ``feature_names``, in that order.
        feature_names : sequence of str
            Catalogue features the forest sees, in column order.
        training_period : tuple of pandas.Timestamp
            ``(start, end)`` of the baseline windows.
        data_fingerprint : str
            Digest of the training data (:func:`data_fingerprint` on one machine).
        train_scores : array-like
            Anomaly scores of the training windows, one per window.
        n_training_windows : int
            Windows the forest was fitted on.
        baseline : str
            ``"identities"`` or ``"population"`` (see :attr:`baseline_`).

        Returns
        -------
        ChangeDetector
            A fitted detector.

        Raises
        ------
        ConfigurationError
            When a parameter is unknown, the forest is not fitted, or the parts
            disagree: feature names outside
            the catalogue or unlike the usual values' or the forest's, profiles built
            with other feature settings, a training period that ends before it starts,
            or a number of training scores unlike ``n_training_windows``.
        """
        known = cls().get_params()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ConfigurationError(f"unknown ChangeDetector parameters {unknown}")
        out = cls(**params)
        names = check_features(feature_names)
        if usual.features != names:
            raise ConfigurationError(
                f"usual values cover features {list(usual.features)}, expected {list(names)}"
            )
        if not isinstance(detector, IsolationDetector) or not hasattr(detector, "compiled_"):
            raise ConfigurationError(
                f"detector must be a fitted IsolationDetector, got {type(detector).__name__}"
            )
        fitted = getattr(detector, "feature_names_in_", None)
        if detector.n_features_in_ != len(names) or (
            fitted is not None and tuple(str(n) for n in fitted) != names
        ):
            raise ConfigurationError(
                f"the forest was fitted on {detector.n_features_in_} features "
                f"{[] if fitted is None else [str(n) for n in fitted]}, expected {list(names)}"
            )
        if profiles.config != out._feature_config():
            raise ConfigurationError("profiles were built with other feature settings")
        start, end = (pd.Timestamp(t) for t in training_period)
        if end < start:
            raise ConfigurationError(f"training period ends ({end}) before it starts ({start})")
        scores = np.asarray(train_scores, dtype=np.float64)
        if scores.ndim != 1 or len(scores) != int(n_training_windows):
            raise ConfigurationError(
                f"expected {int(n_training_windows)} training scores, got shape {scores.shape}"
            )
        out.detector_ = detector
        out.profiles_ = profiles
        out.recent_ = recent
        out.usual_ = usual
        out.feature_names_ = names
        out.training_period_ = (start, end)
        out.data_fingerprint_ = str(data_fingerprint)
        out.train_scores_ = scores
        out.n_training_windows_ = int(n_training_windows)
        if baseline not in ("identities", "population"):
            raise ConfigurationError(f"baseline must be identities or population, got {baseline!r}")
        out.baseline_ = baseline
        return out


def _no_event_ids(starts: npt.NDArray[np.int64]) -> dict[tuple[str, int], list[str]]:
    """No window's event ids (vectors computed elsewhere: :meth:`ChangeDetector.score_vectors`)."""
    return {}


_WINDOW_COLUMNS: Final = ("identity_key", "window_start", "window_end", "cold_start")
"""The vectors' columns a scored window reads besides the features."""


def _peers_phrase(identity: str, peers: Mapping[str, Sequence[str]]) -> str:
    """``3 of the Dev users in account 111`` for an identity scored against its peers."""
    members = peers.get(identity)
    if not members:
        return ""
    group = getattr(members, "group", None) or next(iter(peer_groups(identity)), "peers")
    return f"{len(members)} of the {group}"


_OWN_COLUMNS: Final = frozenset(
    ["identity_key", "window_start", "window_end"]
    + [f.name for f in CATALOGUE if f.family == "organisation"]
)
"""Columns a peers' measure leaves as the identity's own: its keys, and its place in the
organisation (measured against the organisation's first-use table, which Spark ships to
every identity group; a made-up peers' key is not an identity of the organisation, ADR 0033)."""


class _Peers(list[str]):
    """The peers of one identity, and the group they were found in."""

    def __init__(self, members: Sequence[str], group: str) -> None:
        super().__init__(members)
        self.group = group


def _peer_vectors(
    vectors: pd.DataFrame,
    events: pd.DataFrame,
    state: FeatureState,
    min_peers: int,
    *,
    known: Profiles,
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Measure the cold-start windows of identities with peers against their peers' past.

    Each such identity gets a made-up key whose profile is its peers' pooled profile
    (:meth:`features.Profiles.pooled`); its events (and its recent ones) are featurised
    under that key, and the vectors of its cold-start windows are replaced by those. The
    peers are the most alike group (:func:`features.peer_groups`) with at least
    ``min_peers`` members whose pooled past is itself long enough: a person active on two
    days in each of two accounts is measured against their team, not against themselves
    elsewhere. Returns the vectors and, per identity measured so, its peers.

    Peers are the identities of the training profiles ``known``, so that an identity's
    peers do not depend on which other identities share its state (a state may hold one
    identity only, ADR 0032); a peer the state holds is pooled with its rows there.
    """
    cold = np.asarray(column_arrays(vectors, ("cold_start",))[0]) == 1
    if not cold.any():
        return vectors, {}
    groups: dict[str, list[str]] = {}
    for key in known.identities["identity_key"].astype(str):
        for group in peer_groups(key):
            groups.setdefault(group, []).append(key)
    ladders: dict[str, list[_Peers]] = {}
    for identity in dict.fromkeys(vectors.loc[cold, "identity_key"].astype(str)):
        ladder = []
        for group in peer_groups(identity):
            members = [m for m in groups.get(group, []) if m != identity]
            if len(members) >= min_peers:
                ladder.append(_Peers(members, group))
        if ladder:
            ladders[identity] = ladder
    out = vectors.copy()
    measured: dict[str, list[str]] = {}
    rung = 0
    while True:
        peers = {i: ladder[rung] for i, ladder in ladders.items() if len(ladder) > rung}
        if not peers:
            return out, measured
        warm = _measure_against(out, cold, events, state, peers, known)
        measured.update({identity: peers[identity] for identity in warm})
        # an identity whose peers here have no baseline either tries the next rung
        ladders = {i: ladder for i, ladder in ladders.items() if i not in warm}
        rung += 1


def _measure_against(
    out: pd.DataFrame,
    cold: npt.NDArray[np.bool_],
    events: pd.DataFrame,
    state: FeatureState,
    peers: dict[str, _Peers],
    known: Profiles,
) -> set[str]:
    """Replace, in place, the cold windows of ``peers``' identities by their peers' measure.

    Each cold window is measured on its own, under a made-up key of its own whose past is
    the peers' pooled past: only the window's events are the newcomer's (ADR 0052). The
    newcomer's earlier events do not count, whether a state holds them unfolded or has
    folded them into the newcomer's own profile, so the measure does not depend on where a
    state's profiles end (the service folds a day at a time, ADR 0032) nor on which other
    windows share the call.

    Returns the identities measured (those whose peers' pooled windows are not cold).
    """
    width = state.config.window_ns
    keys_of = out["identity_key"].astype(str).to_numpy()
    starts_of = to_ns(out["window_start"])
    made_up = {
        (str(keys_of[i]), int(starts_of[i])): f"peers:{keys_of[i]}@{int(starts_of[i])}"
        for i in np.flatnonzero(cold)
        if str(keys_of[i]) in peers
    }
    profiles = _with_rows_of(state.profiles, known, peers).pooled(
        {key: peers[identity] for (identity, _), key in made_up.items()}
    )

    def rekeyed(frame: pd.DataFrame) -> pd.DataFrame:
        times = to_ns(frame["event_time"])
        keys = [
            made_up.get((str(k), int(t - t % width)))
            for k, t in zip(frame["identity_key"], times, strict=True)
        ]
        kept = np.array([k is not None for k in keys], dtype=bool)
        return frame[kept].assign(identity_key=[k for k in keys if k is not None])

    recent = rekeyed(state.recent) if len(state.recent) else None
    pooled = behaviour_vectors(
        rekeyed(events), profiles, recent=recent if recent is not None and len(recent) else None
    )
    real = {key: identity for (identity, _), key in made_up.items()}
    pooled["identity_key"] = pooled["identity_key"].map(real)
    where = {
        (str(k), int(t)): at
        for at, (k, t) in enumerate(
            zip(pooled["identity_key"], to_ns(pooled["window_start"]), strict=True)
        )
    }
    columns = [c for c in VECTOR_COLUMNS if c not in _OWN_COLUMNS]
    values = out[columns].to_numpy(dtype=object).copy()
    replacement = pooled[columns].to_numpy(dtype=object)
    pooled_cold = pooled["cold_start"].to_numpy() == 1
    keys = out["identity_key"].astype(str).to_numpy()
    starts = to_ns(out["window_start"])
    measured: set[str] = set()
    for position in np.flatnonzero(cold):
        identity = str(keys[position])
        at = where.get((identity, int(starts[position])))
        if identity not in peers or at is None or pooled_cold[at]:
            continue  # no peers' window, or the peers have no baseline either
        values[position] = replacement[at]
        measured.add(identity)
    if measured:
        for index, name in enumerate(columns):
            out[name] = pd.Series(values[:, index], index=out.index).astype(out[name].dtype)
    return measured


def _with_rows_of(
    profiles: Profiles, known: Profiles, peers: Mapping[str, Sequence[str]]
) -> Profiles:
    """``profiles`` with the ``known`` rows of the peers it lacks (a restricted state)."""
    wanted = {member for members in peers.values() for member in members}
    held = set(profiles.identities["identity_key"].astype(str))
    missing = sorted(wanted - held)
    if not missing:
        return profiles
    extra = known.identities["identity_key"].isin(missing).to_numpy()
    extra_values = known.values["identity_key"].isin(missing).to_numpy()
    return replace(
        profiles,
        identities=pd.concat([profiles.identities, known.identities[extra]], ignore_index=True),
        values=pd.concat([profiles.values, known.values[extra_values]], ignore_index=True),
    )
