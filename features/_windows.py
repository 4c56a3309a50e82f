"""Vectorised building blocks: sorted event arrays, windows, and per-key history before a window.

Everything here works on numpy arrays of one prepared event table, sorted by
(identity, time). Times are int64 nanoseconds since the Unix epoch (UTC); a missing
time is :data:`NO_TIME`. The central routine, :func:`prior_by_key`, answers for every
event "how often, and when last, was this key used *before this event's window*",
with a key forgotten after a gap longer than ``forget_ns`` (see ADR 0007).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from features._columns import EventColumns, all_text, in_order
from features._config import FeatureConfig
from features._exceptions import InputError

__all__ = [
    "DAY_NS",
    "HOURS_OF_WEEK",
    "NO_TIME",
    "Prepared",
    "Prior",
    "all_text",
    "coded_first_uses",
    "count_before",
    "dimension_pair_keys",
    "earliest_by",
    "factorize",
    "first_uses",
    "not_among",
    "pair_keys",
    "prepare",
    "prior_by_key",
    "segment_starts",
    "segmented_prior",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

NO_TIME: Final = np.iinfo(np.int64).min
"""Stands for "never" in int64 nanosecond arrays."""

DAY_NS: Final = 86_400 * 10**9
HOURS_OF_WEEK: Final = 168
_HOUR_NS: Final = 3_600 * 10**9
_MONDAY_OFFSET_NS: Final = 3 * DAY_NS  # 1970-01-01 was a Thursday

REQUIRED_COLUMNS: Final = (
    "event_id",
    "event_time",
    "account_id",
    "region",
    "event_name",
    "error_code",
    "resource_type",
    "action",
    "is_compute_change",
    "resource_ids",
    "attribute",
    "share_targets",
    "identity_key",
    "network",
    "client_family",
    "client_version",
    "country",
    "asn",
)
"""Canonical columns the vectors read."""


def to_ns(values: Any) -> I64:
    """Return event times as int64 nanoseconds since the epoch, UTC.

    ``values``: a Series, an array or a sequence of times. Zoned times (a Series or the
    ``DatetimeArray`` a frame holds: window bounds, event times) are read as they are,
    without a Series made of them; anything else is parsed as UTC.
    """
    array = values.array if isinstance(values, pd.Series) else values
    if isinstance(array, pd.arrays.DatetimeArray) and isinstance(array.dtype, pd.DatetimeTZDtype):
        # already aware (stored in UTC): no conversion, one cast (the common, hot case)
        out: I64 = array.to_numpy(dtype="datetime64[ns]").view(np.int64)
        return out if out.flags.writeable else out.copy()
    series = pd.Series(values)
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        series = pd.to_datetime(series, utc=True)
    return series.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]").view(np.int64)


def check_columns(events: pd.DataFrame | EventColumns) -> None:
    """Raise :class:`InputError` naming the canonical columns ``events`` lacks."""
    if isinstance(events, EventColumns):
        names = frozenset(events.names)
    else:  # the labels as one array (the index's own lookups are built per new frame)
        names = frozenset(events.columns.to_numpy().tolist())
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise InputError(f"canonical event table lacks columns {missing}")


@dataclass(slots=True)
class Prepared:
    """An event table sorted by (identity, time), with integer codes and windows.

    The sorted table is not copied: each column is read from ``source`` the first time a
    feature asks for it (:meth:`column`), as a NumPy array in the sorted order, and kept.
    A live call featurises a handful of events, where copying the eighteen canonical
    columns into a sorted frame cost more than all the arithmetic (ADR 0057). A live
    state's events come as :class:`features.EventColumns`, whose columns are arrays
    already (ADR 0065).

    Attributes
    ----------
    source : pandas.DataFrame or EventColumns
        The events as given (unsorted); ``order`` indexes into its rows.
    identities : numpy.ndarray
        Identity keys; ``ident`` indexes into it.
    ident, time, window : numpy.ndarray
        Per event: identity code, time (ns) and window start (ns).
    order : numpy.ndarray
        Position in the input table of each sorted event.
    """

    source: pd.DataFrame | EventColumns
    identities: npt.NDArray[np.object_]
    ident: I64
    time: I64
    window: I64
    config: FeatureConfig
    order: I64
    _codes: dict[str, tuple[I64, npt.NDArray[np.object_]]] = field(default_factory=dict)
    _series: dict[str, pd.Series] = field(default_factory=dict)
    _columns: dict[str, npt.NDArray[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.time)

    def series(self, name: str) -> pd.Series:
        """Return a column of ``source`` (unsorted; looked up once)."""
        found = self._series.get(name)
        if found is None:
            source = self.source
            if isinstance(source, EventColumns):
                found = pd.Series(source.column(name), dtype=source.dtype(name), copy=False)
            else:
                found = source[name]
            self._series[name] = found
        return found

    def dtype(self, name: str) -> Any:
        """Return the dtype of a column of ``source``."""
        if isinstance(self.source, EventColumns):
            return self.source.dtype(name)
        return self.series(name).dtype

    def _unsorted(self, name: str) -> npt.NDArray[Any] | pd.Series:
        """Return a column of ``source`` as held: an array (columns), else a Series."""
        if isinstance(self.source, EventColumns):
            return self.source.column(name)
        return self.series(name)

    def column(self, name: str) -> npt.NDArray[Any]:
        """Return a canonical column's values in the sorted order (read once, then kept)."""
        values = self._columns.get(name)
        if values is None:
            unsorted = self._unsorted(name)
            if isinstance(unsorted, pd.Series):
                unsorted = unsorted.to_numpy()
            values = np.asarray(unsorted)[self.order]
            self._columns[name] = values
        return values

    def objects_at(self, name: str, rows: I64) -> npt.NDArray[np.object_]:
        """Return a column's values at sorted positions ``rows``, as Python objects.

        Only those rows are converted when the whole column has not been read already
        (a few sequence steps among a month of events).
        """
        if name in self._columns or len(self) <= _SMALL or isinstance(self.source, EventColumns):
            return np.asarray(self.column(name)[rows], dtype=object)
        taken: npt.NDArray[np.object_] = (
            self.series(name).take(self.order[rows]).to_numpy(dtype=object)
        )
        return taken

    def flags(self, name: str) -> Bools:
        """Return a boolean column (``is_compute_change``) in the sorted order."""
        return np.asarray(self.column(name), dtype=bool)

    def codes(self, dimension: str) -> tuple[I64, npt.NDArray[np.object_]]:
        """Return per-event codes (``-1`` for missing) and the value strings of a dimension.

        The codes number the values by first appearance in the sorted order, except where
        ``source`` is a table that keeps its codings (:meth:`EventColumns.coding`, a live
        state's events): there they number them by first appearance in the table's rows,
        taken as they are (ADR 0069). The featuriser reads codes only as labels of values
        (the same code, the same value), so either numbering gives it the same vectors;
        :meth:`ordered_codes` gives the sorted order's numbering where it matters.
        """
        if dimension not in self._codes:
            self._codes[dimension] = self._compute_codes(dimension)
        return self._codes[dimension]

    def ordered_codes(self, dimension: str) -> tuple[I64, npt.NDArray[np.object_]]:
        """:meth:`codes` numbered by first appearance in the sorted order, always."""
        codes, names = self.codes(dimension)
        return in_order(codes, names, np.arange(len(codes)))

    def _compute_codes(self, dimension: str) -> tuple[I64, npt.NDArray[np.object_]]:
        if dimension == "client_version":
            family, families = self.codes("client_family")
            version, versions = self._factorized("client_version")
            combined = np.where(
                (family >= 0) & (version >= 0), family * max(len(versions), 1) + version, -1
            )
            codes, uniques = factorize(combined)
            pairs = uniques.astype(np.int64)
            ok = pairs >= 0
            names = np.array(
                [
                    f"{families[p // len(versions)]}/{versions[p % len(versions)]}" if good else ""
                    for p, good in zip(pairs.tolist(), ok.tolist(), strict=True)
                ],
                dtype=object,
            )
            codes = np.where(combined >= 0, codes, -1).astype(np.int64)
            return codes, names
        if dimension == "hour_of_week":
            how = ((self.time + _MONDAY_OFFSET_NS) // _HOUR_NS) % HOURS_OF_WEEK
            return how.astype(np.int64), _HOUR_NAMES
        if dimension == "asn":
            kept = self._kept_coding("asn")
            if kept is not None:  # NaN missing, the numbers coded as they are
                numbers = _whole_numbers(np.array(kept[1], dtype=np.float64))
                return kept[0], np.array([str(int(v)) for v in numbers.tolist()], dtype=object)
            values = _whole_numbers(self._unsorted("asn"))[self.order]
            asn_codes, asns = factorize(values)
            return asn_codes, np.array([str(int(v)) for v in asns.tolist()], dtype=object)
        return self._factorized(dimension)

    def _factorized(self, name: str) -> tuple[I64, npt.NDArray[np.object_]]:
        """Codes of a column in the sorted order, as ``pandas.factorize`` of the sorted column.

        A few events are coded from their sorted values (:func:`factorize`'s dictionary);
        many are coded by pandas over the unsorted column (Arrow's own hashing for string
        columns, no conversion to Python objects) and renumbered in sorted order of first
        appearance, which gives the same codes and values.
        """
        kept = self._kept_coding(name)
        if kept is not None:
            return kept[0], _texts(np.array(kept[1], dtype=object))
        column = self._unsorted(name)
        if isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy().astype(np.int64)[self.order]  # categories' order
            return codes, np.asarray(column.cat.categories.astype(str), dtype=object)
        if len(self) <= _SMALL:
            codes, uniques = factorize(self.column(name))
        else:
            codes, uniques = in_order(*factorize(column), self.order)
        return codes, _texts(uniques)

    def _kept_coding(self, name: str) -> tuple[I64, list[Any]] | None:
        """Return the source table's coding, its codes in the sorted order (``None``: none)."""
        if not isinstance(self.source, EventColumns):
            return None
        coding = self.source.coding(name)
        return None if coding is None else (coding[0][self.order], coding[1])


def _texts(uniques: npt.NDArray[Any]) -> npt.NDArray[np.object_]:
    """Return the values as strings (``astype(str)``), kept as they are when strings."""
    values = np.asarray(uniques, dtype=object)
    if all_text(values):
        return values
    texts: npt.NDArray[np.object_] = values.astype(str).astype(object)
    return texts


def _whole_numbers(column: pd.Series | npt.NDArray[Any]) -> F64:
    """``column.astype("Int64")`` as floats, NaN where missing (the ``asn`` codes' input).

    A float column of whole numbers is read as it is; anything else goes through pandas'
    conversion, which also raises for values that are not whole numbers.
    """
    if column.dtype == np.float64:
        values = np.asarray(column.to_numpy() if isinstance(column, pd.Series) else column)
        finite = values[~np.isnan(values)]
        if np.all((np.mod(finite, 1) == 0) & (np.abs(finite) < 2.0**53)):
            whole: F64 = values + 0.0  # a copy, and -0.0 read as 0 like the Int64 cast
            return whole
    series = column if isinstance(column, pd.Series) else pd.Series(column, copy=False)
    if series.dtype != "Int64":
        series = series.astype("Int64")
    numbers: F64 = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers


_HOUR_NAMES: Final = np.array([str(h) for h in range(HOURS_OF_WEEK)], dtype=object)
_SMALL: Final = 64
"""Up to this many values, :func:`factorize` hashes in a Python loop (no pandas overhead)."""


def factorize(values: npt.NDArray[Any] | pd.Series) -> tuple[I64, npt.NDArray[Any]]:
    """Return ``pandas.factorize(values, use_na_sentinel=True)`` as (int64 codes, uniques).

    Codes follow first appearance, ``-1`` marks a missing value (``None``, NaN, ``pd.NA``).
    A few values of the common kinds (strings, missing values; or a short int64 array) are
    coded by a loop over a dictionary, which gives the same codes as pandas in a fraction of
    its fixed cost per call; anything else goes to pandas. Both give identical results
    (``tests/features/test_featuriser_fast_paths.py``).
    """
    if len(values) <= _SMALL:
        array = values.to_numpy() if isinstance(values, pd.Series) else values
        small = _small_factorize(np.asarray(array))
        if small is not None:
            return small
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques)


