"""Learned expected automation: each identity's routine changes, and its peers'.

AN0861: "baseline expected automation accounts, scripts, API clients, and deployment tools
to reduce false positives", and "correlate infrastructure changes with approved change
windows rather than treating every change as suspicious". A Lambda scheduler, a CI-runner
scaler or an EKS controller changes instances all day, outside every window, exactly as it
did throughout its baseline; an on-call engineer fixes small things at night. Judged
against the identity's own past, those changes are *context*, not alerts. What stays an
alert: an out-of-window change by an identity that only ever changed things inside
windows, and one that is new for the identity in what it changes, its client, its network
or its hour.

:func:`learn_routines` reads past events (the ``--history``, the service's stored events)
and the change calendar, and keeps per identity a :class:`Routine`: how many changes it
attempted, how many of them outside every window and ticket (and on how many days), which
calls (event names) those were, at which UTC hours it changes, from
which client families, networks and autonomous systems. :meth:`Routine.novelty` says what
of a new change the routine has never seen. Identities with no past of their own are
compared with their *peers* (the other people of the same permission set, the same role in
other accounts, else the identities of their kind in their account): :func:`features.peer_groups`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from features import ATTEMPTED_CHANGE

__all__ = ["Routine", "learn_routines", "merge_routines"]

_US_PER_HOUR: Final = 3_600_000_000
_US_PER_DAY: Final = 24 * _US_PER_HOUR


@dataclass(frozen=True, slots=True)
class Routine:
    """One identity's (or a peer group's) changes in the past, as its routine.

    Attributes
    ----------
    changes : int
        Attempted compute changes.
    outside : int
        Of them, those no window or ticket approved (outside the change process).
    days : frozenset of int
        The UTC days (days since the epoch) with such a change.
    signatures : mapping of str to int
        Event name (``"RunInstances"``) -> count outside windows.
    kinds : mapping of str to int
        Resource type (``"instance"``) -> count of changes to it outside windows.
    hours : frozenset of int
        UTC hours of the day at which it made changes (any verdict).
    clients, networks : frozenset of str
        Client families and networks of its own changes.
    asns : frozenset of int
        Autonomous systems of its own changes (a home address moving within its ISP).
    since : datetime or None
        Its first change.
    members : int
        Identities it sums up (1 for an identity's own routine).
    """

    changes: int = 0
    outside: int = 0
    days: frozenset[int] = frozenset()
    signatures: Mapping[str, int] = field(default_factory=dict)
    kinds: Mapping[str, int] = field(default_factory=dict)
    hours: frozenset[int] = frozenset()
    clients: frozenset[str] = frozenset()
    networks: frozenset[str] = frozenset()
    asns: frozenset[int] = frozenset()
    since: datetime | None = None
    members: int = 1

    @property
    def outside_days(self) -> int:
        """Distinct UTC days with a change outside windows."""
        return len(self.days)

    def is_routine(self, min_changes: int, min_days: int) -> bool:
        """Whether changing outside windows is routine: often enough, on enough days."""
        return self.outside >= min_changes and self.outside_days >= min_days

    def novelty(
        self, change: Mapping[str, Any], hour_slack: int, *, by_kind: bool = False
    ) -> list[str]:
        """List, in words, what of one change (canonical values) the routine never saw.

        What is changed is compared by call (``RunInstances``), or with ``by_kind`` by the
        kind of resource (``instance``): people fixing things by hand use whichever call
        the fix needs, automation repeats its own. The hour is judged for automation only:
        people on call work when they are paged (the model weighs rare hours).
        """
        new: list[str] = []
        if by_kind:
            kind = change.get("resource_type")
            if isinstance(kind, str) and self.kinds.get(kind, 0) == 0:
                new.append(f"{kind} changes outside windows")
        elif self.signatures.get(str(change.get("event_name")), 0) == 0:
            new.append(f"{change.get('event_name')} outside windows")
        family = change.get("client_family")
        if isinstance(family, str) and family not in self.clients:
            new.append(f"client {family}")
        network, asn = change.get("network"), _asn(change.get("asn"))
        known_asn = asn is not None and asn in self.asns
        if isinstance(network, str) and network not in self.networks and not known_asn:
            new.append(f"network {network}")
        hour = change.get("hour")
        if by_kind:
            return new
        if isinstance(hour, int) and self.hours and not _near(hour, self.hours, hour_slack):
            new.append(f"hour {hour:02d}:00 UTC")
        return new


def _asn(value: Any) -> int | None:
    """Return an autonomous system number as an int (pandas gives floats beside NaN)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and np.isfinite(value):
        return int(value)
    return None


def _near(hour: int, hours: frozenset[int], slack: int) -> bool:
    return any(min((hour - h) % 24, (h - hour) % 24) <= slack for h in hours)


def _set(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(v) for v in values if isinstance(v, str) and v)


def _asns(values: Iterable[Any]) -> frozenset[int]:
    return frozenset(asn for value in values if (asn := _asn(value)) is not None)


def learn_routines(changes: pd.DataFrame, outside: np.ndarray) -> dict[str, Routine]:
    """Learn each identity's routine from its past attempted changes.

    Parameters
    ----------
    changes : pandas.DataFrame
        Past events (canonical columns); only attempted compute changes are read.
    outside : numpy.ndarray
        Per row of ``changes``, whether no window or ticket approved it (the calendar's
        ``unapproved`` verdict; all true when the policy has no window).

    Identities come in order of first appearance; rows are read column by column as
    lists and split per identity with one stable sort (no frame per identity: the
    service learns the routines of a request's identities on every request).
    """
    mask = ATTEMPTED_CHANGE.mask(changes) if len(changes) else np.zeros(0, dtype=bool)
    if not mask.any():
        return {}
    rows = np.flatnonzero(mask)
    codes, uniques = pd.factorize(changes["identity_key"].to_numpy(dtype=object)[rows], sort=False)
    times = pd.to_datetime(changes["event_time"].iloc[rows], utc=True)
    micros = times.dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view(np.int64)
    columns = _Columns(
        outside=np.asarray(outside, dtype=bool)[mask].tolist(),
        hours=((micros // _US_PER_HOUR) % 24).tolist(),
        days=(micros // _US_PER_DAY).tolist(),
        names=[str(name) for name in changes["event_name"].iloc[rows].tolist()],
        **{
            name: changes[column].iloc[rows].tolist()
            for name, column in (
                ("kinds", "resource_type"),
                ("clients", "client_family"),
                ("networks", "network"),
                ("asns", "asn"),
            )
        },
    )
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))  # -1 (NA) first
    return {
        str(identity): _routine(columns, order[bounds[n] : bounds[n + 1]].tolist(), times, micros)
        for n, identity in enumerate(uniques)
    }


@dataclass(frozen=True, slots=True)
class _Columns:
    """The columns :func:`learn_routines` reads, as lists over the attempted changes."""

    outside: list[bool]
    hours: list[int]
    days: list[int]
    names: list[str]
    kinds: list[Any]
    clients: list[Any]
    networks: list[Any]
    asns: list[Any]


def _routine(
    columns: _Columns, rows: list[int], times: pd.Series[Any], micros: np.ndarray
) -> Routine:
    """One identity's routine from its rows (positions among the changes, in time order)."""
    out = [row for row in rows if columns.outside[row]]
    kinds = (columns.kinds[row] for row in out)
    first = rows[int(np.argmin(micros[rows]))]  # every identity has rows
    return Routine(
        changes=len(rows),
        outside=len(out),
        days=frozenset(columns.days[row] for row in out),
        signatures=dict(Counter(columns.names[row] for row in out)),
        kinds=dict(Counter(str(kind) for kind in kinds if isinstance(kind, str))),
        hours=frozenset(columns.hours[row] for row in rows),
        clients=_set(columns.clients[row] for row in rows),
        networks=_set(columns.networks[row] for row in rows),
        asns=_asns(columns.asns[row] for row in rows),
        since=pd.Timestamp(times.iloc[first]).to_pydatetime(),
    )


def merge_routines(routines: Iterable[Routine]) -> Routine | None:
    """One routine for a group: every member's changes, signatures, hours and places."""
    members = list(routines)
    if not members:
        return None
    signatures: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for one in members:
        signatures.update(one.signatures)
        kinds.update(one.kinds)
    since = [one.since for one in members if one.since is not None]
    return Routine(
        changes=sum(one.changes for one in members),
        outside=sum(one.outside for one in members),
        days=frozenset().union(*(one.days for one in members)),
        signatures=dict(signatures),
        kinds=dict(kinds),
        hours=frozenset().union(*(one.hours for one in members)),
        clients=frozenset().union(*(one.clients for one in members)),
        networks=frozenset().union(*(one.networks for one in members)),
        asns=frozenset().union(*(one.asns for one in members)),
        since=min(since) if since else None,
        members=len(members),
    )
