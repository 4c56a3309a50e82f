"""What each identity usually shows, and the detector's input: excess over the usual.

The isolation forest is one model for every identity, but "14 snapshots in an hour" is
routine for the backup role and alarming for a person. So the forest does not see raw
vectors; it sees, per feature, how far a window is *above what its identity usually
shows* (ADR 0013):

``excess = max(t(value) - t(usual), 0)``

where ``usual`` is the median of the identity's baseline windows (the organisation's
median for an identity without any), and ``t`` is ``log1p`` for counts and ratios of
counts (so 2 -> 20 weighs like 20 -> 200) and the identity for shares and bits. Values
below the usual are not anomalous for this detector and count as 0.

The same table gives the ``usual`` of every explanation, so the words an analyst reads
("14 snapshots created in one hour; usually 0") name exactly the reference the model
measured against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from features import CATALOGUE, FEATURE_NAMES, ConfigurationError

__all__ = ["DEFAULT_FEATURES", "EXCLUDED_FEATURES", "LOG_SCALED", "UsualValues"]

F64 = npt.NDArray[np.float64]

_BREAKDOWN_KEPT: Final = frozenset({"n_change_delete", "n_change_share", "n_change_copy"})

EXCLUDED_FEATURES: Final = frozenset(
    {"history_days", "active_days", "is_new_identity", "cold_start"}
    | {
        name
        for name in FEATURE_NAMES
        if name.startswith("n_change_") and name not in _BREAKDOWN_KEPT
    }
)
"""Catalogue features the detector leaves out by default, and why (ADR 0013):

* ``history_days`` and ``active_days`` only grow, so every later window lies outside the
  training range of both; ``is_new_identity`` and ``cold_start`` are constant in the
  windows that are scored;
* the per-action and per-resource-type breakdown of changes repeats ``n_changes`` in
  fifteen sparse columns; ordinary people's mixes of changes then looked rarer than
  attacks. Deletions, shares and copies are kept: they weigh differently.
"""

DEFAULT_FEATURES: Final = tuple(name for name in FEATURE_NAMES if name not in EXCLUDED_FEATURES)
"""Features the detector uses by default, in catalogue order."""

LOG_SCALED: Final = frozenset(
    {f.name for f in CATALOGUE if f.family in ("volume", "sequence") and f.name != "error_ratio"}
    | {"days_dormant", "change_count_ratio"}
)
"""Counts and count ratios, compared on a ``log1p`` scale; the rest are shares or bits."""

#: Key of the organisation-wide row in the stored table.
ORG_KEY: Final = ""


def check_features(names: Sequence[str]) -> tuple[str, ...]:
    """Return ``names`` as a tuple after checking they are distinct catalogue features."""
    chosen = tuple(str(n) for n in names)
    unknown = [n for n in chosen if n not in FEATURE_NAMES]
    if unknown:
        raise ConfigurationError(
            f"features must be names of the feature catalogue, got unknown {unknown}"
        )
    if len(set(chosen)) != len(chosen) or not chosen:
        raise ConfigurationError(f"features must be distinct and not empty, got {list(chosen)}")
    return chosen


@dataclass(frozen=True)
class _UsualArrays:
    """:class:`UsualValues` as arrays: a row per identity key, and the organisation's row."""

    table_of: pd.DataFrame  # the table and organisation row the arrays were read from
    org_of: pd.Series
    row: dict[str, int]  # identity key -> row of ``table``
    table: F64  # (identities + 1, features): the last row is NaN, for unknown identities
    org: F64  # (features,)
    logged: npt.NDArray[np.bool_]  # (features,): compared on a log1p scale


