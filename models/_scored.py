"""The detector's scored windows as columns: one result, a table and window scores derived.

:meth:`ChangeDetector.scored_windows` and :meth:`ChangeDetector.scored_vectors` score
once into a :class:`ScoredWindows` (arrays and lists, one entry a window, plus the
vectors they were scored from). Its :meth:`ScoredWindows.table` is the public result
table of :meth:`ChangeDetector.score_windows` and :meth:`ChangeDetector.score_vectors`;
the scoring core (``models.scoring``) reads the same columns straight into its window
scores, without building that table and reading it back (ADR 0066).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from features import VECTOR_COLUMNS
from models._explain import FeatureExplanation

__all__ = ["RESULT_COLUMNS", "ScoredWindows", "column_arrays"]

logger = logging.getLogger(__name__)

#: Columns of :meth:`ChangeDetector.score_windows` before the vector columns.
RESULT_COLUMNS: Final = (
    "identity",
    "window_start",
    "window_end",
    "score",
    "percentile",
    "cold_start",
    "explanations",
    "event_ids",
    "peers",
)

_REST_COLUMNS: Final = tuple(name for name in VECTOR_COLUMNS if name not in RESULT_COLUMNS)
"""Vector columns of the result after :data:`RESULT_COLUMNS` (its own keys and bounds are there)."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, eq=False)
class ScoredWindows:
    """Scored and explained windows, one entry a window, in the order of their vectors.

    Attributes
    ----------
    vectors : pandas.DataFrame
        The vectors scored (the table's columns after :data:`RESULT_COLUMNS` are theirs).
    identity : numpy.ndarray
        Identity key of each window (objects).
    start, end : numpy.ndarray
        Window bounds, int64 nanoseconds since the epoch (UTC).
    score, percentile : numpy.ndarray
        Anomaly score in (0, 1] and its 0-100 percentile; NaN for a window not scored.
    cold_start : numpy.ndarray
        Whether the window's identity has no baseline yet (bool).
    explained : list of list of FeatureExplanation
        Per window, the features that pushed its score up, largest first.
    event_ids : list of list of str
        Per window, its event ids in time order (empty for precomputed vectors).
    peers : list of str
        Per window, the peers it was measured against in words (``""``: its own past).
    """

    vectors: pd.DataFrame
    identity: npt.NDArray[np.object_]
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]
    percentile: npt.NDArray[np.float64]
    cold_start: npt.NDArray[np.bool_]
    explained: list[list[FeatureExplanation]]
    event_ids: list[list[str]]
    peers: list[str]

    def __len__(self) -> int:
        return len(self.identity)

    def table(self) -> pd.DataFrame:
        """Return the result table: :data:`RESULT_COLUMNS` then the other vector columns.

        ``explanations`` holds per window a list of ``{feature, value, usual,
        contribution, text}``; the bounds are aware UTC nanosecond times.
        """
        vectors = self.vectors
        columns: dict[str, Any] = {
            "identity": self.identity,
            "window_start": _utc(vectors["window_start"]),
            "window_end": _utc(vectors["window_end"]),
            "score": self.score,
            "percentile": self.percentile,
            "cold_start": self.cold_start,
            "explanations": [[_as_dict(e) for e in items] for items in self.explained],
            "event_ids": self.event_ids,
            "peers": self.peers,
        }
        rest = columns_of(vectors, _REST_COLUMNS)
        if not _plain_index(rest.index, len(vectors)):
            rest = rest.reset_index(drop=True)
        return pd.concat([pd.DataFrame(columns), rest], axis=1)

    def moments(self) -> tuple[list[datetime], list[datetime]]:
        """Window starts and ends as aware UTC datetimes (microseconds, as pandas gives them)."""
        return _datetimes(self.start), _datetimes(self.end)


def _as_dict(e: FeatureExplanation) -> dict[str, Any]:
    """One explanation as the result table holds it."""
    return {
        "feature": e.name,
        "value": e.value,
        "usual": e.usual,
        "contribution": e.contribution,
        "text": e.text,
    }


