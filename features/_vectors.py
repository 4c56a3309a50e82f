"""Behavioural vectors: one row per identity per window, measured against its own history.

:func:`behaviour_vectors` is the one implementation used by training (a whole period,
no profiles), by the live service (new events, the profiles learned up to the last
window boundary and the recent events as look-back) and by Spark
(``groupBy(identity).applyInPandas`` with ``org_first_use`` computed once for the
organisation). Pandas in, pandas out, no global state; inside, everything is numpy
over the events sorted by (identity, time). ADR 0007 explains why no window sees its
own future, ADR 0008 why incremental and batch results are equal.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from pandas.api.internals import (  # type: ignore[import-not-found]  # not in pandas-stubs
    create_dataframe_from_blocks,
)

from features._catalogue import (
    CHANGE_ACTIONS,
    CHANGE_RESOURCE_TYPES,
    FEATURE_NAMES,
    NOVELTY_DIMENSIONS,
    VECTOR_COLUMNS,
    VECTOR_SCHEMA_VERSION,
)
from features._columns import EventColumns
from features._config import FeatureConfig
from features._exceptions import ConfigurationError
from features._profiles import N_BUCKETS, Profiles, changes_bucket
from features._sequences import sequence_counts
from features._windows import (
    DAY_NS,
    HOURS_OF_WEEK,
    NO_TIME,
    Prepared,
    Prior,
    all_text,
    check_columns,
    coded_first_uses,
    dimension_pair_keys,
    factorize,
    first_uses,
    pooled_events,
    prepare,
    prior_by_key,
    segment_starts,
    segmented_prior,
    to_ns,
)

__all__ = ["behaviour_vectors", "empty_vectors", "first_uses", "org_first_use"]

logger = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

_CONTEXT_DIMENSIONS = frozenset(
    {"region", "network", "country", "asn", "client_family", "client_version"}
)


def empty_vectors() -> pd.DataFrame:
    """Return a vector table without rows, with the right columns and dtypes."""
    frame = pd.DataFrame({name: pd.Series(dtype=np.float64) for name in VECTOR_COLUMNS})
    frame["identity_key"] = frame["identity_key"].astype(object)
    frame["schema_version"] = frame["schema_version"].astype(object)
    for name in ("window_start", "window_end"):
        frame[name] = pd.Series(dtype="datetime64[ns, UTC]")
    frame.attrs["schema_version"] = VECTOR_SCHEMA_VERSION
    return frame


def behaviour_vectors(
    events: pd.DataFrame,
    profiles: Profiles | None = None,
    *,
    recent: pd.DataFrame | EventColumns | None = None,
    config: FeatureConfig | None = None,
    org_first_use: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Turn canonical events into one behavioural vector per identity per window.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events (one or many identities). Vectors are returned for the windows
        that contain at least one of them.
    profiles : Profiles, optional
        History before ``profiles.until``. Without it the events are their own history
        (training): each window is measured against the events before it.
    recent : pandas.DataFrame or EventColumns, optional
        Earlier events kept by the live service (see :class:`features.FeatureState`):
        those before ``profiles.until`` only serve as sequence look-back, later ones
        belong to still-open windows. As columns (a live state's form, ADR 0065) they are
        pooled with ``events`` column by column, as a feature asks for each; the vectors
        are those of the frames pooled.
    config : FeatureConfig, optional
        Settings; must equal ``profiles.config`` when both are given.
    org_first_use : pandas.DataFrame, optional
        ``identity_key``, ``event_name``, ``first_seen`` of the whole organisation, for
        callers that pass one identity at a time (Spark); default: from ``events`` and
        ``recent``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`features.VECTOR_COLUMNS` in order, sorted by identity and window;
        ``attrs["schema_version"]`` and the ``schema_version`` column carry
        :data:`features.VECTOR_SCHEMA_VERSION`.

    Raises
    ------
    InputError
        When a canonical column is missing.
    ConfigurationError
        When ``config`` differs from the profiles' settings.
    """
    if profiles is not None and config is not None and config != profiles.config:
        raise ConfigurationError("config differs from the settings the profiles were learned with")
    profiles = profiles if profiles is not None else Profiles.empty(config)
    config = profiles.config
    check_columns(events)
    frame: pd.DataFrame | EventColumns = events
    if recent is not None and len(recent):
        check_columns(recent)
        recent, frame = pooled_events(recent, events, copy=False)
        is_new_input = np.zeros(len(recent) + len(events), dtype=bool)
        is_new_input[len(recent) :] = True
    else:
        is_new_input = np.ones(len(events), dtype=bool)
    if len(events) == 0:
        return empty_vectors()
    prepared = prepare(frame, config)
    is_new = is_new_input[prepared.order]
    until = profiles.until_ns
    eligible = np.ones(len(prepared), dtype=bool) if until is None else prepared.time >= until
    late = int((is_new & ~eligible).sum())
    if late:
        logger.warning(
            "%d events are older than the profiles (%s) and are ignored", late, profiles.until
        )
    rows = np.flatnonzero(eligible)
    if len(rows) == 0:
        return empty_vectors()
    return _Featuriser(prepared, profiles, rows, is_new[rows], org_first_use).run()