def _small_factorize(values: npt.NDArray[Any]) -> tuple[I64, npt.NDArray[Any]] | None:
    """Code by a dictionary (:func:`factorize`), or ``None`` for values it does not cover."""
    kind = values.dtype.kind
    if kind not in "Ofi":
        return None
    seen: dict[Any, int] = {}
    codes = []
    for value in values.tolist():
        if type(value) is str or (kind == "i" and type(value) is int):
            codes.append(seen.setdefault(value, len(seen)))
        elif value is None or (type(value) is float and math.isnan(value)):
            codes.append(-1)
        elif kind == "f" and type(value) is float:
            codes.append(seen.setdefault(value, len(seen)))
        else:
            return None
    uniques = np.empty(len(seen), dtype=values.dtype if kind in "fi" else object)
    uniques[:] = list(seen)
    return np.asarray(codes, dtype=np.int64).reshape(len(values)), uniques


def prepare(events: pd.DataFrame | EventColumns, config: FeatureConfig) -> Prepared:
    """Sort ``events`` by (identity, time) and derive codes and window starts.

    ``events`` is a frame, or the same table as :class:`features.EventColumns`.

    Raises
    ------
    InputError
        When a canonical column is missing or an event has no time or identity.
    """
    check_columns(events)
    keys: pd.Series | npt.NDArray[Any]
    coding = None
    if isinstance(events, EventColumns):  # the identities' codes as the table keeps them
        time, keys = events.times(), events.column("identity_key")
        coding = events.coding("identity_key")
    else:
        time, keys = to_ns(events["event_time"]), events["identity_key"]
    if len(time) and (time == NO_TIME).any():
        raise InputError("event_time: missing in some events")
    if coding is not None:  # factorize(keys), kept by the table
        ident_codes, identities = coding[0], np.array(coding[1], dtype=object)
    else:
        ident_codes, identities = factorize(keys)
    if (ident_codes < 0).any():
        raise InputError("identity_key: missing in some events")
    order = np.lexsort((time, ident_codes))
    time = time[order]
    window_ns = config.window_ns
    return Prepared(
        source=events,
        identities=np.asarray(identities, dtype=object),
        ident=ident_codes[order],
        time=time,
        window=time - np.mod(time, window_ns),
        config=config,
        order=order.astype(np.int64),
    )


