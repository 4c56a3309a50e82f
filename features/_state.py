"""What the live service keeps between batches: profiles to a window boundary, recent events."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features._columns import EventColumns
from features._config import FeatureConfig
from features._profiles import Profiles
from features._sequences import lookback_mask
from features._vectors import behaviour_vectors
from features._windows import pooled_events, to_ns

__all__ = ["FeatureState"]

logger = logging.getLogger(__name__)


class FeatureState:
    """Profiles learned up to ``profiles.until`` and the events the next batch may need.

    ``recent`` holds every event at or after ``profiles.until`` (they belong to windows
    that are still open) and, from the ``horizon`` before it, the events the sequence
    features look back at (:func:`features._sequences.lookback_mask`). Feeding batches
    through :meth:`vectors` and :meth:`advance` gives, for every window, the vector
    :func:`features.behaviour_vectors` computes over all events at once (the last vector
    emitted for a window is final once a later window begins).

    A state keeps those events as NumPy columns (:attr:`open_events`, ADR 0065) when they
    have a column form, and builds the ``recent`` frame only when it is asked for; events
    that have none (categorical or Arrow-backed columns) are kept as the frame.

    Parameters
    ----------
    profiles : Profiles
        The history before the open windows.
    recent : pandas.DataFrame or EventColumns, optional
        The events described above (none by default).

    Examples
    --------
    >>> state = FeatureState.start()                        # doctest: +SKIP
    >>> for batch in batches:                               # doctest: +SKIP
    ...     vectors = state.vectors(batch)
    ...     state = state.advance(batch)
    """

    __slots__ = ("_columns", "_frame", "profiles")

    profiles: Profiles

    def __init__(
        self, profiles: Profiles, recent: pd.DataFrame | EventColumns | None = None
    ) -> None:
        self.profiles = profiles
        self._columns: EventColumns | bool | None
        self._frame: pd.DataFrame | None
        if isinstance(recent, EventColumns):
            self._columns, self._frame = recent, None
        else:  # the column form is made when first needed (a batch caller may never)
            self._columns = False
            self._frame = recent if recent is not None else pd.DataFrame()

    def __repr__(self) -> str:
        return f"FeatureState(until={self.profiles.until}, recent={self.n_recent} events)"

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

    @property
    def recent(self) -> pd.DataFrame:
        """The events kept (see the class), as a frame (built once when held as columns)."""
        if self._frame is None:
            assert isinstance(self._columns, EventColumns)  # one of the two is held
            self._frame = self._columns.to_frame()
        return self._frame

    @property
    def open_events(self) -> EventColumns | None:
        """The events kept, as columns; ``None`` when they have no column form."""
        if self._columns is False:
            frame = self._frame if self._frame is not None else pd.DataFrame()
            self._columns = EventColumns.of(frame) if len(frame) else None
        return self._columns if isinstance(self._columns, EventColumns) else None

    @property
    def n_recent(self) -> int:
        """How many events are kept."""
        if isinstance(self._columns, EventColumns):
            return len(self._columns)
        return len(self._frame) if self._frame is not None else 0

    def recent_times(self) -> npt.NDArray[np.int64]:
        """Return the times (ns) of the events kept, in their order."""
        if not self.n_recent:
            return np.zeros(0, dtype=np.int64)
        columns = self.open_events
        return columns.times() if columns is not None else to_ns(self.recent["event_time"])

    def recent_values(self, name: str) -> npt.NDArray[Any]:
        """Return one column of the events kept, in their order (do not modify)."""
        columns = self.open_events
        if columns is not None:
            return columns.column(name)
        return np.asarray(self.recent[name].to_numpy())

    def recent_rows(self, rows: npt.NDArray[np.intp], *, keep_index: bool = False) -> pd.DataFrame:
        """Return the events kept at positions ``rows``, as a frame.

        ``recent.iloc[rows]`` (its positions as the index with ``keep_index``, else a
        fresh ``RangeIndex``), built from the columns when the state holds them.
        """
        columns = self.open_events
        if columns is None:
            taken = self.recent.iloc[rows]
            return taken if keep_index else taken.reset_index(drop=True)
        index = pd.RangeIndex(len(columns)).take(rows) if keep_index else None
        return columns.take(rows).to_frame(index=index)

    def kept(self) -> pd.DataFrame | EventColumns | None:
        """Return the events kept (columns when they have that form), ``None`` for none."""
        if not self.n_recent:
            return None
        columns = self.open_events
        return columns if columns is not None else self.recent

    def vectors(
        self, events: pd.DataFrame, *, org_first_use: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Vectors of the windows that ``events`` touch (see :func:`features.behaviour_vectors`).

        ``org_first_use`` is the organisation's first-use table, for a state that holds
        some of the organisation's identities only (Spark's identity groups).
        """
        return behaviour_vectors(
            events, self.profiles, recent=self.kept(), org_first_use=org_first_use
        )

    def advance(self, events: pd.DataFrame, *, until: int | None = None) -> FeatureState:
        """Return the state after ``events``: profiles up to the start of the open window.

        The open window is the one of the latest event seen less ``lateness``; everything
        before it is folded into the profiles, and the events the next batches may need
        are kept. ``until`` (ns, a window boundary) folds no further than that: a caller
        that keeps more windows open (the service keeps a day, ADR 0032) passes it; the
        vectors are the same wherever the boundary is.
        """
        held = self.kept()
        if held is not None:
            _, frame = pooled_events(held, events, copy=True)
        else:
            frame = events.reset_index(drop=True)
        if len(frame) == 0:
            return self
        if isinstance(frame, EventColumns):
            frame = frame.settled()
            return self._advanced(frame, frame.times(), until)
        return self._advanced(frame, to_ns(frame["event_time"]), until)

    def _advanced(
        self, frame: pd.DataFrame | EventColumns, time: npt.NDArray[np.int64], until: int | None
    ) -> FeatureState:
        """Return the state holding ``frame`` (kept and new events, ``time`` theirs), folded."""
        config = self.config
        watermark = int(time.max()) - config.lateness_ns
        target = watermark - watermark % config.window_ns
        if until is not None:
            target = min(target, until - until % config.window_ns)
        profiles = self.profiles
        if profiles.until_ns is None or target > profiles.until_ns:
            whole = frame.to_frame() if isinstance(frame, EventColumns) else frame
            profiles = profiles.update(whole, until=pd.Timestamp(target, tz="UTC"))
        boundary = profiles.until_ns if profiles.until_ns is not None else target
        keep = _kept(frame, time, boundary, config.horizon_ns)
        logger.debug("state advanced to %s keeping %d recent events", profiles.until, len(keep))
        if len(keep) == len(frame):  # nothing to drop: no copy
            return FeatureState(profiles, frame)
        if isinstance(frame, EventColumns):
            return FeatureState(profiles, frame.take(keep))
        return FeatureState(profiles, frame.take(keep).reset_index(drop=True))


def _kept(
    frame: pd.DataFrame | EventColumns, time: npt.NDArray[np.int64], boundary: int, horizon: int
) -> npt.NDArray[np.intp]:
    """Rows a state keeps: open ones, and look-back rows from ``horizon`` before ``boundary``.

    :func:`lookback_mask` judges each row on its own, so it is asked about the closed rows
    within the horizon only (none, mostly: then it is not called at all).
    """
    keep = time >= boundary
    closed = np.flatnonzero(~keep & (time >= boundary - horizon))
    if len(closed):
        rows = frame.take(closed)
        if isinstance(rows, EventColumns):  # the predicate reads a mapping of columns too
            keep[closed] = lookback_mask({name: rows.column(name) for name in rows.names})
        else:
            keep[closed] = lookback_mask(rows)
    return np.flatnonzero(keep)