class _Featuriser:
    """One call's computation; holds the eligible rows and their windows."""

    def __init__(
        self,
        prepared: Prepared,
        profiles: Profiles,
        rows: I64,
        is_new: npt.NDArray[np.bool_],
        org_first_use: pd.DataFrame | None,
    ) -> None:
        self.p = prepared
        self.profiles = profiles
        self.config = prepared.config
        self.rows = rows
        self.ident = prepared.ident[rows]
        self.time = prepared.time[rows]
        self.window = prepared.window[rows]
        self.org_first_use = org_first_use
        new_run = segment_starts(self.ident) | segment_starts(self.window)
        self.run_start = np.flatnonzero(new_run)
        self.win = np.cumsum(new_run) - 1
        self.n = len(self.run_start)
        self.w_ident = self.ident[self.run_start]
        self.w_start = self.window[self.run_start]
        self.n_events = np.bincount(self.win, minlength=self.n).astype(np.float64)
        self.output = np.bincount(self.win, weights=is_new, minlength=self.n) > 0
        self.features: dict[str, F64] = {}
        self.index = profiles.index()
        self.identity = self.index.identity_arrays(prepared.identities)

    # -- helpers -------------------------------------------------------------------
    def codes(self, dimension: str) -> tuple[I64, npt.NDArray[np.object_]]:
        codes, names = self.p.codes(dimension)
        return codes[self.rows], names

    def per_window(self, flags: npt.NDArray[Any]) -> F64:
        return np.bincount(self.win, weights=flags, minlength=self.n).astype(np.float64)

    def share(self, flags: npt.NDArray[Any]) -> F64:
        return self.per_window(flags) / self.n_events

    def shares(self, flags: npt.NDArray[np.bool_]) -> F64:
        """:meth:`share` of each row of 2-d ``flags`` (one bincount for all rows)."""
        m = len(flags)
        at = (np.arange(m, dtype=np.int64).reshape(-1, 1) * self.n + self.win).reshape(-1)
        counts = np.bincount(at, weights=flags.reshape(-1), minlength=m * self.n)
        return counts.astype(np.float64).reshape(m, self.n) / self.n_events

    def distinct(self, codes: npt.NDArray[np.int64]) -> F64:
        """Distinct values (codes ``>= 0``) per window, of each row of 2-d ``codes``.

        One sort for every row: the (row, window, value) triples are numbered together.
        """
        valid = codes >= 0
        width = int(codes.max()) + 1 if valid.any() else 1
        m = len(codes)
        group = np.arange(m, dtype=np.int64).reshape(-1, 1) * self.n + self.win
        pairs = np.unique(group[valid] * width + codes[valid])
        counts = np.bincount(pairs // width, minlength=m * self.n)
        return counts.astype(np.float64).reshape(m, self.n)

    # -- families --------------------------------------------------------------------
    def run(self) -> pd.DataFrame:
        self.volume()
        self.identity_history()
        self.novelty()
        self.rhythm()
        self.features.update(
            sequence_counts(
                self.p,
                self.window_of_all_rows(),
                self.w_ident,
                self.w_start + self.config.window_ns,
                self.n,
            )
        )
        self.organisation()
        return self.table()

    def window_of_all_rows(self) -> I64:
        out = np.full(len(self.p), -1, dtype=np.int64)
        out[self.rows] = self.win
        return out

    def volume(self) -> None:
        f = self.features
        f["n_events"] = self.n_events
        change = self.p.flags("is_compute_change")[self.rows]
        self.change = change
        f["n_changes"] = self.per_window(change)
        action, action_names = self.codes("action")
        index = np.array(
            [CHANGE_ACTIONS.index(a) if a in CHANGE_ACTIONS else -1 for a in action_names]
        )
        a = index[action] if len(index) else np.full(len(action), -1)
        self._counts_by(change & (a >= 0), a, CHANGE_ACTIONS, "n_change_")
        rtype, rtype_names = self.codes("resource_type")
        rindex = np.array(
            [
                CHANGE_RESOURCE_TYPES.index(r)
                if r in CHANGE_RESOURCE_TYPES
                else len(CHANGE_RESOURCE_TYPES)
                for r in rtype_names
            ]
        )
        r = np.where(rtype >= 0, rindex[rtype] if len(rindex) else -1, -1)
        self._counts_by(
            change & (r >= 0), r, (*CHANGE_RESOURCE_TYPES, "other_resource"), "n_change_"
        )
        f["n_distinct_resources"] = self.distinct_resources(change)
        family, _ = self.codes("client_family")
        version, version_names = self.codes("client_version")
        client = np.where(version >= 0, version, len(version_names) + np.maximum(family, 0))
        regions, networks, clients = self.distinct(
            np.stack([self.codes("region")[0], self.codes("network")[0], client])
        )
        f["n_distinct_regions"] = regions
        f["n_distinct_networks"] = networks
        f["n_distinct_clients"] = clients
        f["error_ratio"] = self.share(self.codes("error_code")[0] >= 0)

    def _counts_by(
        self, mask: npt.NDArray[np.bool_], index: I64, names: tuple[str, ...], prefix: str
    ) -> None:
        k = len(names)
        counts = np.bincount(self.win[mask] * k + index[mask], minlength=self.n * k).reshape(
            self.n, k
        )
        for j, name in enumerate(names):
            self.features[prefix + name] = counts[:, j].astype(np.float64)

    def distinct_resources(self, change: npt.NDArray[np.bool_]) -> F64:
        selected = np.flatnonzero(change)
        ids = self.p.column("resource_ids")[self.rows[selected]]
        lengths = np.fromiter(
            (len(x) if x is not None else 0 for x in ids), dtype=np.int64, count=len(ids)
        )
        if lengths.sum() == 0:
            return np.zeros(self.n)
        flat = np.concatenate(
            [np.asarray(x, dtype=object) for x in ids if x is not None and len(x)]
        )
        codes, _ = factorize(flat)
        windows = np.repeat(self.win[selected], lengths)
        return self.distinctpair_keys(windows, codes)

    def distinctpair_keys(self, windows: I64, codes: I64) -> F64:
        width = int(codes.max()) + 1 if len(codes) else 1
        pairs = np.unique(windows * width + codes)
        return np.bincount(pairs // width, minlength=self.n).astype(np.float64)

    def identity_history(self) -> None:
        cfg, ident = self.config, self.identity
        prior = self.priors()
        self.prior_events = prior.count
        self.epoch = prior.epoch
        rs = self.run_start
        brk = prior.novel[rs]
        prev_last = prior.last[rs]
        first_window = segment_starts(self.w_ident)
        self.segment = brk | first_window
        self.continues = first_window & ~brk
        continuing = prior.epoch[rs] == 0
        f = self.features
        f["is_new_identity"] = (prev_last == NO_TIME).astype(np.float64)
        f["days_dormant"] = np.where(prev_last != NO_TIME, (self.w_start - prev_last) / DAY_NS, 0.0)
        index = np.arange(self.n)
        segment_first = np.maximum.accumulate(np.where(self.segment, index, 0))
        first_time = self.time[rs][segment_first]
        profile_start = ident["epoch_start"][self.w_ident]
        epoch_start = np.where(continuing & (profile_start != NO_TIME), profile_start, first_time)
        f["history_days"] = np.maximum(self.w_start - epoch_start, 0) / DAY_NS
        day = self.time // DAY_NS
        new_day = segment_starts(day) | segment_starts(self.ident)
        new_day[rs[brk]] = True
        first_rows = np.flatnonzero(segment_starts(self.ident))
        keep_profile = ~prior.novel[first_rows]
        new_day[first_rows[keep_profile]] = (
            day[first_rows[keep_profile]]
            != ident["last_active_day"][self.ident[first_rows[keep_profile]]]
        )
        days = self.per_window(new_day)
        base = np.where(self.continues, ident["active_days"][self.w_ident], 0)
        f["active_days"] = segmented_prior(days, self.segment, base).astype(np.float64)
        f["cold_start"] = (
            (f["history_days"] < cfg.cold_start_days)
            | (f["active_days"] < cfg.cold_start_active_days)
        ).astype(np.float64)

    def priors(self) -> Prior:
        """Return the identities' :class:`Prior`; keep the novelty dimensions' for :meth:`novelty`.

        Every dimension's (identity, value) keys, numbered apart, are made by one sort
        (:func:`dimension_pair_keys`) and looked up in the profiles in one pass; they and the
        identities (keys numbered after them) go through one :func:`prior_by_key` call, which
        treats each key on its own: the answer per dimension and for the identities is the
        one of a call each, for one call's fixed cost (ADRs 0057, 0067, 0069).
        """
        cfg, ident = self.config, self.identity
        dimensions = [dimension for _, dimension in NOVELTY_DIMENSIONS]
        coded = [self.codes(dimension) for dimension in dimensions]
        codes = np.stack([dimension_codes for dimension_codes, _ in coded])
        key, pair_dimension, pair_ident, pair_value = dimension_pair_keys(self.ident, codes)
        value_names = np.concatenate([names for _, names in coded])
        offsets = np.cumsum([0] + [len(names) for _, names in coded[:-1]])
        count, last = self.index.pair_arrays(
            [dimensions[at] for at in pair_dimension.tolist()],
            self.p.identities[pair_ident].tolist(),
            value_names[offsets[pair_dimension] + pair_value].tolist(),
        )
        m, n = codes.shape
        n_pairs = len(pair_dimension)
        prior = prior_by_key(
            np.concatenate([key.reshape(-1), self.ident + n_pairs]),
            np.tile(self.window, m + 1),
            np.tile(self.time, m + 1),
            np.concatenate([count, ident["n_events"]]),
            np.concatenate([last, ident["last_seen"]]),
            cfg.forget_ns,
        )
        self.novelty_codes = codes
        self.novelty_novel = prior.novel[: m * n].reshape(m, n)
        self.novelty_count = prior.count[: m * n].reshape(m, n)
        at = slice(m * n, None)
        return Prior(prior.count[at], prior.last[at], prior.novel[at], prior.epoch[at])

    def novelty(self) -> None:
        cfg = self.config
        prior_total = np.maximum(self.prior_events, 1)
        codes, n = self.novelty_codes, self.novelty_codes.shape[1]
        valid = codes >= 0
        novel_all = self.novelty_novel & valid
        count_all = self.novelty_count
        shares = self.shares(novel_all)
        rare_context = np.zeros(n, dtype=bool)
        for at, (stem, dimension) in enumerate(NOVELTY_DIMENSIONS):
            self.features[f"novel_{stem}_share"] = shares[at]
            if dimension in _CONTEXT_DIMENSIONS:
                rare = valid[at] & (count_all[at] < cfg.rare_share * prior_total)
                rare_context |= novel_all[at] | rare
        self.features["rare_context_share"] = self.share(rare_context)

    def rhythm(self) -> None:
        cfg, f = self.config, self.features
        how, _ = self.codes("hour_of_week")
        width = int(self.epoch.max()) + 1
        ident_epoch, inverse = np.unique(self.ident * width + self.epoch, return_inverse=True)
        key = inverse.astype(np.int64) * HOURS_OF_WEEK + how
        n_keys = len(ident_epoch) * HOURS_OF_WEEK
        count = np.zeros(n_keys, dtype=np.int64)
        last = np.full(n_keys, NO_TIME, dtype=np.int64)
        code, hours, counts = self.index.identity_rows("hour_of_week", self.p.identities)
        if len(hours):
            slot = np.searchsorted(ident_epoch, code * width)
            ok = (code >= 0) & (slot < len(ident_epoch))
            ok[ok] &= ident_epoch[slot[ok]] == code[ok] * width
            target = slot[ok] * HOURS_OF_WEEK + hours[ok].astype(np.int64)
            count[target] = counts[ok]
            last[target] = 0
        prior = prior_by_key(key, self.window, self.time, count, last, None)
        total = self.prior_events.astype(np.float64)
        rare = prior.count < cfg.rare_hour_fraction * total / HOURS_OF_WEEK
        f["rare_hour_share"] = self.share(rare)
        surprise = -np.log2((prior.count + 1.0) / (total + HOURS_OF_WEEK))
        f["hour_surprise"] = self.per_window(surprise) / self.n_events
        n_changes = f["n_changes"].astype(np.int64)
        ident = self.identity
        cont = self.continues
        # the windows, the changes and the histogram of changes per window before each
        # window, by one segmented_prior over their columns (it sums each column apart)
        bucket = changes_bucket(n_changes)
        columns = np.zeros((self.n, N_BUCKETS + 2), dtype=np.int64)
        columns[np.arange(self.n), bucket] = 1
        columns[:, N_BUCKETS] = 1
        columns[:, N_BUCKETS + 1] = n_changes
        base = np.zeros((self.n, N_BUCKETS + 2), dtype=np.int64)
        base[cont, :N_BUCKETS] = self.identity_histogram()[self.w_ident[cont]]
        base[:, N_BUCKETS] = np.where(cont, ident["n_windows"][self.w_ident], 0)
        base[:, N_BUCKETS + 1] = np.where(cont, ident["n_changes"][self.w_ident], 0)
        before = segmented_prior(columns, self.segment, base)
        histogram, windows, changes = (
            before[:, :N_BUCKETS],
            before[:, N_BUCKETS],
            before[:, N_BUCKETS + 1],
        )
        mean = np.divide(changes, windows, out=np.zeros(self.n), where=windows > 0)
        f["change_count_ratio"] = (n_changes + 1.0) / (mean + 1.0)
        at_least = np.cumsum(histogram[:, ::-1], axis=1)[:, ::-1][np.arange(self.n), bucket]
        f["change_count_tail"] = np.divide(
            at_least, windows, out=np.ones(self.n), where=windows > 0
        )

    def identity_histogram(self) -> npt.NDArray[np.int32]:
        out = np.zeros((len(self.p.identities), N_BUCKETS), dtype=np.int32)
        code, buckets, counts = self.index.identity_rows("changes_bucket", self.p.identities)
        if len(buckets):
            out[code, buckets.astype(np.int64)] = counts
        return out

    def organisation(self) -> None:
        cfg = self.config
        codes, names = self.codes("event_name")
        if len(codes) and codes.min() < 0:  # see below: the last action named, in sorted order
            ordered, names = self.p.ordered_codes("event_name")
            codes = ordered[self.rows]
        data_owner, data_action, data_first = self.org_uses()
        # Per row, the identities that used its action before its window: the profile's
        # first uses (kept by action in its index) and those of the uses beyond it.
        # ``arange(...)[codes]`` keeps how a row without an action was always counted (as
        # the last action named, by NumPy's negative index).
        n_action = self.index.users_before(
            names,
            (data_owner, data_action, data_first),
            np.arange(len(names), dtype=np.int64)[codes],
            self.window,
        )
        n_total = self.index.active_before(data_owner, data_first, self.w_start)
        rarity = -np.log2((n_action + 1.0) / (n_total[self.win] + 1.0))
        self.features["org_rare_action_share"] = self.share(n_action < cfg.org_rare_identities)
        self.features["org_action_rarity_max"] = np.maximum.reduceat(rarity, self.run_start)

    def org_uses(self) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], I64]:
        """First uses (:func:`first_uses`) of the organisation beyond the profile's.

        Those of the caller's first-use table when given (Spark), else of the events' own
        uses, from their codes. None has a missing identity or name.
        """
        if self.org_first_use is not None:
            table = self.org_first_use
            return first_uses(
                table["identity_key"].to_numpy(dtype=object),
                table["event_name"].to_numpy(dtype=object),
                to_ns(table["first_seen"]),
            )
        codes, names = self.p.codes("event_name")
        return coded_first_uses(self.p.ident, self.p.identities, codes, names, self.p.time)

    def table(self) -> pd.DataFrame:
        keep = np.flatnonzero(self.output)
        identities = self.p.identities
        rank = np.empty(len(identities), dtype=np.int64)
        rank[np.argsort(identities.astype(str), kind="stable")] = np.arange(len(identities))
        keep = keep[np.lexsort((self.w_start[keep], rank[self.w_ident[keep]]))]
        start = self.w_start[keep]
        missing = set(FEATURE_NAMES) - set(self.features)
        if missing:  # pragma: no cover - a catalogue entry without code is a bug
            raise AssertionError(f"features without implementation: {sorted(missing)}")
        # one (features x windows) array, then the windows kept: two NumPy calls for the
        # 56 features instead of one per feature (ADR 0067)
        block = np.array([self.features[name] for name in FEATURE_NAMES], dtype=np.float64)
        return vector_table(
            identities[self.w_ident[keep]], start, start + self.config.window_ns, block[:, keep]
        )