def pair_keys(ident: I64, codes: I64) -> tuple[I64, I64, I64]:
    """Dense code of each event's (identity, value) pair, ``-1`` where the value is missing.

    Returns the per-event key and, per key, its identity code and value code
    (:func:`dimension_pair_keys` of one dimension).
    """
    key, _, pair_ident, pair_value = dimension_pair_keys(ident, codes.reshape(1, -1))
    return key.reshape(-1), pair_ident, pair_value


def dimension_pair_keys(ident: I64, codes: npt.NDArray[np.int64]) -> tuple[I64, I64, I64, I64]:
    """:func:`pair_keys` of several dimensions at once, numbered apart.

    ``codes`` has one row of value codes per dimension (``-1`` missing), ``ident`` one
    identity code per event (column). The keys are numbered in the order of
    (dimension, identity, value): a dimension's keys are those :func:`pair_keys` gives it,
    plus the number of keys of the dimensions before it. A few events' pairs of every
    dimension are numbered by one sort instead of one per dimension (a live call's novelty
    features, ADR 0067); many events' by one sort per dimension, which costs less than
    one sort of them all.

    Returns
    -------
    key : numpy.ndarray
        Per dimension and event (the shape of ``codes``), ``-1`` where the value is missing.
    pair_dimension, pair_ident, pair_value : numpy.ndarray
        Per key: its dimension (row of ``codes``), identity code and value code.
    """
    if codes.shape[0] > 1 and codes.shape[1] > _SMALL:
        parts = [_numbered_pairs(ident, row.reshape(1, -1)) for row in codes]
        offsets = np.cumsum([0] + [len(part[1]) for part in parts[:-1]]).tolist()
        key = np.stack(
            [np.where(p[0][0] >= 0, p[0][0] + at, -1) for p, at in zip(parts, offsets, strict=True)]
        )
        pair_dimension = np.concatenate(
            [np.full(len(part[1]), at, dtype=np.int64) for at, part in enumerate(parts)]
        )
        return (
            key,
            pair_dimension,
            np.concatenate([part[2] for part in parts]),
            np.concatenate([part[3] for part in parts]),
        )
    return _numbered_pairs(ident, codes)


