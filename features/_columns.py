"""Events as NumPy columns: what a live state keeps of its open events (ADR 0065).

A one-event request of the live service used to pay for pandas frames that existed only
to be read back as arrays: the state's open day concatenated with the request's event
(every column), rows taken from it, columns read back one ``DataFrame.__getitem__`` at a
time. :class:`EventColumns` holds the same table as one NumPy array per column; taking
rows, pooling tables and reading a column are NumPy operations, and a frame is built
(:meth:`EventColumns.to_frame`) only where a caller needs one. It is exactly the frame
the frame-based code held: the same columns, dtypes (the zone too) and values.

Only plain NumPy columns (object, bool, numbers) and UTC times have a column form;
a frame with anything else (categorical or Arrow-backed columns, as read from Parquet)
has none (:meth:`EventColumns.of` returns ``None``) and its callers keep the frame.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.internals import (  # type: ignore[import-not-found]  # not in pandas-stubs
    create_dataframe_from_blocks,
)

__all__ = ["EventColumns", "all_text"]

logger = logging.getLogger(__name__)

_UTC_ZONES = frozenset({"UTC"})

Coding = tuple[npt.NDArray[np.int64], list[Any], dict[Any, int]]
"""A column's codes (``-1`` missing), its distinct values in order of first appearance, and
each value's code: ``pandas.factorize`` of the column (see :meth:`EventColumns.coding`)."""
_NOT_YET: Final[Any] = object()


def _frame_arrays(frame: pd.DataFrame) -> Iterator[Any]:
    """Each column's array, in order, without building a Series per column.

    The arrays the frame holds (a row of a 2-d block of NumPy values, or a block's
    extension array), read from its blocks (:func:`_block_arrays`); reading
    ``frame[name]`` builds a Series per column, which costs more than everything a
    one-event call does with it (ADR 0065), and pandas' ``_iter_column_arrays`` looks
    each column's block up one at a time (ADR 0067). Where the blocks cannot be read,
    the columns are read one by one (``tests/features/test_event_columns.py`` holds
    the two equal).
    """
    arrays = _block_arrays(frame)
    if arrays is not None:
        return iter(arrays)
    return (
        column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array
        for _, column in frame.items()
    )


def _block_arrays(frame: pd.DataFrame) -> list[Any] | None:
    """Return the frame's column arrays from its blocks (pandas-private), or ``None``.

    A block holds some columns (``mgr_locs``): NumPy values as a 2-d array with a row per
    column, an extension array as one column (or a 2-d one, times with a zone).
    """
    blocks = getattr(getattr(frame, "_mgr", None), "blocks", None)
    if blocks is None:
        return None
    arrays: list[Any] = [None] * frame.shape[1]
    try:
        for block in blocks:
            values = block.values
            places = block.mgr_locs.as_array.tolist()
            if getattr(values, "ndim", 1) == 2:
                for row, at in enumerate(places):
                    arrays[at] = values[row]
            elif len(places) == 1:
                arrays[places[0]] = values
            else:
                return None
    except (AttributeError, IndexError, TypeError):
        return None
    return arrays if all(array is not None for array in arrays) else None


def _column_form(array: Any) -> tuple[npt.NDArray[Any], Any] | None:
    """Return (NumPy values, pandas dtype) of a column array, or ``None`` if it has none.

    Times in UTC are kept as naive ``datetime64`` (their UTC wall time) beside their
    dtype, which :meth:`EventColumns.to_frame` gives back.
    """
    if isinstance(array, np.ndarray):
        return (array, array.dtype) if array.dtype.kind in "Obifu" else None
    dtype = array.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) in _UTC_ZONES:
        values = np.asarray(array.tz_convert(None), dtype=f"datetime64[{dtype.unit}]")
        return values, dtype
    return None