_FEATURE_INDEX: Final = pd.Index(list(FEATURE_NAMES))
_UTC_NS: Final = pd.DatetimeTZDtype("ns", "UTC")
_STRINGS: Final = pd.DataFrame({"s": np.array(["s"], dtype=object)}).dtypes.iloc[0]
"""The dtype the frame constructor gives strings (``str`` in pandas 3, ``object`` before)."""


def _arrow_text() -> Any:
    """Return the class of :data:`_STRINGS` arrays when they hold ``large_string`` Arrow arrays.

    ``pd.arrays.ArrowStringArray`` when ``pd.array`` makes such arrays (pandas 3 with
    pyarrow), else ``None``: then :func:`_strings` uses ``pd.array``.
    """
    kind = getattr(pd.arrays, "ArrowStringArray", None)
    if kind is None or getattr(_STRINGS, "storage", None) != "pyarrow":
        return None
    made = pd.array(np.array(["s"], dtype=object), dtype=_STRINGS)
    arrow = getattr(made, "_pa_array", None)
    if type(made) is not kind or arrow is None or arrow.type != pa.large_string():
        return None
    return kind


_ARROW_TEXT: Final = _arrow_text()


def vector_table(
    identity: npt.NDArray[np.object_], start: I64, end: I64, features: F64
) -> pd.DataFrame:
    """Assemble the vector table: key columns, then the features as one float64 block.

    ``features`` has one row per feature (:data:`features.FEATURE_NAMES`), one column
    per vector. The same frame as a column-by-column constructor (values, dtypes, labels),
    built with the column labels made once and the features in one block: on a live
    call's one or two rows the constructor's per-column work was a tenth of the
    featuriser's cost (ADR 0057). When the keys are text (pandas' ``str`` arrays), the
    frame is made of its five blocks directly, without the constructor and the
    concatenation (ADR 0066).
    """
    n = len(identity)
    block = np.empty((len(FEATURE_NAMES), n), dtype=np.float64)
    block[:] = features
    keys = _strings(identity)
    versions = _strings(np.full(n, VECTOR_SCHEMA_VERSION, dtype=object))
    if isinstance(keys, pd.api.extensions.ExtensionArray) and isinstance(
        versions, pd.api.extensions.ExtensionArray
    ):
        frame: pd.DataFrame = create_dataframe_from_blocks(
            [
                (keys, _AT[0]),
                (_utc(start), _AT[1]),
                (_utc(end), _AT[2]),
                (versions, _AT[3]),
                (block, _FEATURES_AT),
            ],
            index=pd.RangeIndex(n),
            columns=_VECTOR_INDEX,
        )
    else:  # no rows, or keys that are not all text: the constructor infers their dtype
        frame = pd.concat(
            [
                pd.DataFrame(
                    {
                        "identity_key": keys,
                        "window_start": _utc(start),
                        "window_end": _utc(end),
                        "schema_version": versions,
                    }
                ),
                pd.DataFrame(block.T, columns=_FEATURE_INDEX),
            ],
            axis=1,
        )
    frame.attrs["schema_version"] = VECTOR_SCHEMA_VERSION
    return frame


