"""The profile tables as arrays and dictionaries, built once per :class:`Profiles` object.

:func:`features.behaviour_vectors` looks up, for the identities and values of its events,
what the profiles remember of them. Those lookups used to filter and index the profile
tables with pandas on every call: a fixed cost of several milliseconds whatever the
number of events, which is most of the cost of a live service's call (a handful of
events against one identity's profiles, ADR 0034). Profiles are immutable, so the tables
are turned into arrays and dictionaries once, on first use, and kept with the object
(:meth:`features.Profiles.index`). The lookups return exactly what the pandas code
returned; only where the work is done changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from features._windows import NO_TIME, count_before, earliest_by, factorize, first_uses, to_ns

if TYPE_CHECKING:
    from features._profiles import Profiles

__all__ = ["INDEX_VERSION", "ProfileIndex"]

I64 = npt.NDArray[np.int64]
Objects = npt.NDArray[np.object_]

INDEX_VERSION = 3
"""Bumped when the index's fields change (an older pickled index is rebuilt)."""
_TIMES = ("last_seen", "epoch_start")
_COUNTS = ("n_events", "n_windows", "n_changes", "active_days")


def _ns(column: pd.Series) -> I64:
    """Return a profile column's times in ns, :data:`NO_TIME` where missing."""
    values = np.full(len(column), NO_TIME, dtype=np.int64)
    present = column.notna().to_numpy()
    if present.any():
        values[present] = to_ns(column[present])
    return values


@dataclass(frozen=True, slots=True)
class _Values:
    """One value dimension: row of each (identity, value) pair, and the rows' figures.

    ``start`` is the dimension's first row in the figures of every dimension
    (:attr:`ProfileIndex.value_count`, :attr:`ProfileIndex.value_last`); ``by_identity``
    the rows of each identity (in table order).
    """

    where: dict[tuple[object, object], int]
    count: I64
    last: I64
    identity: Objects
    value: Objects
    start: int
    by_identity: dict[object, I64]


