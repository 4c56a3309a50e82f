"""Identity profiles: what each identity did before a point in time, stored without pickle.

A :class:`Profiles` summarises every event before ``until`` (a window boundary):

* ``identities``: per identity its first and last activity ever, and for its current
  *epoch* (activity since it last returned from ``forget_days`` of silence) the epoch
  start, active days, events, active windows and compute changes;
* ``values``: per identity, dimension and value (event name, resource type, region,
  network, country, ASN, client family, client version; hour of the week and the
  log2 bucket of per-window change counts) how often and when it was used;
* ``org_actions``: per event name, which identities ever used it and since when.

Profiles are learned by :func:`build_profiles`, extended with a later period by
:meth:`Profiles.update` / :func:`merge_profiles` (exactly as if learned from both
periods at once) and stored as a directory of Parquet files plus a JSON manifest.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from features._config import FeatureConfig
from features._exceptions import ConfigurationError, InputError
from features._profile_index import INDEX_VERSION, ProfileIndex
from features._windows import (
    DAY_NS,
    NO_TIME,
    Prepared,
    pair_keys,
    prepare,
    prior_by_key,
    segment_starts,
    to_ns,
)

__all__ = [
    "EPOCH_DIMENSIONS",
    "PROFILE_SCHEMA_VERSION",
    "VALUE_DIMENSIONS",
    "Profiles",
    "build_profiles",
    "changes_bucket",
    "merge_profiles",
]

logger = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]

PROFILE_SCHEMA_VERSION: Final = "1"
"""Version of the stored profile layout."""

VALUE_DIMENSIONS: Final = (
    "event_name",
    "resource_type",
    "region",
    "network",
    "country",
    "asn",
    "client_family",
    "client_version",
)
"""Dimensions whose values are remembered per identity and forgotten after ``forget_days``."""

EPOCH_DIMENSIONS: Final = ("hour_of_week", "changes_bucket")
"""Histogram dimensions that live as long as the identity's epoch."""

N_BUCKETS: Final = 21
"""Buckets of per-window change counts: 0, then 1, 2-3, 4-7, ... (log2), capped."""

_UTC = "UTC"
IDENTITY_COLUMNS: Final = (
    "identity_key",
    "first_seen",
    "last_seen",
    "epoch_start",
    "active_days",
    "last_active_day",
    "n_events",
    "n_windows",
    "n_changes",
)
VALUE_COLUMNS: Final = ("identity_key", "dimension", "value", "count", "first_seen", "last_seen")
ORG_COLUMNS: Final = ("event_name", "identity_key", "first_seen")
_TIME_COLUMNS: Final = frozenset({"first_seen", "last_seen", "epoch_start"})
_FILES: Final = {"identities": "identities.parquet", "values": "values.parquet"}
_MANIFEST: Final = "manifest.json"


def changes_bucket(n_changes: npt.NDArray[Any]) -> I64:
    """Log2 bucket of per-window change counts: 0 -> 0, 1 -> 1, 2-3 -> 2, 4-7 -> 3 ..."""
    n = np.asarray(n_changes, dtype=np.int64)
    bucket = np.zeros(len(n), dtype=np.int64)
    positive = n > 0
    bucket[positive] = np.floor(np.log2(n[positive])).astype(np.int64) + 1
    return np.minimum(bucket, N_BUCKETS - 1)


def _times(values: I64) -> pd.Series:
    """Int64 ns (``NO_TIME`` = missing) -> timezone-aware UTC timestamps."""
    out = pd.Series(values.astype("datetime64[ns]"))
    out[values == NO_TIME] = pd.NaT
    return out.dt.tz_localize(_UTC)


