"""The detector as a :class:`~models.scoring._scoring.Scorer`: model windows for the combiner.

:func:`load_scorer` is the one place a model is loaded for scoring, by the CLI, the API and
Spark alike: ``none`` (rules only) or a local bundle directory. Model *URIs* of a registry
(``models:/changewatch@champion``, ``runs:/<id>/model``) are resolved to a bundle directory
by whoever knows the registry (the command line asks the training package), and the
registration they found is handed in as ``registered``: this package never imports MLflow.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from features import ConfigurationError, FeatureState, to_ns
from models import ChangeDetector, ScoredWindows, column_arrays, load_bundle
from models.scoring._contract import (
    Explanation,
    IgnoredEvents,
    ModelScores,
    ScorerInfo,
    WindowScore,
)

__all__ = ["REGISTRY_SCHEMES", "DetectorScorer", "load_scorer"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class DetectorScorer:
    """A fitted :class:`models.ChangeDetector` behind the scorer protocol.

    Parameters
    ----------
    detector : ChangeDetector
        The fitted detector (from :func:`models.load_bundle`).
    source : str
        Where it came from: the bundle path or the MLflow URI.
    manifest : dict
        The bundle's manifest (training period, versions, fingerprint).
    version : str
        Registered model version, or the bundle's fingerprint prefix for a plain bundle.
    """

    detector: ChangeDetector
    source: str
    manifest: dict[str, Any] = field(default_factory=dict)
    version: str = "bundle"
    registered: dict[str, str | None] = field(default_factory=dict)

    def info(self) -> ScorerInfo:
        """Name and version of the model."""
        return ScorerInfo(name=self.registered.get("name") or self.source, version=self.version)

    @property
    def metadata(self) -> dict[str, Any]:
        """What ``GET /v1/model`` reports: registration, training period, schema version."""
        period = self.manifest.get("training_period") or {}
        run_id = self.registered.get("run_id") or (self.manifest.get("metadata") or {}).get(
            "run_id"
        )
        return {
            "name": self.registered.get("name") or self.source,
            "version": self.version,
            "alias": self.registered.get("alias"),
            "run_id": run_id,
            "training_start": period.get("start"),
            "training_end": period.get("end"),
            "feature_schema_version": self.manifest.get("feature_schema_version"),
        }

    def state(self, history: pd.DataFrame | None = None) -> FeatureState:
        """Return the feature state to measure a batch against: training, then ``history``."""
        state = self.detector.state_for_serving()
        if history is not None and len(history):
            state = state.advance(history.sort_values("event_time", kind="stable"))
        return state

    def score_windows(
        self, events: pd.DataFrame, history: pd.DataFrame | None = None
    ) -> list[WindowScore]:
        """Score every identity window of ``events`` (after ``history``) with the detector."""
        return self.score_batch(events, history).windows

    def score_batch(self, events: pd.DataFrame, history: pd.DataFrame | None = None) -> ModelScores:
        """Score the windows of ``events`` and say which events the detector left out.

        The detector measures each identity against profiles that end where its
        training (then ``history``) ends; an event older than that is already summarised
        or belongs to a past it cannot revisit, so it is not judged (the rules still are).
        """
        state = self.state(history)
        windows = self.score_with_state(events, state)
        return ModelScores(windows, self.ignored(events, state.profiles.until))

    def ignored(
        self,
        events: pd.DataFrame,
        until: pd.Timestamp | None = None,
        *,
        times: npt.NDArray[np.int64] | None = None,
    ) -> IgnoredEvents | None:
        """Return the events of ``events`` older than ``until`` (default: the end of training).

        The model does not judge them: its profiles (training, then the history before the
        batch) already summarise that time. The service measures each identity against
        training and its own later past, so for it ``until`` is :attr:`training_end`.
        ``times``: the events' times (ns, in their order), when the caller has read them.
        """
        return _older_than(events, self.training_end if until is None else until, times)

    def score_with_state(
        self,
        events: pd.DataFrame,
        state: FeatureState,
        *,
        org_first_use: pd.DataFrame | None = None,
    ) -> list[WindowScore]:
        """Score the windows ``events`` touch, measured against a feature ``state``.

        ``org_first_use``: the organisation's first-use table, when the state holds some
        identities only (:meth:`state_of`).
        """
        found = self.detector.scored_windows(events, state=state, org_first_use=org_first_use)
        return _window_scores(found)

    @property
    def training_end(self) -> pd.Timestamp:
        """End of the training period: the model's profiles summarise what came before."""
        end: pd.Timestamp = self.detector.training_period_[1]
        return end

    def identity_state(self, identity: str) -> FeatureState:
        """Return the feature state at the end of training, restricted to one identity."""
        return self.state_of([identity])

    def state_of(self, identities: Collection[str]) -> FeatureState:
        """Return the feature state at the end of training, restricted to some identities.

        Their profile rows, the organisation's first-use table (the only cross-identity
        input of the vectors, ADR 0008) and their recent training events: their vectors
        are those of :meth:`state`, at a fraction of the cost of carrying every identity
        along (the service keeps one per identity, Spark one per identity group).
        """
        state = self.detector.state_for_serving()
        profiles = state.profiles
        wanted = list(identities)
        mine = replace(
            profiles,
            identities=_rows_of(profiles.identities, wanted),
            values=_rows_of(profiles.values, wanted),
        )
        return FeatureState(mine, _rows_of(state.recent, wanted))

    def score_identities(
        self, events: pd.DataFrame, history: pd.DataFrame | None = None
    ) -> list[WindowScore]:
        """Score as the service does: each identity against training and its own past.

        For every identity of ``events`` (in sorted order), :meth:`score_windows` of its
        events after its own ``history``, both without the events of the training period
        (before :attr:`training_end`: the profiles hold those). Unlike a call over all
        identities at once, an identity's windows do not depend on which other identities
        share its batch (ADR 0032). This is the reference the service's incremental state
        (:class:`models.scoring.IdentityState`) is held to.
        """
        end = self.training_end
        frame = events[events["event_time"] >= end]
        past = history[history["event_time"] >= end] if history is not None else None
        scores: list[WindowScore] = []
        for identity, mine in frame.groupby("identity_key", sort=True):
            own = past[past["identity_key"] == identity] if past is not None else None
            scores += self.score_windows(mine, own if own is not None and len(own) else None)
        return scores

    def score_vectors(self, vectors: pd.DataFrame) -> list[WindowScore]:
        """Score precomputed behaviour vectors (no event ids: they were computed elsewhere)."""
        return _window_scores(self.detector.scored_vectors(vectors))