class UsualValues:
    """Median of each identity's baseline windows per feature, with an organisation fallback.

    Build with :meth:`fit`; stored with :meth:`to_frame` / :meth:`from_frame`.

    Parameters
    ----------
    table : pandas.DataFrame
        Indexed by identity key, one float column per feature.
    org : pandas.Series
        The organisation's median per feature (for identities not in ``table``).
    windows : pandas.Series
        Baseline windows behind each identity's medians.
    """

    def __init__(self, table: pd.DataFrame, org: pd.Series, windows: pd.Series) -> None:
        self.table = table
        self.org = org
        self.windows = windows
        self.features = tuple(str(c) for c in table.columns)
        self._cache: _UsualArrays | None = None

    @classmethod
    def fit(cls, vectors: pd.DataFrame, features: Sequence[str]) -> UsualValues:
        """Learn the usual values from the baseline ``vectors`` (every window counts)."""
        names = list(features)
        if len(vectors) == 0:
            raise ValueError("cannot learn usual values from no windows")
        values = vectors[names].astype(np.float64)
        grouped = values.groupby(vectors["identity_key"].to_numpy(), sort=True)
        table = grouped.median()
        table.index = table.index.astype(object)
        table.index.name = "identity_key"
        org = values.median()
        windows = grouped.size().astype(np.int64)
        return cls(table, org, windows)

    def lookup(
        self,
        identities: Sequence[str] | npt.NDArray[np.object_],
        peers: Mapping[str, Sequence[str]] | None = None,
    ) -> F64:
        """Usual value of each identity (rows) and feature (columns).

        An identity without baseline windows of its own takes the median of its
        ``peers``' usual values when it has any with windows (ADR 0022), else the
        organisation's median.
        """
        arrays = self._arrays()
        keys = np.asarray(identities, dtype=object)
        rows = np.fromiter(
            (arrays.row.get(key, -1) for key in keys), dtype=np.intp, count=len(keys)
        )
        values = arrays.table.take(rows, axis=0)  # row -1 (not in the table) is the NaN row
        for identity, members in (peers or {}).items():
            if identity in arrays.row:
                continue
            known = self.table.index.intersection(pd.Index(list(members), dtype=object))
            if len(known):
                values[keys == identity] = self.table.loc[known].median().to_numpy()
        out: F64 = np.where(np.isnan(values), arrays.org[np.newaxis, :], values)
        return out

    def excess(
        self, vectors: pd.DataFrame, peers: Mapping[str, Sequence[str]] | None = None
    ) -> pd.DataFrame:
        """Return the detector's input, ``max(t(value) - t(usual), 0)`` per window and feature."""
        raw = vectors[list(self.features)].to_numpy(dtype=np.float64)
        usual = self.lookup(vectors["identity_key"].to_numpy(dtype=object), peers)
        out = self.excess_of(raw, usual)
        return pd.DataFrame(out, columns=list(self.features), index=vectors.index)

    def excess_of(self, values: F64, usual: F64) -> F64:
        """:meth:`excess` of a matrix: ``values`` and ``usual`` in :attr:`features` order.

        Parameters
        ----------
        values : ndarray of shape (n_windows, n_features)
            The windows' feature values.
        usual : ndarray of shape (n_windows, n_features)
            Their :meth:`lookup`.
        """
        logged = self._arrays().logged
        value_t = np.where(logged, np.log1p(np.maximum(values, 0.0)), values)
        usual_t = np.where(logged, np.log1p(np.maximum(usual, 0.0)), usual)
        out: F64 = np.maximum(value_t - usual_t, 0.0)
        return out

    def _arrays(self) -> _UsualArrays:
        """Return the lookups as arrays, built on first use and kept while the tables stay.

        The table, the organisation row and the features are read once per fitted
        detector instead of re-indexed on every call (a service request scores 1-3
        windows). Rebuilt if :attr:`table` or :attr:`org` is replaced; the tables are
        not to be changed in place.
        """
        cached: _UsualArrays | None = getattr(self, "_cache", None)
        if cached is not None and cached.table_of is self.table and cached.org_of is self.org:
            return cached
        table = self.table.to_numpy(dtype=np.float64)
        missing = np.full((1, table.shape[1]), np.nan)
        cached = _UsualArrays(
            table_of=self.table,
            org_of=self.org,
            row={key: at for at, key in enumerate(self.table.index)},
            # one row of NaN at the end: the row an unknown identity takes (index -1)
            table=np.concatenate([table, missing]),
            org=self.org.reindex(self.table.columns).to_numpy(dtype=np.float64),
            logged=np.array([name in LOG_SCALED for name in self.features]),
        )
        self._cache = cached
        return cached

    # ------------------------------------------------------------------ storage

    def to_frame(self) -> pd.DataFrame:
        """One row per identity plus the organisation row (``identity_key`` ``""``)."""
        body = self.table.reset_index()
        body.insert(1, "n_windows", self.windows.reindex(self.table.index).to_numpy())
        org = pd.DataFrame(
            [[ORG_KEY, int(self.windows.sum()), *self.org.to_numpy(dtype=np.float64)]],
            columns=body.columns,
        )
        frame = pd.concat([org, body], ignore_index=True)
        frame["identity_key"] = frame["identity_key"].astype(str)
        frame["n_windows"] = frame["n_windows"].astype(np.int64)
        return frame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, features: Sequence[str]) -> UsualValues:
        """Rebuild from :meth:`to_frame`; raises ``ValueError`` naming what is wrong."""
        expected = ["identity_key", "n_windows", *features]
        if list(frame.columns) != expected:
            raise ValueError(f"expected columns {expected}, got {list(frame.columns)}")
        keys = frame["identity_key"]
        if keys.isna().any() or keys.duplicated().any():
            raise ValueError("identity_key must be unique and present")
        org_rows = frame[keys == ORG_KEY]
        if len(org_rows) != 1:
            raise ValueError("expected exactly one organisation row (identity_key '')")
        values = frame[list(features)].to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError("usual values must be finite")
        body = frame[keys != ORG_KEY]
        table = body.set_index("identity_key")[list(features)].astype(np.float64)
        table.index = table.index.astype(object)
        org = org_rows.iloc[0][list(features)].astype(np.float64)
        windows = body.set_index("identity_key")["n_windows"].astype(np.int64)
        return cls(table, org, windows)