_KEY_COLUMNS: Final = ("identity_key", "window_start", "window_end", "schema_version")
_VECTOR_INDEX: Final = pd.concat(
    [pd.DataFrame(columns=list(_KEY_COLUMNS)), pd.DataFrame(columns=_FEATURE_INDEX)], axis=1
).columns
"""The vector table's column labels, as the concatenation of its two parts labels them."""
_AT: Final = tuple(np.array([at], dtype=np.intp) for at in range(len(_KEY_COLUMNS)))
_FEATURES_AT: Final = np.arange(len(_KEY_COLUMNS), len(_KEY_COLUMNS) + len(FEATURE_NAMES))
_SIMPLE_NEW: Final = getattr(pd.arrays.DatetimeArray, "_simple_new", None)
"""pandas' constructor of a times array from its values and dtype, without checks."""


def _utc(ns: I64) -> Any:
    """Int64 ns as UTC times: ``pd.to_datetime(ns, utc=True)``, without its parsing work.

    No rows go through ``to_datetime`` itself, whose unit for an empty array (seconds in
    pandas 3) the table has always had. The array is made from the values and the dtype
    by ``DatetimeArray._simple_new`` (pandas-private: a fifteenth of ``pd.array``'s cost
    per call, ADR 0067), or by ``pd.array`` when pandas lacks it
    (``tests/features/test_featuriser_fast_paths.py`` holds the two equal).
    """
    if not len(ns):
        return pd.to_datetime(ns, utc=True)
    values = np.ascontiguousarray(ns, dtype=np.int64).view("datetime64[ns]")
    if _SIMPLE_NEW is not None:
        return _SIMPLE_NEW(values, dtype=_UTC_NS)
    return pd.array(values, dtype=_UTC_NS)