def _numbered_pairs(ident: I64, codes: npt.NDArray[np.int64]) -> tuple[I64, I64, I64, I64]:
    """:func:`dimension_pair_keys` by one sort of every dimension's pairs."""
    valid = codes >= 0
    width = int(codes.max()) + 1 if valid.any() else 1
    span = (int(ident.max()) + 1 if len(ident) else 1) * width
    dimension = np.arange(codes.shape[0], dtype=np.int64).reshape(-1, 1)
    combined = dimension * span + ident.reshape(1, -1) * width + codes
    pairs, inverse = np.unique(combined[valid], return_inverse=True)
    key = np.full(codes.shape, -1, dtype=np.int64)
    key[valid] = inverse.reshape(-1)
    within = pairs % span
    return key, pairs // span, within // width, within % width


def segment_starts(keys: I64) -> Bools:
    """Return flags of the rows where a run of equal consecutive keys begins."""
    starts = np.ones(len(keys), dtype=bool)
    if len(keys) > 1:
        starts[1:] = keys[1:] != keys[:-1]
    return starts


def segmented_prior(values: npt.NDArray[Any], starts: Bools, base: npt.NDArray[Any]) -> Any:
    """Sum of ``values`` over earlier rows of the same segment, plus the segment's ``base``.

    A segment begins at every ``True`` of ``starts``; ``base`` is read at the segment's
    first row. Works on 1-d arrays and on 2-d arrays row-wise (histograms).
    """
    n = len(values)
    cumulative = np.cumsum(values, axis=0)
    exclusive = np.zeros_like(cumulative)
    exclusive[1:] = cumulative[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else starts.astype(int)
    return exclusive - exclusive[first] + base[first]


@dataclass(frozen=True, slots=True)
class Prior:
    """History of every event's key before the event's window (see :func:`prior_by_key`).

    Per event (in the prepared order): ``count`` of earlier uses in the key's current
    epoch, ``last`` time of the latest earlier use (:data:`NO_TIME` if none), ``novel``
    (no use within ``forget_ns`` before the window: a new epoch of the key begins) and
    ``epoch`` (0 continues the profile's epoch, each break adds one).
    """

    count: I64
    last: I64
    novel: Bools
    epoch: I64


def prior_by_key(
    key: I64,
    window: I64,
    time: I64,
    profile_count: I64,
    profile_last: I64,
    forget_ns: int | None,
) -> Prior:
    """For each event, the use of its key before the event's window.

    Parameters
    ----------
    key : numpy.ndarray
        Dense key code per event (``0 .. n_keys-1``), or ``-1`` for no key (results 0).
        Events of one key must be in time order (true for the prepared order when the
        key includes the identity).
    window, time : numpy.ndarray
        Window start and time of each event (ns).
    profile_count, profile_last : numpy.ndarray
        Per key code: uses and last use (:data:`NO_TIME` if none) in the profile.
    forget_ns : int or None
        A gap longer than this between a use and the next window starts a new epoch.

    Returns
    -------
    Prior
    """
    n = len(key)
    count = np.zeros(n, dtype=np.int64)
    last = np.full(n, NO_TIME, dtype=np.int64)
    novel = np.zeros(n, dtype=bool)
    epoch = np.zeros(n, dtype=np.int64)
    valid = np.flatnonzero(key >= 0)
    if len(valid) == 0:
        return Prior(count, last, novel, epoch)
    order = valid[np.argsort(key[valid], kind="stable")]
    k, w, t = key[order], window[order], time[order]
    m = len(order)
    new_key = segment_starts(k)
    new_run = new_key.copy()
    new_run[1:] |= w[1:] != w[:-1]
    start = np.flatnonzero(new_run)
    end = np.append(start[1:], m)
    run_key, run_window = k[start], w[start]
    run_size = end - start
    run_last = t[end - 1]
    first_of_key = new_key[start]
    prev_last = np.empty(len(start), dtype=np.int64)
    prev_last[1:] = run_last[:-1]
    prev_last[first_of_key] = profile_last[run_key[first_of_key]]
    has_prev = prev_last != NO_TIME
    brk = ~has_prev
    if forget_ns is not None:
        brk |= has_prev & (prev_last < run_window - forget_ns)
    base = np.where(first_of_key & ~brk, profile_count[run_key], 0)
    run_count = segmented_prior(run_size, brk | first_of_key, base)
    breaks = np.cumsum(brk)
    key_first = np.maximum.accumulate(np.where(first_of_key, np.arange(len(start)), 0))
    run_epoch = breaks - breaks[key_first] + brk[key_first]
    run_of_row = np.cumsum(new_run) - 1
    count[order] = run_count[run_of_row]
    last[order] = prev_last[run_of_row]
    novel[order] = brk[run_of_row]
    epoch[order] = run_epoch[run_of_row]
    return Prior(count, last, novel, epoch)


def count_before(item_group: I64, item_time: I64, query_group: I64, query_time: I64) -> I64:
    """For each query, the number of items of the same group with ``time < query_time``."""
    n_items = len(item_group)
    if n_items == 0:  # none before any query (a live call's snapshots, mostly)
        return np.zeros(len(query_group), dtype=np.int64)
    groups = np.concatenate([item_group, query_group])
    times = np.concatenate([item_time, query_time])
    is_item = np.concatenate(
        [np.ones(n_items, dtype=np.int64), np.zeros(len(query_group), dtype=np.int64)]
    )
    order = np.lexsort((is_item, times, groups))
    sorted_items = is_item[order]
    before = np.cumsum(sorted_items) - sorted_items
    group_first = np.maximum.accumulate(
        np.where(segment_starts(groups[order]), np.arange(len(order)), 0)
    )
    result = before - before[group_first]
    out = np.zeros(len(query_group), dtype=np.int64)
    queries = sorted_items == 0
    out[order[queries] - n_items] = result[queries]
    return out


def earliest_by(owner: npt.NDArray[np.object_], time: I64) -> tuple[npt.NDArray[np.object_], I64]:
    """Each distinct non-missing ``owner`` and its earliest ``time``."""
    codes, uniques = factorize(owner)
    valid = codes >= 0
    first = np.full(len(uniques), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, codes[valid], time[valid])
    return np.asarray(uniques, dtype=object), first


def first_uses(
    identities: npt.ArrayLike, names: npt.ArrayLike, times: npt.ArrayLike
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], I64]:
    """Return the earliest use of each (identity, event name) pair among the uses given.

    The organisation's first-use table (ADR 0008): what the organisation features count
    identities in. Uses with a missing identity or name are left out.

    Returns
    -------
    identity, name, first : numpy.ndarray
        One entry per distinct pair; ``first`` in the unit of ``times``.
    """
    owner_codes, owners = factorize(np.asarray(identities, dtype=object))
    action_codes, actions = factorize(np.asarray(names, dtype=object))
    return coded_first_uses(
        owner_codes, owners, action_codes, actions, np.asarray(times, dtype=np.int64)
    )