class EventColumns:
    """An immutable table of events, one NumPy array per column (see the module).

    A pooled table (:meth:`concat`) reads each column from its parts the first time it
    is asked for, so a caller that reads a few columns pays for those only.

    Examples
    --------
    >>> table = EventColumns.of(events)                     # doctest: +SKIP
    >>> table.take([0, 2]).to_frame()                       # doctest: +SKIP
    """

    __slots__ = (
        "_codings",
        "_columns",
        "_dtypes",
        "_extensions",
        "_length",
        "_names",
        "_origin",
        "_parts",
        "_values",
    )

    def __init__(
        self,
        columns: pd.Index,
        dtypes: tuple[Any, ...],
        length: int,
        values: dict[str, npt.NDArray[Any]],
        parts: tuple[EventColumns, ...] = (),
        names: tuple[str, ...] | None = None,
        codings: dict[str, Coding | None] | None = None,
        origin: tuple[EventColumns, npt.NDArray[np.intp]] | None = None,
    ) -> None:
        self._columns = columns
        # ``names`` is ``tuple(columns)`` when the caller has it: iterating a pandas
        # index of text (Arrow-backed in pandas 3) costs more than a one-event call's
        # other work with the table (ADR 0067)
        self._names: tuple[str, ...] = (
            tuple(columns.to_numpy().tolist()) if names is None else names
        )
        self._dtypes = dtypes
        self._length = length
        self._values = values
        self._parts = parts
        self._codings: dict[str, Coding | None] = {} if codings is None else codings
        self._origin = origin
        # per column, the rows a pooled table last added after this one and its coding
        self._extensions: dict[str, tuple[tuple[Any, ...], Coding]] = {}

    @classmethod
    def of(cls, frame: pd.DataFrame, *, copy: bool = True) -> EventColumns | None:
        """Return ``frame``'s columns, or ``None`` when a column has no column form.

        The arrays are copies, so that a table never changes whatever the caller does to
        its frame later; ``copy=False`` reads them as they are, for a table that lives no
        longer than the caller's call.
        """
        names = tuple(frame.columns.to_numpy().tolist())
        if not all(type(name) is str for name in names) or len(set(names)) != len(names):
            return None
        values: dict[str, npt.NDArray[Any]] = {}
        dtypes = []
        for name, array in zip(names, _frame_arrays(frame), strict=True):
            form = _column_form(array)
            if form is None:
                return None
            values[name] = form[0].copy() if copy else form[0]
            dtypes.append(form[1])
        return cls(frame.columns, tuple(dtypes), len(frame), values, names=names)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in order."""
        return self._names

    @property
    def dtypes(self) -> tuple[Any, ...]:
        """The pandas dtype of each column (as :meth:`to_frame` gives it)."""
        return self._dtypes

    def __len__(self) -> int:
        return self._length

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def same_kind(self, other: EventColumns) -> bool:
        """Whether ``other`` has the same columns with the same dtypes, in the same order.

        Then ``pd.concat`` of their frames keeps the columns and dtypes as they are.
        """
        return (
            self._names == other._names
            and self._dtypes == other._dtypes
            and self._columns.dtype == other._columns.dtype
        )

    def dtype(self, name: str) -> Any:
        """Return the pandas dtype of a column."""
        return self._dtypes[self._names.index(name)]

    def column(self, name: str) -> npt.NDArray[Any]:
        """Return a column's values (UTC times as naive ``datetime64``); do not modify."""
        found = self._values.get(name)
        if found is None:
            if name not in self._names:
                raise KeyError(name)
            found = np.concatenate([part.column(name) for part in self._parts])
            self._values[name] = found
        return found

    def times(self, name: str = "event_time") -> npt.NDArray[np.int64]:
        """Return a time column as int64 nanoseconds since the epoch (UTC)."""
        values = self.column(name)
        out: npt.NDArray[np.int64] = values.astype("datetime64[ns]", copy=False).view(np.int64)
        return out

    def take(self, rows: npt.NDArray[np.intp] | Sequence[int]) -> EventColumns:
        """Return the rows at positions ``rows`` (in that order)."""
        at = np.asarray(rows, dtype=np.intp)
        values = {name: self.column(name)[at] for name in self._names}
        # the codings this table has are renumbered for the rows when first asked for
        origin = (self, at) if self._codings else None
        return EventColumns(
            self._columns, self._dtypes, len(at), values, names=self._names, origin=origin
        )

    def filter(self, mask: npt.NDArray[np.bool_]) -> EventColumns:
        """Return the rows where ``mask`` is true."""
        return self.take(np.flatnonzero(mask))

    @staticmethod
    def concat(parts: Sequence[EventColumns]) -> EventColumns | None:
        """Return the parts one after the other, or ``None`` when their columns differ.

        Columns are concatenated when first read (:meth:`column`); :meth:`settled`
        reads them all at once.
        """
        first = parts[0]
        if not all(first.same_kind(part) for part in parts[1:]):
            return None
        if len(parts) == 1:
            return first
        length = sum(len(part) for part in parts)
        return EventColumns(
            first._columns, first._dtypes, length, {}, tuple(parts), names=first._names
        )

    def settled(self) -> EventColumns:
        """Return the table with every column read (a pooled table no longer needs its parts)."""
        if not self._parts:
            return self
        values = {name: self.column(name) for name in self._names}
        # the codings the first part has are extended now (the parts are let go)
        first = self._parts[0]._codings
        codings = {name: self.coding(name) for name in self._names if name in first}
        return EventColumns(
            self._columns, self._dtypes, self._length, values, names=self._names, codings=codings
        )

    def coding(self, name: str) -> Coding | None:
        """Return ``pandas.factorize`` of a column as a :data:`Coding`, or ``None``.

        Codes number the values by first appearance in the table's rows, ``-1`` for a
        missing value (``None``, NaN). Only columns of plain strings (and missing values)
        and float columns are coded; any other column answers ``None``.

        A table keeps its codings, and the tables made from it derive theirs from them:
        a pooled table (:meth:`concat`) codes only the rows after its first part, a table
        of some rows (:meth:`take`) renumbers the codes of those rows. A live state's open
        events are coded once, and each one-event call codes its one event (ADR 0069).
        """
        found = self._codings.get(name, _NOT_YET)
        if found is _NOT_YET:
            found = self._coded(name)
            self._codings[name] = found
        coding: Coding | None = found
        return coding

    def _extension(self, name: str, rest: list[npt.NDArray[Any]]) -> Coding | None:
        """Return this table's coding of ``name`` extended by the values of ``rest``.

        The last extension is kept: a live call pools the state's events with a request's
        event twice (its vectors, then the state's advance), and the second pooling reads
        the first one's coding. Values are compared with their types (floats by their bits).
        """
        base = self.coding(name)
        if base is None:
            return None
        kind = self.dtype(name).kind
        if kind == "f":
            key: tuple[Any, ...] = tuple(array.tobytes() for array in rest)
        else:
            key = tuple((type(value), value) for array in rest for value in array.tolist())
        kept = self._extensions.get(name)
        if kept is not None and kept[0] == key:
            return kept[1]
        found = _extended(base, rest, kind)
        if found is not None:  # kept keys hold strings, missing values and floats only
            self._extensions[name] = (key, found)
        return found

    def _coded(self, name: str) -> Coding | None:
        kind = self.dtype(name)
        if not isinstance(kind, np.dtype) or kind.kind not in "Of":
            return None
        if self._parts:
            return self._parts[0]._extension(name, [part.column(name) for part in self._parts[1:]])
        if self._origin is not None and name in self._origin[0]._codings:
            source, rows = self._origin
            known = source._codings[name]
            if source._codings.keys() <= self._codings.keys() | {name}:
                self._origin = None  # every coding it had is renumbered: let it go
            return None if known is None else _renumbered(known, rows)
        return _factorized(self.column(name), kind.kind)

    def to_frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        """Return the table as a frame: these columns in order, with their dtypes.

        The frame is made of the arrays as its blocks (one 2-d block of each NumPy dtype,
        as pandas consolidates them); ``index`` defaults to a ``RangeIndex``.
        """
        by_dtype: dict[Any, list[int]] = {}
        blocks: list[tuple[Any, npt.NDArray[np.intp]]] = []
        for at, (name, dtype) in enumerate(zip(self._names, self._dtypes, strict=True)):
            if isinstance(dtype, pd.DatetimeTZDtype):
                times = pd.array(self.column(name), dtype=dtype)
                blocks.append((times, np.array([at], dtype=np.intp)))
            else:
                by_dtype.setdefault(dtype, []).append(at)
        for dtype, positions in by_dtype.items():
            block = np.empty((len(positions), self._length), dtype=dtype)
            for row, at in enumerate(positions):
                block[row] = self.column(self._names[at])
            blocks.append((block, np.asarray(positions, dtype=np.intp)))
        frame: pd.DataFrame = create_dataframe_from_blocks(
            blocks,
            index=pd.RangeIndex(self._length) if index is None else index,
            columns=self._columns,
        )
        return frame