def _strings(values: npt.NDArray[np.object_]) -> Any:
    """Strings as pandas' ``str`` array, which is what the frame constructor infers for them.

    Made directly, without the constructor's inference over the objects; anything else
    (no rows, a value that is not a string) is left to the constructor, as before. When
    that dtype keeps its text in Arrow, the Arrow array is made by ``pyarrow`` itself
    (half of ``pd.array``'s cost on a row or two, ADR 0067).
    """
    if np.dtype(object) != _STRINGS and len(values) and all_text(values):
        if _ARROW_TEXT is not None:
            return _ARROW_TEXT(pa.array(values, type=pa.large_string()), dtype=_STRINGS)
        return pd.array(values, dtype=_STRINGS)
    return values


def org_first_use(events: pd.DataFrame) -> pd.DataFrame:
    """Return the first use of each event name by each identity of ``events``.

    The ``org_first_use`` argument of :func:`behaviour_vectors`, for callers that featurise
    the organisation one identity group at a time (Spark) and must give each group the
    whole organisation's table.

    Returns
    -------
    pandas.DataFrame
        ``identity_key``, ``event_name``, ``first_seen`` (UTC): one row per pair.
    """
    owner, action, first = first_uses(
        events["identity_key"].to_numpy(dtype=object),
        events["event_name"].to_numpy(dtype=object),
        to_ns(events["event_time"]) if len(events) else np.zeros(0, dtype=np.int64),
    )
    return pd.DataFrame(
        {
            "identity_key": owner,
            "event_name": action,
            "first_seen": pd.to_datetime(first, utc=True).astype("datetime64[ns, UTC]"),
        }
    )