def coded_first_uses(
    owner_codes: I64,
    owners: npt.NDArray[Any],
    action_codes: I64,
    actions: npt.NDArray[Any],
    time: I64,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], I64]:
    """:func:`first_uses` of uses given as codes (``-1`` missing) into ``owners``, ``actions``.

    What the featuriser's own events give: their identities and event names coded already.
    """
    valid = (owner_codes >= 0) & (action_codes >= 0)
    width = max(len(actions), 1)
    key = owner_codes[valid].astype(np.int64) * width + action_codes[valid]
    pairs, inverse = np.unique(key, return_inverse=True)
    first = np.full(len(pairs), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, inverse.reshape(-1), time[valid])
    return (
        np.asarray(owners, dtype=object)[pairs // width],
        np.asarray(actions, dtype=object)[pairs % width],
        first,
    )


def not_among(
    values: pd.Series | npt.NDArray[Any], among: pd.Series | npt.NDArray[Any]
) -> npt.NDArray[np.bool_]:
    """``~values.isin(among)``, by a set of ``among`` when no value is missing (pandas then).

    What the featuriser and :class:`features.FeatureState` keep of earlier events when a
    call brings some of them again (event ids; resends replace the kept copies). Arrays
    are read as the Series of them.
    """
    left = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    right = among.to_numpy() if isinstance(among, pd.Series) else np.asarray(among)
    if not (all_text(left) and all_text(right)) and (
        pd.isna(left).any() or pd.isna(right).any()
    ):  # pandas' own rules for missing ids
        series = values if isinstance(values, pd.Series) else pd.Series(left, copy=False)
        return np.asarray(~series.isin(right if isinstance(among, np.ndarray) else among))
    wanted = set(right.tolist())
    return np.fromiter((v not in wanted for v in left.tolist()), dtype=bool, count=len(left))


def pooled_events(
    recent: pd.DataFrame | EventColumns, events: pd.DataFrame, *, copy: bool
) -> tuple[pd.DataFrame | EventColumns, pd.DataFrame | EventColumns]:
    """Return the earlier events ``events`` does not bring again, and those then ``events``.

    What the featuriser and :class:`features.FeatureState` measure a call's events with:
    a resent event replaces its earlier copy. Earlier events held as columns (a live
    state's, ADR 0065) are pooled as columns when ``events`` has the same ones (``copy``:
    whether the table copies the arrays of ``events``, see :meth:`EventColumns.of`);
    otherwise the frames are pooled by ``pd.concat``.
    """
    if isinstance(recent, EventColumns):
        new = EventColumns.of(events, copy=copy) if len(events) else None
        if new is not None and recent.same_kind(new):
            kept = not_among(recent.column("event_id"), new.column("event_id"))
            held = recent if kept.all() else recent.filter(kept)
            pooled = EventColumns.concat([held, new])
            if pooled is not None:
                return held, pooled
        recent = recent.to_frame()
    kept = not_among(recent["event_id"], events["event_id"])
    if not kept.all():
        recent = recent[kept]
    return recent, pd.concat([recent, events], ignore_index=True)