@dataclass(frozen=True, slots=True)
class ProfileIndex:
    """Lookups into one :class:`Profiles` (see the module docstring).

    Attributes
    ----------
    row : dict of str to int
        Row of each identity in the identity arrays.
    figures : dict of str to numpy.ndarray
        Per identity row: ``last_seen``, ``epoch_start`` (ns, :data:`NO_TIME` if none),
        ``n_events``, ``n_windows``, ``n_changes``, ``active_days`` (0 if none) and
        ``last_active_day`` (-1 if none).
    figure_table : numpy.ndarray
        ``figures`` as one array, a row per figure (in the dict's order) and a column per
        identity row, then one column of each figure's value for an unknown identity.
    values : dict of str to _Values
        Per dimension (``event_name`` ... ``hour_of_week``, ``changes_bucket``).
    value_count, value_last : numpy.ndarray
        Count and last use (ns) of every dimension's rows, one dimension after the other
        (each :class:`_Values` says where its rows start).
    org_owner, org_action : numpy.ndarray
        The organisation's first-use table: identity and event name of each pair ...
    org_first : numpy.ndarray
        ... and its first use (ns).
    org_users : dict
        Per event name, the identities that used it (pairs of that table with an identity
        and a name), each one's first use (ns), and each one's position in those two
        arrays, for :meth:`users_before`.
    first_owner, first_time : numpy.ndarray
        Every identity of that table (its pairs with a name) or of the identities table,
        and its earliest use or first activity (ns): what the organisation's count of
        active identities starts from.
    first_sorted : numpy.ndarray
        ``first_time`` in ascending order, for :meth:`active_before`.
    first_at : dict
        Position of each identity in ``first_owner``.
    version : int
        :data:`INDEX_VERSION` when built; an index unpickled from an older version is
        rebuilt (:meth:`features.Profiles.index`).
    """

    row: dict[object, int]
    figures: dict[str, I64]
    figure_table: npt.NDArray[np.int64]
    values: dict[str, _Values]
    value_count: I64
    value_last: I64
    org_owner: Objects
    org_action: Objects
    org_first: I64
    org_users: dict[object, tuple[Objects, I64, dict[object, int]]]
    first_owner: Objects
    first_time: I64
    first_sorted: I64
    first_at: dict[object, int]
    version: int = 0

    @classmethod
    def build(cls, profiles: Profiles) -> ProfileIndex:
        """Index ``profiles`` (the work of one call's lookups, done once)."""
        table = profiles.identities
        keys = table["identity_key"].to_numpy(dtype=object)
        figures = {name: _ns(table[name]) for name in _TIMES}
        for name in _COUNTS:
            figures[name] = table[name].fillna(0).to_numpy(dtype=np.int64)
        figures["last_active_day"] = table["last_active_day"].fillna(-1).to_numpy(dtype=np.int64)
        org = profiles.org_actions
        org_owner = org["identity_key"].to_numpy(dtype=object)
        org_action = org["event_name"].to_numpy(dtype=object)
        org_first = _ns(org["first_seen"]) if len(org) else np.zeros(0, dtype=np.int64)
        paired = np.flatnonzero(~(pd.isna(org_owner) | pd.isna(org_action)))
        known_first = _ns(table["first_seen"]) if len(table) else np.zeros(0, dtype=np.int64)
        first_owner, first_time = earliest_by(
            np.concatenate([org_owner[paired], keys]),
            np.concatenate([org_first[paired], known_first]),
        )
        values = _by_dimension(profiles.values)
        return cls(
            row={key: at for at, key in enumerate(keys.tolist())},
            figures=figures,
            figure_table=np.array(
                [[*column.tolist(), _unknown(name)] for name, column in figures.items()],
                dtype=np.int64,
            ).reshape(len(figures), len(keys) + 1),
            values=values,
            value_count=_joined([v.count for v in values.values()]),
            value_last=_joined([v.last for v in values.values()]),
            org_owner=org_owner,
            org_action=org_action,
            org_first=org_first,
            org_users=_users_by_action(org_owner[paired], org_action[paired], org_first[paired]),
            first_owner=first_owner,
            first_time=first_time,
            first_sorted=np.sort(first_time),
            first_at={owner: at for at, owner in enumerate(first_owner.tolist())},
            version=INDEX_VERSION,
        )

    def identity_arrays(self, identities: Objects) -> dict[str, I64]:
        """Profile figures of each identity (zeros and ``NO_TIME`` for unknown ones)."""
        at = np.fromiter(
            (self.row.get(i, -1) for i in identities.tolist()),
            dtype=np.int64,
            count=len(identities),
        )
        # -1 reads the table's last column: an unknown identity's figures
        taken = self.figure_table[:, at]
        return dict(zip(self.figures, taken, strict=True))

    def value_arrays(
        self, dimension: str, identities: Iterable[object], values: Iterable[object]
    ) -> tuple[I64, I64]:
        """Profile count and last use of each (identity, value) pair, zeros / ``NO_TIME``."""
        identities = list(identities)
        return self.pair_arrays([dimension] * len(identities), identities, values)

    def pair_arrays(
        self,
        dimensions: Iterable[str],
        identities: Iterable[object],
        values: Iterable[object],
    ) -> tuple[I64, I64]:
        """:meth:`value_arrays` of pairs of several dimensions, each pair's dimension given.

        One pass over the pairs, whatever their dimensions (a live call looks up eight).
        """
        triples = list(zip(dimensions, identities, values, strict=True))
        count = np.zeros(len(triples), dtype=np.int64)
        last = np.full(len(triples), NO_TIME, dtype=np.int64)
        if not self.values or not triples:
            return count, last
        tables = self.values
        found = np.fromiter(
            (
                table.start + table.where.get((identity, value), -1 - table.start)
                if (table := tables.get(dimension)) is not None
                else -1
                for dimension, identity, value in triples
            ),
            dtype=np.int64,
            count=len(triples),
        )
        present = found >= 0
        count[present] = self.value_count[found[present]]
        last[present] = self.value_last[found[present]]
        return count, last

    def users_before(
        self,
        actions: Objects,
        uses: tuple[Objects, Objects, I64],
        action_of: I64,
        moments: I64,
    ) -> I64:
        """Per query, how many identities used its action before its moment (``time < moment``).

        Parameters
        ----------
        actions : numpy.ndarray
            The event names the queries ask about (distinct).
        uses : tuple of numpy.ndarray
            Identity, event name and first use of the pairs used beyond the index, one
            entry per pair (:func:`features.first_uses` of a call's own events, or of
            Spark's first-use table of the organisation); an identity's use of an action
            is the earliest in the index or among these.
        action_of : numpy.ndarray
            Per query, the position of its action in ``actions``.
        moments : numpy.ndarray
            Per query, the moment (ns).

        The index keeps each action's identities with their first use, so a call pools
        the few uses it brings with those of its actions instead of deduplicating every
        pair of its actions again (ADR 0067).
        """
        group_of = {action: at for at, action in enumerate(actions.tolist())}
        groups, firsts, where = [], [], {}
        offset = 0
        for at, action in enumerate(actions.tolist()):
            found = self.org_users.get(action)
            if found is not None:
                where[at] = (offset, found[2])
                groups.append(np.full(len(found[1]), at, dtype=np.int64))
                firsts.append(found[1])
                offset += len(found[1])
        first = np.concatenate(firsts) if firsts else np.zeros(0, dtype=np.int64)
        more_groups: list[int] = []
        more_firsts: list[int] = []
        for owner, action, time in zip(*(x.tolist() for x in uses), strict=True):
            group = group_of.get(action)
            if group is None:  # an action no query asks about
                continue
            known = where.get(group)
            row = known[1].get(owner) if known is not None else None
            if known is None or row is None:
                more_groups.append(group)
                more_firsts.append(time)
            else:
                first[known[0] + row] = min(int(first[known[0] + row]), time)
        return count_before(
            np.concatenate([*groups, np.array(more_groups, dtype=np.int64)]),
            np.concatenate([first, np.array(more_firsts, dtype=np.int64)]),
            action_of,
            moments,
        )

    def active_before(self, owners: Objects, times: I64, moments: I64) -> I64:
        """Per moment, how many identities were first active before it (``time < moment``).

        An identity's first activity is the earliest of its time in the index
        (``first_time``) and of its ``times`` among the uses given (``owners`` not missing).
        The index's identities are counted by a binary search of ``first_sorted``, then
        corrected for the few identities the uses name: a call does not pool and sort every
        identity of the organisation again (ADR 0067).
        """
        owner, first = earliest_by(owners, times)
        at = np.fromiter(
            (self.first_at.get(o, -1) for o in owner.tolist()), dtype=np.int64, count=len(owner)
        )
        known = np.full(len(owner), np.iinfo(np.int64).max, dtype=np.int64)
        known[at >= 0] = self.first_time[at[at >= 0]]
        earliest = np.minimum(known, first)
        counted: I64 = (
            np.searchsorted(self.first_sorted, moments)
            + np.searchsorted(np.sort(earliest), moments)
            - np.searchsorted(np.sort(known), moments)
        ).astype(np.int64)
        return counted

    def identity_rows(self, dimension: str, identities: Objects) -> tuple[I64, Objects, I64]:
        """Return the profile rows of ``dimension`` of some identities: who, value, count.

        Returns, per row, the position of its identity in ``identities``, its value and its
        count: the identities in the order given, each one's rows in table order. A call
        reads the rows of its own identities, not every row of the dimension (ADR 0067).
        """
        table = self.values.get(dimension)
        found = (
            []
            if table is None
            else [
                (at, rows)
                for at, key in enumerate(identities.tolist())
                if (rows := table.by_identity.get(key)) is not None
            ]
        )
        if table is None or not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object), np.zeros(0, np.int64)
        taken = np.concatenate([rows for _, rows in found])
        owner = np.repeat(
            np.array([at for at, _ in found], dtype=np.int64), [len(rows) for _, rows in found]
        )
        return owner, table.value[taken], table.count[taken]