def _ns(column: pd.Series) -> I64:
    if len(column) == 0:
        return np.zeros(0, dtype=np.int64)
    values = pd.to_datetime(column, utc=True)
    out = values.dt.tz_convert(_UTC).to_numpy(dtype="datetime64[ns]").view(np.int64).copy()
    return out


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Give profile tables their fixed dtypes (strings, int64 counts, UTC times)."""
    frame = frame.copy()
    for name in frame.columns:
        if name in _TIME_COLUMNS:
            frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[ns, UTC]")
        elif name in ("identity_key", "dimension", "value", "event_name"):
            frame[name] = frame[name].astype(object)
        else:
            frame[name] = frame[name].astype(np.int64)
    return frame.reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class Profiles:
    """What every identity did before ``until``; see the module docstring.

    Build with :func:`build_profiles`; do not construct directly.
    """

    config: FeatureConfig
    since: pd.Timestamp | None
    until: pd.Timestamp | None
    identities: pd.DataFrame = field(default_factory=lambda: _empty(IDENTITY_COLUMNS))
    values: pd.DataFrame = field(default_factory=lambda: _empty(VALUE_COLUMNS))
    org_actions: pd.DataFrame = field(default_factory=lambda: _empty(ORG_COLUMNS))
    schema_version: str = PROFILE_SCHEMA_VERSION
    _index: list[ProfileIndex] = field(default_factory=list, init=False, repr=False, compare=False)

    @classmethod
    def empty(cls, config: FeatureConfig | None = None) -> Profiles:
        """Profiles of nothing: every identity is new."""
        return cls(config or FeatureConfig(), None, None)

    def index(self) -> ProfileIndex:
        """Return the tables as arrays and dictionaries (built on first use, then kept)."""
        try:
            cache = self._index
        except AttributeError:  # unpickled from before the cache existed
            cache = []
            object.__setattr__(self, "_index", cache)
        if not cache or getattr(cache[0], "version", 0) != INDEX_VERSION:
            cache[:] = [ProfileIndex.build(self)]  # built once; or rebuilt if from older code
        return cache[0]

    @property
    def until_ns(self) -> int | None:
        """``until`` in ns, or ``None``."""
        return None if self.until is None else int(self.until.value)

    def update(self, events: pd.DataFrame, *, until: pd.Timestamp | str | None = None) -> Profiles:
        """Return these profiles extended with ``events`` at or after ``until``.

        Events before ``self.until`` are already summarised and ignored; the result
        equals :func:`build_profiles` over both periods at once.
        """
        newer = build_profiles(events, self.config, since=self.until, until=until)
        return merge_profiles(self, newer)

    def frequency(self) -> pd.DataFrame:
        """Return ``values`` with each value's share of the identity's epoch events and bucket.

        Buckets follow GuardDuty: ``rare`` below ``rare_share``, ``infrequent`` below
        ``infrequent_share``, else ``frequent``. (``unseen`` is every value not listed.)
        """
        values = self.values[self.values["dimension"].isin(VALUE_DIMENSIONS)]
        totals = self.identities.set_index("identity_key")["n_events"]
        total = values["identity_key"].map(totals).fillna(0).to_numpy(dtype=float)
        share = np.divide(
            values["count"].to_numpy(dtype=float),
            total,
            out=np.zeros(len(values)),
            where=total > 0,
        )
        out = values.assign(share=share)
        out["bucket"] = np.select(
            [share < self.config.rare_share, share < self.config.infrequent_share],
            ["rare", "infrequent"],
            "frequent",
        )
        return out.reset_index(drop=True)

    def pooled(self, pools: Mapping[str, Sequence[str]]) -> Profiles:
        """Return these profiles with one made-up identity per pool: its members' past, pooled.

        A new identity is measured against its peers (ADR 0022) by giving it, under a
        made-up key, the pooled past of its peers: first and last activity the earliest and
        latest of theirs, the most active days any of them had, their events, windows and
        changes summed, and every value any of them used (counts summed, first and last
        use the earliest and latest). ``org_actions`` is left alone (a pool is not another
        identity of the organisation).

        Parameters
        ----------
        pools : mapping of str to sequence of str
            Made-up key -> member identity keys; members the profiles do not know are
            ignored, and a pool without any known member is left out.
        """
        if not pools:
            return self
        members = pd.DataFrame(
            [(pool, member) for pool, keys in pools.items() for member in keys],
            columns=["pool", "identity_key"],
        )
        known = self.identities.merge(members, on="identity_key")
        if not len(known):
            return self
        pooled = (
            known.groupby("pool", sort=True)
            .agg(
                first_seen=("first_seen", "min"),
                last_seen=("last_seen", "max"),
                epoch_start=("epoch_start", "min"),
                active_days=("active_days", "max"),
                last_active_day=("last_active_day", "max"),
                n_events=("n_events", "sum"),
                n_windows=("n_windows", "sum"),
                n_changes=("n_changes", "sum"),
            )
            .reset_index()
            .rename(columns={"pool": "identity_key"})
        )
        values = (
            self.values.merge(members, on="identity_key")
            .groupby(["pool", "dimension", "value"], sort=True)
            .agg(
                count=("count", "sum"),
                first_seen=("first_seen", "min"),
                last_seen=("last_seen", "max"),
            )
            .reset_index()
            .rename(columns={"pool": "identity_key"})
        )
        return replace(
            self,
            identities=_typed(
                pd.concat([self.identities, pooled[list(IDENTITY_COLUMNS)]], ignore_index=True)
            ),
            values=_typed(pd.concat([self.values, values[list(VALUE_COLUMNS)]], ignore_index=True)),
        )

    def org_action_counts(self) -> pd.Series:
        """Return how many identities ever used each event name."""
        return self.org_actions.groupby("event_name")["identity_key"].nunique()

    def save(self, path: str | Path) -> Path:
        """Write the profiles to directory ``path`` (created): JSON manifest plus Parquet."""
        target = Path(path)
        target.mkdir(parents=True, exist_ok=True)
        for name, frame in (
            ("identities", self.identities),
            ("values", self.values),
            ("org_actions", self.org_actions),
        ):
            frame.to_parquet(target / f"{name}.parquet", index=False)
        manifest = {
            "schema_version": self.schema_version,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "config": self.config.to_json(),
            "counts": {
                "identities": len(self.identities),
                "values": len(self.values),
                "org_actions": len(self.org_actions),
            },
        }
        tmp = target / f"{_MANIFEST}.partial"
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, target / _MANIFEST)
        return target

    @classmethod
    def load(cls, path: str | Path) -> Profiles:
        """Read profiles written by :meth:`save`.

        Raises
        ------
        InputError
            When the directory is not a profile store of this schema version.
        """
        source = Path(path)
        try:
            manifest = json.loads((source / _MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"{source}: not a profile store ({error})") from error
        version = manifest.get("schema_version")
        if version != PROFILE_SCHEMA_VERSION:
            raise InputError(
                f"{source}: profile schema version {PROFILE_SCHEMA_VERSION} expected, "
                f"got {version!r}"
            )
        tables = {}
        for name, columns in (
            ("identities", IDENTITY_COLUMNS),
            ("values", VALUE_COLUMNS),
            ("org_actions", ORG_COLUMNS),
        ):
            frame = pd.read_parquet(source / f"{name}.parquet")
            if tuple(frame.columns) != columns:
                raise InputError(f"{source}/{name}.parquet: columns {list(columns)} expected")
            tables[name] = _typed(frame)
        return cls(
            config=FeatureConfig.from_json(manifest["config"]),
            since=None if manifest["since"] is None else pd.Timestamp(manifest["since"]),
            until=None if manifest["until"] is None else pd.Timestamp(manifest["until"]),
            identities=tables["identities"],
            values=tables["values"],
            org_actions=tables["org_actions"],
        )


def _aligned(moment: pd.Timestamp | str, config: FeatureConfig) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize(_UTC) if stamp.tzinfo is None else stamp.tz_convert(_UTC)
    if stamp.value % config.window_ns:
        raise ConfigurationError(
            f"until must fall on a window boundary ({config.window}), got {stamp}"
        )
    return stamp


def _group_first_last(keys: I64, values: I64) -> tuple[I64, I64, I64]:
    """For sorted-by-key runs: key, first and last value of each run (values in time order)."""
    if len(keys) == 0:
        return keys, values, values
    starts = np.flatnonzero(segment_starts(keys))
    ends = np.append(starts[1:], len(keys)) - 1
    return keys[starts], values[starts], values[ends]


def _last_epoch_rows(prepared: Prepared, key: I64, epoch: I64) -> npt.NDArray[np.bool_]:
    """Rows whose key epoch is the key's last (its current) epoch."""
    last = np.full(int(key.max()) + 1 if len(key) else 0, -1, dtype=np.int64)
    valid = key >= 0
    np.maximum.at(last, key[valid], epoch[valid])
    out = np.zeros(len(key), dtype=bool)
    out[valid] = epoch[valid] == last[key[valid]]
    return out


