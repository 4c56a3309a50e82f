"""What the live service keeps between batches: profiles to a window boundary, recent events."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features._config import FeatureConfig
from features._profiles import Profiles
from features._vectors import behaviour_vectors
from features._windows import to_ns

__all__ = ["FeatureState"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeatureState:
    """Profiles learned up to ``profiles.until`` and the events the next batch may need.

    ``recent`` holds every event at or after ``profiles.until - horizon``: those before
    ``until`` are the sequence look-back, the others belong to the still-open window.
    Feeding batches through :meth:`vectors` and :meth:`advance` gives, for every
    window, the vector :func:`features.behaviour_vectors` computes over all events at
    once (the last vector emitted for a window is final once a later window begins).

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

    def vectors(self, events: pd.DataFrame) -> pd.DataFrame:
        """Vectors of the windows that ``events`` touch (see :func:`features.behaviour_vectors`)."""
        return behaviour_vectors(events, self.profiles, recent=self._recent())

    def _recent(self) -> pd.DataFrame | None:
        return self.recent if len(self.recent) else None

    def advance(self, events: pd.DataFrame) -> FeatureState:
        """Return the state after ``events``: profiles up to the start of the open window.

        The open window is the one of the latest event seen less ``lateness``; everything
        before it is folded into the profiles, and events within ``horizon`` of it are kept.
        """
        recent = self._recent()
        if recent is not None:
            recent = recent[~recent["event_id"].isin(events["event_id"])]
            frame = pd.concat([recent, events], ignore_index=True)
        else:
            frame = events.reset_index(drop=True)
        if len(frame) == 0:
            return self
        config = self.config
        time = to_ns(frame["event_time"])
        watermark = int(time.max()) - config.lateness_ns
        until = watermark - watermark % config.window_ns
        profiles = self.profiles
        if profiles.until_ns is None or until > profiles.until_ns:
            profiles = profiles.update(frame, until=pd.Timestamp(until, tz="UTC"))
        keep = time >= (profiles.until_ns or until) - config.horizon_ns
        logger.debug(
            "state advanced to %s keeping %d recent events", profiles.until, int(keep.sum())
        )
        return FeatureState(profiles, frame[np.asarray(keep)].reset_index(drop=True))
