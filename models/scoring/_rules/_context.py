"""The read-only context a rule sees besides the batch: policy, settings, identity history.

:class:`IdentityHistory` is what the dormant, automation, burst and EBS rules need to
know of each identity's past, built from a frame of canonical events that *precede*
the batch (:meth:`IdentityHistory.from_events`). A profile object of the features
package can later fill the same fields through an adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from features import (
    ATTEMPTED_CHANGE,
    COMPUTE_INPUTS,
    DELETION,
    EBS_DIRECT_READ,
    OWN_CALL,
    AwsRanges,
    default_ranges,
    peer_groups,
)
from models.scoring._calendar import UNAPPROVED, ChangeCalendar, event_micros
from models.scoring._policy import Policy
from models.scoring._rules._reads import EBS_DIRECT_READS
from models.scoring._rules._routine import Routine, learn_routines, merge_routines
from models.scoring._rules._weigh_keys import is_person_key

__all__ = [
    "EBS_DIRECT_READS",
    "HistoryDigest",
    "IdentityHistory",
    "RuleContext",
    "RuleSettings",
    "rolling_counts",
]

IntArray = npt.NDArray[np.int64]
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def rolling_counts(times: IntArray, window: timedelta) -> IntArray:
    """For sorted microsecond times, the number of events in ``(t - window, t]`` for each ``t``."""
    span = window // timedelta(microseconds=1)
    first = np.searchsorted(times, times - span, side="right")
    return np.arange(len(times), dtype=np.int64) - first + 1


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """Thresholds of the rules; defaults are starting points to tune per estate.

    Attributes
    ----------
    dormant_days : int
        An identity idle this many days or more counts as dormant.
    burst_window : timedelta
        Width of the sliding window the burst rules count changes in.
    burst_factor : float
        A burst must exceed the identity's historical maximum times this factor ...
    burst_min_changes, burst_min_deletions : int
        ... and at least this many changes (deletions), so that quiet identities do
        not fire on a handful of calls.
    sequence_horizon : timedelta
        The snapshot -> volume -> attach chain (and the instance launch) must fit in it.
    session_gap : timedelta
        Hits of one identity are split where its events are further apart than this.
    max_evidence : int
        At most this many event ids are named per hit.
    routine_min_changes, routine_min_days : int
        An identity whose past holds at least this many changes outside every window and
        ticket, on at least this many days, changes outside windows as a routine
        (:mod:`~models.scoring._rules._routine`): such changes of a kind, client, network
        and hour it used before are reported as context (low), not as alerts.
    routine_hour_slack : int
        A change within this many hours of an hour the identity changed things at is not
        at a new hour.
    bulk_reads : int
        Reads of user data or of Windows passwords by one identity in one session that
        count as a sweep (raised one level when the identity is not known to do so).
    """

    dormant_days: int = 30
    burst_window: timedelta = timedelta(hours=1)
    burst_factor: float = 3.0
    burst_min_changes: int = 20
    burst_min_deletions: int = 10
    sequence_horizon: timedelta = timedelta(hours=24)
    session_gap: timedelta = timedelta(hours=1)
    max_evidence: int = 50
    routine_min_changes: int = 3
    routine_min_days: int = 2
    routine_hour_slack: int = 2
    bulk_reads: int = 10

    def __post_init__(self) -> None:
        if self.dormant_days < 1:
            raise ValueError(f"dormant_days must be >= 1, got {self.dormant_days}")
        if self.burst_factor < 1:
            raise ValueError(f"burst_factor must be >= 1, got {self.burst_factor}")
        for name in ("burst_window", "sequence_horizon", "session_gap"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_evidence < 1:
            raise ValueError(f"max_evidence must be >= 1, got {self.max_evidence}")
        if self.routine_min_changes < 1 or self.routine_min_days < 1:
            raise ValueError(
                "routine_min_changes and routine_min_days must be >= 1, got "
                f"{self.routine_min_changes} and {self.routine_min_days}"
            )
        if not 0 <= self.routine_hour_slack <= 12:
            raise ValueError(
                f"routine_hour_slack must be in [0, 12], got {self.routine_hour_slack}"
            )
        if self.bulk_reads < 2:
            raise ValueError(f"bulk_reads must be >= 2, got {self.bulk_reads}")


def _groups(keys: npt.NDArray[Any], rows: npt.NDArray[np.bool_]) -> dict[str, list[int]]:
    """Row positions per identity among ``rows``, identities in order of appearance (no NA)."""
    out: dict[str, list[int]] = {}
    for position in np.flatnonzero(rows & ~pd.isna(keys)).tolist():
        out.setdefault(str(keys[position]), []).append(position)
    return out


def _sets(
    keys: npt.NDArray[Any], values: npt.NDArray[Any], rows: npt.NDArray[np.bool_]
) -> dict[str, frozenset[str]]:
    """Distinct non-missing ``values`` per identity among ``rows``."""
    out: dict[str, set[str]] = {}
    for position in np.flatnonzero(rows & ~pd.isna(keys) & ~pd.isna(values)).tolist():
        out.setdefault(str(keys[position]), set()).add(str(values[position]))
    return {identity: frozenset(found) for identity, found in out.items()}


def _numbers(
    keys: npt.NDArray[Any], values: npt.NDArray[Any], rows: npt.NDArray[np.bool_]
) -> dict[str, frozenset[int]]:
    """Distinct non-missing integer ``values`` per identity among ``rows``."""
    out: dict[str, set[int]] = {}
    for position in np.flatnonzero(rows & ~pd.isna(keys) & ~pd.isna(values)).tolist():
        out.setdefault(str(keys[position]), set()).add(int(values[position]))
    return {identity: frozenset(found) for identity, found in out.items()}


def _actors(keys: npt.NDArray[Any], history: pd.DataFrame) -> dict[str, frozenset[str]]:
    """For each compute rule input with any row, the identities that have one."""
    found: dict[str, frozenset[str]] = {}
    for one in COMPUTE_INPUTS:
        rows = one.mask(history) & ~pd.isna(keys)
        if rows.any():
            found[one.name] = frozenset(str(k) for k in keys[rows].tolist())
    return found


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _change_counts(times: IntArray, window: timedelta) -> tuple[float, int]:
    """Median changes per ``window`` bucket with any, and the most in any sliding ``window``."""
    span = window // timedelta(microseconds=1)
    buckets = np.unique(times // span, return_counts=True)[1]
    return float(np.median(buckets)), int(rolling_counts(np.sort(times), window).max())


def _routines(history: pd.DataFrame, calendar: ChangeCalendar) -> dict[str, Routine]:
    """Each identity's routine, its past changes judged by ``calendar``."""
    changes = history[ATTEMPTED_CHANGE.mask(history)]
    if not len(changes):
        return {}
    if calendar.windows or calendar.tickets or calendar.freezes:
        outside = np.asarray(calendar.verdict_columns(changes)[0] == UNAPPROVED, dtype=bool)
    else:
        outside = np.ones(len(changes), dtype=bool)
    return learn_routines(changes, outside)