def _rows_of(frame: pd.DataFrame, identities: list[str]) -> pd.DataFrame:
    if not len(frame):
        return frame
    return frame[frame["identity_key"].isin(identities).to_numpy()].reset_index(drop=True)


def event_times(
    events: pd.DataFrame, times: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.int64]:
    """Return the times (ns) of ``events``, in their order: ``times`` when the caller has read them.

    The service reads a request's times once and hands them down; a caller without them
    has them read here, from the frame's column as it holds it.

    Raises
    ------
    ValueError
        When ``times`` are given and do not have one time an event.
    """
    if times is None:
        return to_ns(column_arrays(events, ("event_time",))[0])
    if len(times) != len(events):
        raise ValueError(f"{len(times)} times for {len(events)} events")
    return times


def _older_than(
    events: pd.DataFrame,
    until: pd.Timestamp | None,
    times: npt.NDArray[np.int64] | None = None,
) -> IgnoredEvents | None:
    """Return the events before ``until``, where the profiles end (the vectors skip them).

    ``times``: the events' times (ns), when the caller has read them.
    """
    if until is None or not len(events):
        return None
    older = event_times(events, times) < until.value
    if not older.any():
        return None
    ids = tuple(str(i) for i in events["event_id"].to_numpy()[older])
    reason = (
        f"older than the model's profiles, which end at {until:%Y-%m-%dT%H:%M:%SZ} (where its "
        "training data, or the history before this batch, ends): the model judges only "
        "later events; the rules judged these"
    )
    logger.info("the model ignored %d events: %s", len(ids), reason)
    return IgnoredEvents(ids, reason)


def _window_scores(scored: ScoredWindows) -> list[WindowScore]:
    """Turn the detector's scored columns into the combiner's window scores.

    A window without a score that is not cold start (no change in it, with
    ``only_change_windows``) is left out; a cold-start window scores 0.
    """
    if not len(scored):
        return []
    starts, ends = scored.moments()
    columns = zip(
        scored.identity.tolist(),
        starts,
        ends,
        scored.score.tolist(),
        scored.percentile.tolist(),
        scored.cold_start.tolist(),
        scored.explained,
        scored.event_ids,
        scored.peers,
        strict=True,
    )
    scores: list[WindowScore] = []
    for identity, start, end, score, percentile, cold, explained, event_ids, peers in columns:
        if not cold and math.isnan(score):
            continue  # a window the detector does not score (no change in it)
        scores.append(
            WindowScore(
                identity=str(identity),
                window_start=start,
                window_end=end,
                score=0.0 if cold else score,
                percentile=0.0 if cold else percentile,
                cold_start=cold,
                explanations=tuple(Explanation.from_feature(item) for item in explained),
                event_ids=tuple(str(event_id) for event_id in event_ids),
                peers=str(peers),
            )
        )
    return scores


REGISTRY_SCHEMES: Final = ("models:/", "runs:/")
"""Prefixes of model URIs that a registry resolves (not a path on disk)."""


def load_scorer(
    uri: str | os.PathLike[str],
    *,
    registered: Mapping[str, str | None] | None = None,
    key: bytes | None = None,
) -> DetectorScorer | None:
    """Return the scorer of a bundle directory; ``"none"`` means rules only (``None``).

    Parameters
    ----------
    uri : str or path
        ``none`` or a bundle directory.
    registered : mapping, optional
        Where a registry found the bundle (``name``, ``version``, ``alias``, ``run_id``),
        when ``uri`` is the local copy of a registered model.
    key : bytes, optional
        The bundle must be signed with this key (:func:`models.load_bundle`).

    Raises
    ------
    ConfigurationError
        When nothing is at the path, or ``uri`` is a registry URI (resolve it first).
    ModelBundleError
        When the bundle is tampered, incomplete or built for another feature schema.
    """
    text = os.fspath(uri).strip()
    if text.lower() == "none":
        return None
    if text.startswith(REGISTRY_SCHEMES):
        raise ConfigurationError(
            f"{text!r} is a registry URI: resolve it to a bundle directory first "
            "(the command line does, with --tracking-uri)"
        )
    path = Path(os.path.expanduser(text))
    if not path.exists():
        raise ConfigurationError(
            f"no model at {text!r}: give a bundle directory, an MLflow URI such as "
            "models:/changewatch@champion, or 'none' for rules only"
        )
    detector = load_bundle(path, key=key)
    manifest = json.loads((path / "manifest.json").read_text())
    info = dict(registered or {})
    version = info.get("version") or str(manifest.get("data_fingerprint", ""))[:12]
    logger.info("loaded model %s (version %s) from %s", text, version, path)
    return DetectorScorer(
        detector, str(info.get("uri") or text), manifest, version or "bundle", info
    )
