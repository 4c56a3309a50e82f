"""The read-only context a rule sees besides the batch: policy, settings, identity history.

:class:`IdentityHistory` is what the dormant, automation, burst and EBS rules need to
know of each identity's past, built from a frame of canonical events that *precede*
the batch (:meth:`IdentityHistory.from_events`). A profile object of the features
package can later fill the same fields through an adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from serving._calendar import event_micros
from serving._policy import Policy
from serving._rules._base import attempted_changes, to_datetime

__all__ = [
    "EBS_DIRECT_READS",
    "IdentityHistory",
    "RuleContext",
    "RuleSettings",
    "rolling_counts",
]

EBS_DIRECT_READS: Final = frozenset({"GetSnapshotBlock", "ListSnapshotBlocks", "ListChangedBlocks"})
"""EBS direct API calls that read a snapshot's blocks (``ebs.amazonaws.com``)."""

IntArray = npt.NDArray[np.int64]


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
    """

    dormant_days: int = 30
    burst_window: timedelta = timedelta(hours=1)
    burst_factor: float = 3.0
    burst_min_changes: int = 20
    burst_min_deletions: int = 10
    sequence_horizon: timedelta = timedelta(hours=24)
    session_gap: timedelta = timedelta(hours=1)
    max_evidence: int = 50

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


def _per_identity_max(changes: pd.DataFrame, window: timedelta) -> dict[str, int]:
    if not len(changes):
        return {}
    times = event_micros(changes)
    out: dict[str, int] = {}
    for identity, rows in changes.groupby("identity_key", sort=False).indices.items():
        out[str(identity)] = int(rolling_counts(np.sort(times[rows]), window).max())
    return out


def _sets(history: pd.DataFrame, column: str) -> dict[str, frozenset[str]]:
    pairs = history[["identity_key", column]].dropna().drop_duplicates()
    return {
        str(identity): frozenset(str(value) for value in group)
        for identity, group in pairs.groupby("identity_key", sort=False)[column]
    }


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
    usual_changes : mapping of str to float
        Median number of compute changes per ``window`` bucket, over buckets with any.
    max_changes, max_deletions : mapping of str to int
        Most compute changes (deletions) the identity made in any sliding ``window``.
    ebs_direct_readers : frozenset of str
        Identities that ever read snapshot blocks through the EBS direct APIs.
    """

    start: datetime | None = None
    end: datetime | None = None
    window: timedelta = timedelta(hours=1)
    last_seen: Mapping[str, datetime] = field(default_factory=dict)
    clients: Mapping[str, frozenset[str]] = field(default_factory=dict)
    networks: Mapping[str, frozenset[str]] = field(default_factory=dict)
    usual_changes: Mapping[str, float] = field(default_factory=dict)
    max_changes: Mapping[str, int] = field(default_factory=dict)
    max_deletions: Mapping[str, int] = field(default_factory=dict)
    ebs_direct_readers: frozenset[str] = frozenset()

    @classmethod
    def from_events(
        cls, history: pd.DataFrame, *, window: timedelta = timedelta(hours=1)
    ) -> IdentityHistory:
        """Build the history from canonical events that precede the batch to be judged.

        Parameters
        ----------
        history : pandas.DataFrame
            Canonical events (``features.read_events`` or ``records_to_table``).
        window : timedelta
            Window of the change counts; use the rules' ``burst_window``.
        """
        if not len(history):
            return cls(window=window)
        times = pd.to_datetime(history["event_time"], utc=True)
        last = times.groupby(history["identity_key"], sort=False).max()
        own = history[~history["by_service"].astype(bool)]
        changes = attempted_changes(history)
        deletions = changes[changes["action"] == "delete"]
        usual: dict[str, float] = {}
        if len(changes):
            buckets = event_micros(changes) // (window // timedelta(microseconds=1))
            per_bucket = (
                pd.Series(buckets).groupby([changes["identity_key"].to_numpy(), buckets]).size()
            )
            usual = {
                str(identity): float(counts.median())
                for identity, counts in per_bucket.groupby(level=0, sort=False)
            }
        readers = history.loc[
            (history["event_source"] == "ebs.amazonaws.com")
            & history["event_name"].isin(EBS_DIRECT_READS),
            "identity_key",
        ]
        return cls(
            start=to_datetime(times.min()),
            end=to_datetime(times.max()),
            window=window,
            last_seen={str(k): to_datetime(v) for k, v in last.items()},
            clients=_sets(own, "client_family"),
            networks=_sets(own, "network"),
            usual_changes=usual,
            max_changes=_per_identity_max(changes, window),
            max_deletions=_per_identity_max(deletions, window),
            ebs_direct_readers=frozenset(str(k) for k in readers.unique()),
        )

    def knows(self, identity: str) -> bool:
        """Whether the identity appears in the history at all."""
        return identity in self.last_seen


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
    """

    history: IdentityHistory = field(default_factory=IdentityHistory)
    policy: Policy | None = None
    settings: RuleSettings = field(default_factory=RuleSettings)
    now: datetime | None = None

    @classmethod
    def build(
        cls,
        history: pd.DataFrame | None = None,
        *,
        policy: Policy | None = None,
        settings: RuleSettings | None = None,
        now: datetime | None = None,
    ) -> RuleContext:
        """Build a context from a history frame of canonical events and a policy."""
        settings = settings or RuleSettings()
        past = (
            IdentityHistory.from_events(history, window=settings.burst_window)
            if history is not None
            else IdentityHistory(window=settings.burst_window)
        )
        return cls(past, policy, settings, now)

    @property
    def evaluated_at(self) -> datetime:
        """``now``, or the wall clock."""
        return self.now or datetime.now(UTC)

    def policy_or_empty(self) -> Policy:
        """Return the policy, or an empty one (no organisation accounts, no allow-lists)."""
        return self.policy or Policy()