def _peers(history: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """Each identity's peer groups (:func:`features.peer_groups`), for those that have any."""
    return _peers_of(str(key) for key in history["identity_key"].dropna().unique())


def _peers_of(identities: Iterable[str]) -> dict[str, tuple[str, ...]]:
    return {key: groups for key in identities if (groups := peer_groups(key))}


@dataclass(frozen=True, slots=True)
class HistoryDigest:
    """The plain facts an :class:`IdentityHistory` is made of, as a store can count them.

    Times are microseconds since the epoch. The state store of the service computes
    these with a few SQL aggregates instead of reading every past event
    (:meth:`IdentityHistory.from_digest`).

    Attributes
    ----------
    first, last : int or None
        First and last event time of the history (``None`` when it is empty).
    last_seen : mapping of str to int
        Time of each identity's last event.
    clients, networks : mapping of str to frozenset of str
        Client families and networks each identity used (calls by AWS services left out).
    asns : mapping of str to frozenset of int
        Autonomous systems each identity called from (calls by AWS services left out).
    changes, deletions : mapping of str to sequence of int
        Times of each identity's attempted compute changes (deletions), any order.
    ebs_direct_readers : frozenset of str
        Identities that read snapshot blocks through the EBS direct APIs.
    actors : mapping of str to frozenset of str
        For each of ``features.COMPUTE_INPUTS`` (by name), the identities with such an event.
    """

    first: int | None = None
    last: int | None = None
    last_seen: Mapping[str, int] = field(default_factory=dict)
    clients: Mapping[str, frozenset[str]] = field(default_factory=dict)
    networks: Mapping[str, frozenset[str]] = field(default_factory=dict)
    asns: Mapping[str, frozenset[int]] = field(default_factory=dict)
    changes: Mapping[str, Sequence[int]] = field(default_factory=dict)
    deletions: Mapping[str, Sequence[int]] = field(default_factory=dict)
    ebs_direct_readers: frozenset[str] = frozenset()
    actors: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IdentityHistory:
    """What each identity did before the batch.

    Attributes
    ----------
    start, end : datetime or None
        First and last event time of the history (``None`` when it is empty).
    window : timedelta
        The window the change counts below are counted in.
    last_seen : mapping of str to datetime
        Time of each identity's last event of any kind.
    clients : mapping of str to frozenset of str
        Client families each identity used (``aws-service`` calls left out).
    networks : mapping of str to frozenset of str
        Networks (``/24``, ``/64``) each identity called from.
    asns : mapping of str to frozenset of int
        Autonomous systems each identity called from (with GeoIP).
    usual_changes : mapping of str to float
        Median number of compute changes per ``window`` bucket, over buckets with any.
    max_changes, max_deletions : mapping of str to int
        Most compute changes (deletions) the identity made in any sliding ``window``.
    ebs_direct_readers : frozenset of str
        Identities that ever read snapshot blocks through the EBS direct APIs.
    routines : mapping of str to Routine
        Each identity's past changes as its routine (learned with the change calendar:
        which of them no window or ticket approved); empty without a policy.
    peers : mapping of str to tuple of str
        Each identity's peer groups, most alike first (:func:`features.peer_groups`).
    learned : bool
        Whether the routines were learned (a calendar was given): without them,
        out-of-window changes are not weighed against a routine.
    actors : mapping of str to frozenset of str
        For each of ``features.COMPUTE_INPUTS`` (by name: ``user_data_change``, ...), the
        identities that did it: what :meth:`did` answers.
    """

    start: datetime | None = None
    end: datetime | None = None
    window: timedelta = timedelta(hours=1)
    last_seen: Mapping[str, datetime] = field(default_factory=dict)
    clients: Mapping[str, frozenset[str]] = field(default_factory=dict)
    networks: Mapping[str, frozenset[str]] = field(default_factory=dict)
    asns: Mapping[str, frozenset[int]] = field(default_factory=dict)
    usual_changes: Mapping[str, float] = field(default_factory=dict)
    max_changes: Mapping[str, int] = field(default_factory=dict)
    max_deletions: Mapping[str, int] = field(default_factory=dict)
    ebs_direct_readers: frozenset[str] = frozenset()
    routines: Mapping[str, Routine] = field(default_factory=dict)
    peers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    learned: bool = False
    actors: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_events(
        cls,
        history: pd.DataFrame,
        *,
        window: timedelta = timedelta(hours=1),
        calendar: ChangeCalendar | None = None,
    ) -> IdentityHistory:
        """Build the history from canonical events that precede the batch to be judged.

        Parameters
        ----------
        history : pandas.DataFrame
            Canonical events (``features.read_events`` or ``records_to_table``).
        window : timedelta
            Window of the change counts; use the rules' ``burst_window``.
        calendar : ChangeCalendar, optional
            The change calendar the routines judge past changes with (every change counts
            as outside windows when it has no window, ticket or freeze); no routines
            are learned without one.
        """
        if not len(history):
            return cls(window=window)
        times = event_micros(history)
        keys = history["identity_key"].to_numpy(dtype=object)
        everything = np.ones(len(history), dtype=bool)
        own = OWN_CALL.mask(history)
        changes = ATTEMPTED_CHANGE.mask(history)
        deletions = DELETION.mask(history)
        usual: dict[str, float] = {}
        max_changes: dict[str, int] = {}
        for identity, rows in _groups(keys, changes).items():
            usual[identity], max_changes[identity] = _change_counts(times[rows], window)
        max_deletions = {
            identity: _change_counts(times[rows], window)[1]
            for identity, rows in _groups(keys, deletions).items()
        }
        reads = EBS_DIRECT_READ.mask(history)
        return cls(
            start=_moment(int(times.min())),
            end=_moment(int(times.max())),
            window=window,
            last_seen={
                identity: _moment(int(times[rows].max()))
                for identity, rows in _groups(keys, everything).items()
            },
            clients=_sets(keys, history["client_family"].to_numpy(dtype=object), own),
            networks=_sets(keys, history["network"].to_numpy(dtype=object), own),
            asns=_numbers(keys, history["asn"].to_numpy(dtype=object), own),
            usual_changes=usual,
            max_changes=max_changes,
            max_deletions=max_deletions,
            ebs_direct_readers=frozenset(str(k) for k in dict.fromkeys(keys[reads].tolist())),
            routines=_routines(history, calendar) if calendar is not None else {},
            peers=_peers(history),
            learned=calendar is not None,
            actors=_actors(keys, history),
        )

    @classmethod
    def from_digest(
        cls, digest: HistoryDigest, *, window: timedelta = timedelta(hours=1)
    ) -> IdentityHistory:
        """Build the history from its digest; equal to :meth:`from_events` on the same events."""
        if digest.first is None or digest.last is None:
            return cls(window=window)
        usual: dict[str, float] = {}
        max_changes: dict[str, int] = {}
        for identity, times in digest.changes.items():
            if len(times):
                counts = _change_counts(np.asarray(times, dtype=np.int64), window)
                usual[identity], max_changes[identity] = counts
        return cls(
            start=_moment(digest.first),
            end=_moment(digest.last),
            window=window,
            last_seen={identity: _moment(at) for identity, at in digest.last_seen.items()},
            clients=dict(digest.clients),
            networks=dict(digest.networks),
            asns=dict(digest.asns),
            usual_changes=usual,
            max_changes=max_changes,
            max_deletions={
                identity: _change_counts(np.asarray(times, dtype=np.int64), window)[1]
                for identity, times in digest.deletions.items()
                if len(times)
            },
            ebs_direct_readers=digest.ebs_direct_readers,
            peers=_peers_of(digest.last_seen),
            actors={name: frozenset(who) for name, who in digest.actors.items() if who},
        )

    def with_routines(self, changes: pd.DataFrame, calendar: ChangeCalendar) -> IdentityHistory:
        """Return this history with routines learned from ``changes`` (its past events)."""
        identities = changes["identity_key"].dropna().unique() if len(changes) else ()
        return self.with_learned(self.learn(changes, calendar), (str(k) for k in identities))

    @staticmethod
    def learn(changes: pd.DataFrame, calendar: ChangeCalendar) -> dict[str, Routine]:
        """Return each identity's routine learned from its past ``changes``, judged by ``calendar``.

        Identities in order of first appearance. An identity's routine depends on its own
        changes alone (and the calendar): learned from the changes of some identities, the
        routines of those are what all the changes give them.
        """
        return _routines(changes, calendar) if len(changes) else {}

    def with_learned(
        self, routines: Mapping[str, Routine], identities: Iterable[str]
    ) -> IdentityHistory:
        """Return this history with ``routines`` (:meth:`learn`) of the past of ``identities``.

        ``identities`` are those the past changes belong to (their peer groups are added).
        """
        return replace(
            self,
            routines=dict(routines),
            peers={**self.peers, **_peers_of(identities)},
            learned=True,
        )

    def _with_own_calls(self, routine: Routine, identity: str) -> Routine:
        """Return the routine with every client, network and AS the identity called from."""
        return replace(
            routine,
            clients=routine.clients | self.clients.get(identity, frozenset()),
            networks=routine.networks | self.networks.get(identity, frozenset()),
            asns=routine.asns | self.asns.get(identity, frozenset()),
        )

    def knows(self, identity: str) -> bool:
        """Whether the identity appears in the history at all."""
        return identity in self.last_seen

    def routine(self, identity: str) -> tuple[Routine | None, str | None]:
        """Return the routine an identity's changes are weighed against, and whose it is.

        Returns ``(routine, whose)``: ``whose`` says in words whose routine it is when it is
        not the identity's own (``"this identity and its peers (3 of the Dev users in
        account 111)"``), ``None`` when it is. Peers are the most alike group with a
        routine (:func:`features.peer_groups`).

        * Automation is weighed against its own routine; an identity with no change in its
          past, against its peers'.
        * A person is weighed against their own routine joined with their closest peers'
          (themselves in other accounts, their team): people fix what their team fixes,
          on call, with whichever call the fix needs.
        * Against peers, a network any of the organisation's changes came from is not new
          (a new role in an account uses that account's NAT); either way, a client, network
          or AS the identity itself called from before (reads included) is not new for it.

        An identity the history knows that never changed anything and has no peers has an
        empty routine of its own; one it does not know and without peers has none.
        """
        own = self.routines.get(identity)
        if own is not None and own.changes and not is_person_key(identity):
            return self._with_own_calls(own, identity), None
        peers = self._peers_routine(identity, groups=2 if is_person_key(identity) else 1)
        if peers is not None:
            routine, group = peers
            if own is not None and own.changes:
                joined = merge_routines([own, routine])
                assert joined is not None
                whose = f"this identity and its peers ({group})"
                return self._with_own_calls(replace(joined, members=1), identity), whose
            return self._with_own_calls(routine, identity), f"its peers ({group})"
        if own is not None and own.changes:
            return self._with_own_calls(own, identity), None
        if own is not None or self.knows(identity):
            return Routine(members=1), None
        return None, None

    def _peers_routine(self, identity: str, groups: int = 1) -> tuple[Routine, str] | None:
        """Return the pooled routine of the most alike peer groups that have one, and their names.

        ``groups`` says how many rungs of the ladder (:func:`features.peer_groups`) with a
        routine and members not already pooled are pooled: one for automation (its closest
        kin), two for people (themselves in other accounts, then their team: people fix what
        their team fixes).
        """
        members: dict[str, Routine] = {}
        names: list[str] = []
        for group in peer_groups(identity):
            found = {
                other: routine
                for other, routine in self.routines.items()
                if other != identity and other not in members and group in self.peers.get(other, ())
            }
            if found:
                names.append(f"{len(found)} of the {group}")
                members.update(found)
                if len(names) == groups:
                    break
        merged = merge_routines(members.values())
        if merged is None:
            return None
        everyone = self.routines.values()
        pooled = replace(
            merged,
            networks=merged.networks.union(*(r.networks for r in everyone)),
            asns=merged.asns.union(*(r.asns for r in everyone)),
        )
        return pooled, "; ".join(names)

    def did(self, identity: str, input_name: str) -> bool:
        """Whether the identity has an event of the compute rule input ``input_name``."""
        return identity in self.actors.get(input_name, ())

    def peers_did(self, identity: str, input_name: str) -> str | None:
        """Name the closest peers who did ``input_name``, for an identity with no past.

        The peers are those of the first rungs of :func:`features.peer_groups` the history
        has members of (two for people: themselves in other accounts, then their team; one
        for automation), as :meth:`routine` pools them. Returns ``"2 of the Dev users in
        account 111"`` when any of them did it, else ``None``.
        """
        did = self.actors.get(input_name, frozenset())
        rungs = 2 if is_person_key(identity) else 1
        named: list[str] = []
        for group in peer_groups(identity):
            members = [
                other
                for other, groups in self.peers.items()
                if other != identity and group in groups
            ]
            if not members:
                continue
            doers = sum(1 for other in members if other in did)
            if doers:
                named.append(f"{doers} of the {group}")
            rungs -= 1
            if rungs == 0:
                break
        return "; ".join(named) or None


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything a rule may read besides the batch; rules never change it.

    Attributes
    ----------
    history : IdentityHistory
        The identities' past.
    policy : Policy or None
        Windows, tickets, freezes, organisation, allow-lists and suppressions; the
        change-window rules stay silent without one.
    settings : RuleSettings
        The rules' thresholds.
    now : datetime or None
        Time of evaluation (aware), for suppression expiry; the wall clock when ``None``.
    aws_ranges : AwsRanges, None or "installed"
        AWS's published IP ranges; ``None``: none (outside AWS is judged by GeoIP's AS
        alone); ``"installed"`` (the default): the newest snapshot installed where the rules
        run (``features.default_ranges``), read when a rule asks (:meth:`ranges`).
    """

    history: IdentityHistory = field(default_factory=IdentityHistory)
    policy: Policy | None = None
    settings: RuleSettings = field(default_factory=RuleSettings)
    now: datetime | None = None
    aws_ranges: AwsRanges | Literal["installed"] | None = "installed"

    @classmethod
    def build(
        cls,
        history: pd.DataFrame | IdentityHistory | None = None,
        *,
        policy: Policy | None = None,
        settings: RuleSettings | None = None,
        now: datetime | None = None,
        aws_ranges: AwsRanges | Literal["installed"] | None = "installed",
    ) -> RuleContext:
        """Build a context from past canonical events (or their history) and a policy."""
        settings = settings or RuleSettings()
        if isinstance(history, IdentityHistory):
            past = history
        elif history is not None:
            calendar = policy.calendar if policy is not None else None
            past = IdentityHistory.from_events(
                history, window=settings.burst_window, calendar=calendar
            )
        else:
            past = IdentityHistory(window=settings.burst_window)
        return cls(past, policy, settings, now, aws_ranges)

    def ranges(self) -> AwsRanges | None:
        """Return the AWS IP ranges the rules judge addresses by (see ``aws_ranges``)."""
        return default_ranges() if isinstance(self.aws_ranges, str) else self.aws_ranges

    @property
    def evaluated_at(self) -> datetime:
        """``now``, or the wall clock."""
        return self.now or datetime.now(UTC)

    def policy_or_empty(self) -> Policy:
        """Return the policy, or an empty one (no organisation accounts, no allow-lists)."""
        return self.policy or Policy()