def build_profiles(
    events: pd.DataFrame,
    config: FeatureConfig | None = None,
    *,
    since: pd.Timestamp | str | None = None,
    until: pd.Timestamp | str | None = None,
) -> Profiles:
    """Learn profiles from the events in ``[since, until)``.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events of one or many identities.
    config : FeatureConfig, optional
        Window, forgetting and bucket settings.
    since : timestamp, optional
        Ignore events before this (the ``until`` of the profiles this period extends).
    until : timestamp, optional
        End of the period, a window boundary; events at or after it are ignored.
        Default: the end of the last event's window.

    Returns
    -------
    Profiles
    """
    config = config or FeatureConfig()
    time = to_ns(events["event_time"]) if len(events) else np.zeros(0, dtype=np.int64)
    keep = np.ones(len(events), dtype=bool)
    since_ts = None if since is None else _aligned(since, config)
    if since_ts is not None:
        keep &= time >= since_ts.value
    if until is None:
        last = int(time[keep].max()) if keep.any() else None
        until_ts = (
            None
            if last is None
            else pd.Timestamp(last - last % config.window_ns + config.window_ns, tz=_UTC)
        )
    else:
        until_ts = _aligned(until, config)
        keep &= time < until_ts.value
    if since_ts is not None and until_ts is not None and until_ts < since_ts:
        until_ts = since_ts
    if not keep.all():
        events = events[keep]
    if len(events) == 0:
        return Profiles(config, since_ts, until_ts if until_ts is not None else since_ts)
    prepared = prepare(events, config)
    identities, in_last = _identity_table(prepared)
    values = [_value_table(prepared, dimension) for dimension in VALUE_DIMENSIONS]
    values += _epoch_tables(prepared, in_last)
    org = _org_table(prepared)
    profiles = Profiles(
        config=config,
        since=since_ts
        if since_ts is not None
        else pd.Timestamp(int(prepared.window.min()), tz=_UTC),
        until=until_ts,
        identities=_typed(identities),
        values=_typed(pd.concat(values, ignore_index=True)),
        org_actions=_typed(org),
    )
    return _forget(profiles)