def _factorized(values: npt.NDArray[Any], kind: str) -> Coding | None:
    """Return ``pandas.factorize`` of a column as a :data:`Coding`; ``None`` when not coded.

    A table's own coding: pandas hashes the values (once per table, whatever its length).
    """
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists)
        return None
    found = np.asarray(uniques).tolist()
    if kind == "O" and not all_text(np.asarray(uniques)):
        return None
    return np.asarray(codes, dtype=np.int64), found, {value: at for at, value in enumerate(found)}


def all_text(values: npt.NDArray[Any]) -> bool:
    """Whether every value is exactly a ``str`` (no subclass, none missing); true of none."""
    return set(map(type, values.tolist())) <= {str}


def _extended(base: Coding, arrays: list[npt.NDArray[Any]], kind: str) -> Coding | None:
    """Return ``base`` extended by the values of ``arrays``; ``None`` for a value it cannot code.

    Strings (``kind`` ``"O"``) or floats (``"f"``) are looked up in the values coded so
    far; ``None`` and NaN are missing. ``base`` is left as it is (a new value copies it).
    """
    codes, values, index = base
    more: list[int] = []
    fresh = False
    wanted = str if kind == "O" else float
    for array in arrays:
        for value in array.tolist():
            if value is None or (type(value) is float and math.isnan(value)):
                more.append(-1)
                continue
            if type(value) is not wanted:
                return None
            code = index.get(value)
            if code is None:
                if not fresh:
                    values, index, fresh = list(values), dict(index), True
                code = index[value] = len(values)
                values.append(value)
            more.append(code)
    added = np.asarray(more, dtype=np.int64).reshape(len(more))
    return np.concatenate([codes, added]) if len(codes) else added, values, index


def _renumbered(coding: Coding, rows: npt.NDArray[np.intp]) -> Coding:
    """Return the coding of the column's values at ``rows`` (:func:`in_order` of its codes)."""
    codes, uniques = in_order(coding[0], np.array(coding[1], dtype=object), rows)
    values = uniques.tolist()
    return codes, values, {value: at for at, value in enumerate(values)}


def in_order(
    codes: npt.NDArray[np.int64], uniques: npt.NDArray[Any], order: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """Factorisation of ``values[order]`` from that of ``values`` (codes by first appearance).

    ``order`` may name some rows only, or a row twice; the values none of them has are
    left out.
    """
    taken = codes[order]
    present = taken[taken >= 0]
    appearance = pd.unique(present) if len(present) else present
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[appearance] = np.arange(len(appearance))
    out = np.where(taken >= 0, rank[np.maximum(taken, 0)] if len(rank) else -1, -1)
    return out.astype(np.int64), np.asarray(uniques)[appearance]