def _users_by_action(
    owner: Objects, action: Objects, first: I64
) -> dict[object, tuple[Objects, I64, dict[object, int]]]:
    """Each action's identities, their first use, and their positions (:meth:`users_before`)."""
    owners, actions, firsts = first_uses(owner, action, first)
    out: dict[object, tuple[Objects, I64, dict[object, int]]] = {}
    for name, rows in _rows_by(actions, np.arange(len(actions), dtype=np.int64)).items():
        users = owners[rows]
        out[name] = (users, firsts[rows], {key: at for at, key in enumerate(users.tolist())})
    return out


def _rows_by(keys: Objects, rows: I64) -> dict[object, I64]:
    """``rows`` grouped by their ``keys`` (first appearance order, rows in order)."""
    codes, uniques = factorize(keys)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {
        key: rows[order[bounds[at] : bounds[at + 1]]] for at, key in enumerate(uniques.tolist())
    }


def _by_dimension(table: pd.DataFrame) -> dict[str, _Values]:
    """Split the value rows by dimension, in table order."""
    if not len(table):
        return {}
    dimension = table["dimension"].to_numpy(dtype=object)
    identity = table["identity_key"].to_numpy(dtype=object)
    value = table["value"].to_numpy(dtype=object)
    count = table["count"].to_numpy().astype(np.int64)
    last = _ns(table["last_seen"])
    out: dict[str, _Values] = {}
    start = 0
    for name in pd.unique(dimension).tolist():
        rows = np.flatnonzero(dimension == name)
        keys = zip(identity[rows].tolist(), value[rows].tolist(), strict=True)
        out[str(name)] = _Values(
            where=dict(zip(keys, range(len(rows)), strict=True)),
            count=count[rows],
            last=last[rows],
            identity=identity[rows],
            value=value[rows],
            start=start,
            by_identity=_rows_by(identity[rows], np.arange(len(rows), dtype=np.int64)),
        )
        start += len(rows)
    return out


def _unknown(figure: str) -> int:
    """Return the figure of an identity the profiles do not know."""
    return NO_TIME if figure in _TIMES else (-1 if figure == "last_active_day" else 0)


def _joined(parts: list[I64]) -> I64:
    """Return the arrays one after the other (an empty int64 array for none)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