def _datetimes(ns: npt.NDArray[np.int64]) -> list[datetime]:
    """``pd.Timestamp(t, tz="UTC").to_pydatetime()`` of each time, without a Timestamp each.

    Both truncate to the microsecond toward the past (floor division).
    """
    return [_EPOCH + timedelta(microseconds=us) for us in (ns // 1000).tolist()]


def _utc(column: pd.Series) -> Any:
    """Window bounds as aware UTC nanosecond times (the dtype the result table carries)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        if column.dtype.unit == "ns" and column.dtype.tz is UTC:
            return column.array  # already so (the vectors' own dtype): no conversion
        return column.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").array
    return pd.to_datetime(column.to_numpy(), utc=True).astype("datetime64[ns, UTC]")


@functools.lru_cache(maxsize=64)
def _positions(columns: tuple[Any, ...], names: tuple[str, ...]) -> tuple[int, ...] | None:
    """Positions of ``names`` among a table's ``columns``; None when one is missing or repeated.

    Kept per layout: every call of the detector on vectors of one layout (the
    featuriser's, or Spark's) finds its columns without indexing the column names again.
    """
    index = pd.Index(columns)
    if not index.is_unique:
        return None
    found = index.get_indexer(pd.Index(names))
    return None if (found < 0).any() else tuple(int(i) for i in found)


_LABELS: Final[dict[int, tuple[pd.Index, tuple[Any, ...]]]] = {}
"""Column indexes read by :func:`_labels` (by ``id``, each kept alive here) and their labels."""
_MAX_LABELS: Final = 16


def _labels(columns: pd.Index) -> tuple[Any, ...]:
    """``tuple(columns)``, kept for the last few indexes read.

    Every vector frame of the featuriser shares one column index, and every
    :func:`models.scoring.lean` frame another (an index is immutable); the detector reads
    their columns several times a call, and listing the labels of a ``str`` index costs
    an Arrow read each time. An index not seen before is listed (and the few kept are
    forgotten when they are many: frames with indexes of their own).
    """
    found = _LABELS.get(id(columns))
    if found is not None and found[0] is columns:
        return found[1]
    labels = tuple(columns.to_numpy().tolist())
    if len(_LABELS) >= _MAX_LABELS:
        _LABELS.clear()
    _LABELS[id(columns)] = (columns, labels)
    return labels


def columns_of(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """``frame[list(names)]`` (the same columns, dtypes and errors) at a fraction of its cost."""
    wanted = tuple(names)
    found = _positions(_labels(frame.columns), wanted)
    if found is None:
        return frame[list(wanted)]  # pandas names what is missing (or selects repeats)
    return frame.take(list(found), axis=1)


def column_arrays(frame: pd.DataFrame, names: Sequence[str]) -> list[Any]:
    """Return the arrays of ``frame``'s columns ``names`` (NumPy or extension arrays).

    The values of ``[frame[name].array for name in names]`` without a Series a column:
    on a one-window vector frame each ``frame[name]`` cost about as much as the forest's
    walk (its ``attrs`` are deep-copied into every Series). Pandas gives the arrays the
    frame holds by position (``DataFrame._get_column_array``, which
    ``DataFrame._iter_column_arrays`` reads); where pandas lacks it, or a name is missing
    or repeated, the columns are read one by one (with pandas' errors).
    """
    wanted = tuple(names)
    found = _positions(_labels(frame.columns), wanted)
    array_at = getattr(frame, "_get_column_array", None)
    if found is None or array_at is None:
        return [frame[name].array for name in wanted]
    return [array_at(at) for at in found]


def float_matrix(frame: pd.DataFrame, names: Sequence[str]) -> npt.NDArray[np.float64]:
    """``columns_of(frame, names).to_numpy(dtype=np.float64)``, one row a window.

    Read from the frame's float64 block when every column named is in that one block
    (the featuriser's vectors hold their features so: :func:`_block_rows`); else stacked
    from the columns' arrays when each is a float64 NumPy array; otherwise through
    :func:`columns_of`.
    """
    block = _block_rows(frame, names) if names else None
    if block is not None:
        values, rows = block
        matrix: npt.NDArray[np.float64] = np.ascontiguousarray(values[rows].T)
        return matrix
    arrays = column_arrays(frame, names) if names else []
    if arrays and all(
        isinstance(array, np.ndarray) and array.dtype == np.float64 for array in arrays
    ):
        return np.stack(arrays, axis=1)
    matrix = columns_of(frame, names).to_numpy(dtype=np.float64)
    return matrix


def _block_rows(
    frame: pd.DataFrame, names: Sequence[str]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]] | None:
    """Return the 2-D float64 block holding every column ``names`` and their rows there.

    Pandas keeps a frame's columns in blocks, one 2-D array of several columns of a
    dtype (the vectors' features are one: ``features`` builds them so); ``blknos`` and
    ``blklocs`` say, per column, its block and its row there: what
    ``DataFrame._get_column_array`` reads column by column. ``None`` when a name is
    missing or repeated, the columns span several blocks or another dtype, or pandas
    has no such layout (then the columns are read one by one).
    """
    found = _positions(_labels(frame.columns), tuple(names))
    manager: Any = getattr(frame, "_mgr", None)
    blknos = getattr(manager, "blknos", None)
    blklocs = getattr(manager, "blklocs", None)
    if found is None or manager is None or blknos is None or blklocs is None:
        return None
    at = np.asarray(found, dtype=np.intp)
    numbers = np.asarray(blknos)[at]
    if not (numbers == numbers[0]).all():
        return None
    values = getattr(manager.blocks[int(numbers[0])], "values", None)
    if not isinstance(values, np.ndarray) or values.dtype != np.float64 or values.ndim != 2:
        return None
    return values, np.asarray(blklocs)[at]


def _plain_index(index: pd.Index, n: int) -> bool:
    """Whether ``index`` is already ``0, 1, ..., n - 1`` (what ``reset_index`` would give)."""
    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and len(index) == n
    )
