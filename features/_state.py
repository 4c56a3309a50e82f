"""What the live service keeps between batches: profiles to a window boundary, recent events."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from features._config import FeatureConfig
from features._profiles import Profiles
from features._sequences import lookback_mask
from features._vectors import behaviour_vectors
from features._windows import not_among, to_ns

__all__ = ["FeatureState"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeatureState:
    """Profiles learned up to ``profiles.until`` and the events the next batch may need.

    ``recent`` holds every event at or after ``profiles.until`` (they belong to windows
    that are still open) and, from the ``horizon`` before it, the events the sequence
    features look back at (:func:`features._sequences.lookback_mask`). Feeding batches
    through :meth:`vectors` and :meth:`advance` gives, for every window, the vector
    :func:`features.behaviour_vectors` computes over all events at once (the last vector
    emitted for a window is final once a later window begins).

    Examples
    --------
    >>> state = FeatureState.start()                        # doctest: +SKIP
    >>> for batch in batches:                               # doctest: +SKIP
    ...     vectors = state.vectors(batch)
    ...     state = state.advance(batch)
    """

    profiles: Profiles
    recent: pd.DataFrame = field(default_factory=pd.DataFrame)

    @classmethod
    def start(
        cls, profiles: Profiles | None = None, *, config: FeatureConfig | None = None
    ) -> FeatureState:
        """State before the first batch: given profiles (from training) or none."""
        return cls(profiles if profiles is not None else Profiles.empty(config))

    @property
    def config(self) -> FeatureConfig:
        """The settings of the profiles."""
        return self.profiles.config

    @property
    def until_ns(self) -> int | None:
        """Where the profiles end (ns): events before it are folded in, later ones are open."""
        return self.profiles.until_ns

    def vectors(
        self, events: pd.DataFrame, *, org_first_use: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Vectors of the windows that ``events`` touch (see :func:`features.behaviour_vectors`).

        ``org_first_use`` is the organisation's first-use table, for a state that holds
        some of the organisation's identities only (Spark's identity groups).
        """
        return behaviour_vectors(
            events, self.profiles, recent=self._recent(), org_first_use=org_first_use
        )

    def _recent(self) -> pd.DataFrame | None:
        return self.recent if len(self.recent) else None

    def advance(self, events: pd.DataFrame, *, until: int | None = None) -> FeatureState:
        """Return the state after ``events``: profiles up to the start of the open window.

        The open window is the one of the latest event seen less ``lateness``; everything
        before it is folded into the profiles, and the events the next batches may need
        are kept. ``until`` (ns, a window boundary) folds no further than that: a caller
        that keeps more windows open (the service keeps a day, ADR 0032) passes it; the
        vectors are the same wherever the boundary is.
        """
        recent = self._recent()
        if recent is not None:
            kept = not_among(recent["event_id"], events["event_id"])
            if not kept.all():  # events sent again replace the kept copies
                recent = recent[kept]
            frame = pd.concat([recent, events], ignore_index=True)
        else:
            frame = events.reset_index(drop=True)
        if len(frame) == 0:
            return self
        config = self.config
        time = to_ns(frame["event_time"])
        watermark = int(time.max()) - config.lateness_ns
        target = watermark - watermark % config.window_ns
        if until is not None:
            target = min(target, until - until % config.window_ns)
        profiles = self.profiles
        if profiles.until_ns is None or target > profiles.until_ns:
            profiles = profiles.update(frame, until=pd.Timestamp(target, tz="UTC"))
        boundary = profiles.until_ns if profiles.until_ns is not None else target
        keep = _kept(frame, time, boundary, config.horizon_ns)
        logger.debug("state advanced to %s keeping %d recent events", profiles.until, len(keep))
        if len(keep) == len(frame):  # nothing to drop: no copy
            return FeatureState(profiles, frame)
        return FeatureState(profiles, frame.take(keep).reset_index(drop=True))


def _kept(
    frame: pd.DataFrame, time: npt.NDArray[np.int64], boundary: int, horizon: int
) -> npt.NDArray[np.intp]:
    """Rows a state keeps: open ones, and look-back rows from ``horizon`` before ``boundary``.

    :func:`lookback_mask` judges each row on its own, so it is asked about the closed rows
    within the horizon only (none, mostly: then it is not called at all).
    """
    keep = time >= boundary
    closed = np.flatnonzero(~keep & (time >= boundary - horizon))
    if len(closed):
        keep[closed] = lookback_mask(frame.take(closed))
    return np.flatnonzero(keep)