def _identity_table(prepared: Prepared) -> tuple[pd.DataFrame, npt.NDArray[np.bool_]]:
    config = prepared.config
    n_ident = len(prepared.identities)
    empty_count = np.zeros(n_ident, dtype=np.int64)
    empty_last = np.full(n_ident, NO_TIME, dtype=np.int64)
    prior = prior_by_key(
        prepared.ident, prepared.window, prepared.time, empty_count, empty_last, config.forget_ns
    )
    in_last = _last_epoch_rows(prepared, prepared.ident, prior.epoch)
    ident, time = prepared.ident, prepared.time
    _, first_seen, last_seen = _group_first_last(ident, time)
    sub_ident, sub_time = ident[in_last], time[in_last]
    _, epoch_start, _ = _group_first_last(sub_ident, sub_time)
    n_events = np.bincount(sub_ident, minlength=n_ident)
    day = sub_time // DAY_NS
    new_day = segment_starts(day) | segment_starts(sub_ident)
    active_days = np.bincount(sub_ident[new_day], minlength=n_ident)
    window = prepared.window[in_last]
    new_window = segment_starts(window) | segment_starts(sub_ident)
    n_windows = np.bincount(sub_ident[new_window], minlength=n_ident)
    changes = prepared.flags("is_compute_change")[in_last]
    n_changes = np.bincount(sub_ident, weights=changes, minlength=n_ident).astype(np.int64)
    table = pd.DataFrame(
        {
            "identity_key": prepared.identities,
            "first_seen": _times(first_seen),
            "last_seen": _times(last_seen),
            "epoch_start": _times(epoch_start),
            "active_days": active_days,
            "last_active_day": last_seen // DAY_NS,
            "n_events": n_events,
            "n_windows": n_windows,
            "n_changes": n_changes,
        }
    )
    return table, in_last


def _value_table(prepared: Prepared, dimension: str) -> pd.DataFrame:
    codes, names = prepared.codes(dimension)
    key, pair_ident, pair_value = pair_keys(prepared.ident, codes)
    n_keys = len(pair_ident)
    prior = prior_by_key(
        key,
        prepared.window,
        prepared.time,
        np.zeros(n_keys, dtype=np.int64),
        np.full(n_keys, NO_TIME, dtype=np.int64),
        prepared.config.forget_ns,
    )
    rows = _last_epoch_rows(prepared, key, prior.epoch)
    order = np.flatnonzero(rows)
    order = order[np.argsort(key[order], kind="stable")]
    pair_index, first_seen, last_seen = _group_first_last(key[order], prepared.time[order])
    count = np.bincount(key[order], minlength=n_keys)[pair_index]
    return pd.DataFrame(
        {
            "identity_key": prepared.identities[pair_ident[pair_index]],
            "dimension": dimension,
            "value": names[pair_value[pair_index]],
            "count": count,
            "first_seen": _times(first_seen),
            "last_seen": _times(last_seen),
        }
    )


def _epoch_tables(prepared: Prepared, in_last: npt.NDArray[np.bool_]) -> list[pd.DataFrame]:
    """Hour-of-week and change-bucket histograms of each identity's current epoch."""
    ident, time = prepared.ident[in_last], prepared.time[in_last]
    how, how_names = prepared.codes("hour_of_week")
    how = how[in_last]
    tables = []
    hour_key = ident * 168 + how
    order = np.argsort(hour_key, kind="stable")
    keys, first, last = _group_first_last(hour_key[order], time[order])
    counts = np.bincount(hour_key, minlength=int(hour_key.max()) + 1 if len(hour_key) else 0)
    tables.append(
        pd.DataFrame(
            {
                "identity_key": prepared.identities[keys // 168],
                "dimension": "hour_of_week",
                "value": how_names[keys % 168],
                "count": counts[keys],
                "first_seen": _times(first),
                "last_seen": _times(last),
            }
        )
    )
    window = prepared.window[in_last]
    changes = prepared.flags("is_compute_change")[in_last]
    starts = np.flatnonzero(segment_starts(window) | segment_starts(ident))
    win_changes = np.add.reduceat(changes.astype(np.int64), starts) if len(starts) else starts
    bucket_key = ident[starts] * N_BUCKETS + changes_bucket(win_changes)
    order = np.argsort(bucket_key, kind="stable")
    keys, first, last = _group_first_last(bucket_key[order], window[starts][order])
    counts = np.bincount(bucket_key, minlength=int(bucket_key.max()) + 1 if len(bucket_key) else 0)
    tables.append(
        pd.DataFrame(
            {
                "identity_key": prepared.identities[keys // N_BUCKETS],
                "dimension": "changes_bucket",
                "value": (keys % N_BUCKETS).astype(str).astype(object),
                "count": counts[keys],
                "first_seen": _times(first),
                "last_seen": _times(last),
            }
        )
    )
    return tables


def _org_table(prepared: Prepared) -> pd.DataFrame:
    codes, names = prepared.codes("event_name")
    key, pair_ident, pair_value = pair_keys(prepared.ident, codes)
    first = np.full(len(pair_ident), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, key, prepared.time)
    return pd.DataFrame(
        {
            "event_name": names[pair_value],
            "identity_key": prepared.identities[pair_ident],
            "first_seen": _times(first),
        }
    )


def _forget(profiles: Profiles) -> Profiles:
    """Drop what was not seen for ``forget_days`` before ``until``.

    Values unused that long are dropped; identities silent that long lose their epoch
    aggregates and histograms but keep first and last activity (for dormancy).
    Organisation figures are never forgotten. Dropping changes no future vector: a
    value or identity this old starts a new epoch at its next use anyway.
    """
    if profiles.until is None:
        return profiles
    horizon = profiles.until.value - profiles.config.forget_ns
    ident = profiles.identities
    stale = _ns(ident["last_seen"]) < horizon
    values = profiles.values
    last = _ns(values["last_seen"])
    is_value = values["dimension"].isin(VALUE_DIMENSIONS).to_numpy()
    stale_ids = set(ident.loc[stale, "identity_key"])
    keep = np.where(is_value, last >= horizon, ~values["identity_key"].isin(stale_ids).to_numpy())
    if stale.any():
        ident = ident.copy()
        ident.loc[stale, ["active_days", "n_events", "n_windows", "n_changes"]] = 0
        ident.loc[stale, "epoch_start"] = pd.NaT
    dropped = int((~keep).sum())
    if dropped or stale.any():
        logger.debug(
            "forgot %d values and the baselines of %d identities", dropped, int(stale.sum())
        )
    return replace(profiles, identities=ident, values=values[keep].reset_index(drop=True))


def merge_profiles(older: Profiles, newer: Profiles) -> Profiles:
    """Combine profiles of a period with those of the period that follows it.

    The result is what :func:`build_profiles` learns from both periods at once (then
    forgetting at ``newer.until``).

    Raises
    ------
    ConfigurationError
        When the periods overlap or the settings differ.
    """
    if older.config != newer.config:
        raise ConfigurationError("profiles learned with different settings cannot be merged")
    if older.until is not None and newer.since is not None and newer.since < older.until:
        raise ConfigurationError(
            f"newer profiles start at {newer.since}, before the older ones end at {older.until}"
        )
    if len(newer.identities) == 0:
        until = newer.until if newer.until is not None else older.until
        return _forget(replace(older, until=until))
    if len(older.identities) == 0:  # its organisation table may hold others' first uses
        since = older.since if older.since is not None else newer.since
        org = _merge_org(older.org_actions, newer.org_actions)
        return _forget(replace(newer, since=since, org_actions=org))
    config = older.config
    window_ns, forget_ns = config.window_ns, config.forget_ns
    old_i = older.identities.set_index("identity_key")
    new_i = newer.identities.set_index("identity_key")
    both = old_i.index.intersection(new_i.index)
    o, n = old_i.loc[both], new_i.loc[both]
    new_epoch = _ns(n["epoch_start"])
    continuing = _ns(o["last_seen"]) >= (new_epoch - new_epoch % window_ns) - forget_ns
    continuing &= new_epoch != NO_TIME
    merged = n.copy()
    merged["first_seen"] = o["first_seen"]
    cont = pd.Series(continuing, index=both)
    c_idx = cont[cont].index
    merged.loc[c_idx, "epoch_start"] = o.loc[c_idx, "epoch_start"]
    overlap_day = (o.loc[c_idx, "last_active_day"] == _first_day(n.loc[c_idx])).astype(np.int64)
    merged.loc[c_idx, "active_days"] = (
        o.loc[c_idx, "active_days"] + n.loc[c_idx, "active_days"] - overlap_day
    )
    for name in ("n_events", "n_windows", "n_changes"):
        merged.loc[c_idx, name] = o.loc[c_idx, name] + n.loc[c_idx, name]
    identities = pd.concat([old_i.drop(both), merged, new_i.drop(both)]).reset_index()
    identities = identities.sort_values("identity_key", kind="stable")
    new_epoch_ids = set(new_i.index) - set(c_idx)
    values = _merge_values(older.values, newer.values, new_epoch_ids, window_ns, forget_ns)
    return _forget(
        Profiles(
            config=config,
            since=older.since,
            until=newer.until,
            identities=_typed(identities[list(IDENTITY_COLUMNS)]),
            values=_typed(values[list(VALUE_COLUMNS)]),
            org_actions=_merge_org(older.org_actions, newer.org_actions),
        )
    )


def _merge_org(older: pd.DataFrame, newer: pd.DataFrame) -> pd.DataFrame:
    """Return the organisation's first uses of both periods (the earliest of each pair)."""
    org = pd.concat([older, newer], ignore_index=True)
    org = (
        org.sort_values("first_seen", kind="stable")
        .drop_duplicates(["event_name", "identity_key"], keep="first")
        .sort_values(["event_name", "identity_key"], kind="stable")
    )
    return _typed(org[list(ORG_COLUMNS)])


def _first_day(rows: pd.DataFrame) -> pd.Series:
    """Return the first active day (its epoch start day) of single-epoch newer rows."""
    return pd.Series(_ns(rows["epoch_start"]) // DAY_NS, index=rows.index)


def _merge_values(
    older: pd.DataFrame,
    newer: pd.DataFrame,
    new_epoch_ids: set[str],
    window_ns: int,
    forget_ns: int,
) -> pd.DataFrame:
    keys = ["identity_key", "dimension", "value"]
    joined = older.merge(newer, on=keys, how="outer", suffixes=("_old", "_new"), indicator=True)
    has_old = joined["_merge"] != "right_only"
    has_new = joined["_merge"] != "left_only"
    is_value = joined["dimension"].isin(VALUE_DIMENSIONS).to_numpy()
    old_last = np.where(has_old, _ns(joined["last_seen_old"]), NO_TIME)
    new_first = np.where(has_new, _ns(joined["first_seen_new"]), NO_TIME)
    value_continues = old_last >= (new_first - new_first % window_ns) - forget_ns
    epoch_continues = ~joined["identity_key"].isin(new_epoch_ids).to_numpy()
    continues = np.where(is_value, value_continues, epoch_continues) & has_old & has_new
    # histogram rows of an identity whose epoch continues (or that the newer period did
    # not see) keep their old counts; a new epoch drops them.
    keep_old_only = has_old & ~has_new & (is_value | epoch_continues)
    out = pd.DataFrame({name: joined[name] for name in keys})
    c_old = joined["count_old"].fillna(0).to_numpy(dtype=np.int64)
    c_new = joined["count_new"].fillna(0).to_numpy(dtype=np.int64)
    out["count"] = np.where(continues, c_old + c_new, np.where(has_new, c_new, c_old))
    out["first_seen"] = joined["first_seen_new"].where(
        has_new & ~continues, joined["first_seen_old"]
    )
    out["last_seen"] = joined["last_seen_new"].where(has_new, joined["last_seen_old"])
    out = out[has_new | keep_old_only]
    return out.sort_values(keys, kind="stable")
