"""Multi-step compute changes inside a horizon: the snapshot chain, stop -> modify -> start, shares.

The snapshot chain (snapshot -> volume from that snapshot -> attached to a freshly launched
instance) is found by one function, :func:`snapshot_chains`, which both its users call:

* the sequence features (:func:`sequence_counts`) follow it within one identity
  (``owners`` given): ``seq_snapshot_volume_attach`` counts attachments of a volume made from a
  snapshot to an instance launched within the horizon, ``seq_own_snapshot_volume_attach``
  those whose snapshot the identity made too;
* the rule ``Sequence.SnapshotToNewInstance`` (``models.scoring``) follows it across
  identities (``owners=None``) and names the events of each chain it finds.

Steps are matched on the EC2 ids of ``resource_ids``, whose prefix tells the role: for
``CreateVolume`` the ``vol-`` is the new volume and the ``snap-`` its source; for
``AttachVolume`` the ``vol-`` and the ``i-``; ``RunInstances`` names the new ``i-`` ids.
Which rows are steps (successful calls; the rule also wants EC2 as the source) is the
caller's choice. Only the few step rows are looked at, one Python pass with sorted lists per
id, so a batch of one event costs microseconds and a month of events stays linear.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from features._config import FeatureConfig
from features._predicates import SNAPSHOT_CREATES
from features._windows import Prepared, count_before

__all__ = ["LOOKBACK_NAMES", "SnapshotChain", "lookback_mask", "sequence_counts", "snapshot_chains"]

I64 = npt.NDArray[np.int64]
Key = tuple[Any, str]
Values = Sequence[Any] | npt.NDArray[Any]

_MODIFY_ATTRIBUTES: Final = frozenset({"userData", "instanceType"})
_ACCOUNT: Final = re.compile(r"^\d{12}$")
_SHARED: Final = ("snapshot", "image")
LOOKBACK_NAMES: Final = frozenset(
    {*SNAPSHOT_CREATES, "CreateVolume", "RunInstances", "StopInstances", "ModifyInstanceAttribute"}
)
"""Calls the sequence features look back at, before the windows they describe."""


def lookback_mask(frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Rows the sequence features may read when they lie before the windows being measured.

    The earlier steps of a chain (:data:`LOOKBACK_NAMES`) and the snapshots the
    ``snapshots_in_horizon`` count reads; a live state keeps these from the ``horizon``
    before its open windows and drops the other closed rows (:class:`features.FeatureState`).
    """
    if len(frame) == 0:
        return np.zeros(0, dtype=bool)
    names = frame["event_name"].isin(LOOKBACK_NAMES).to_numpy(dtype=bool)
    snapshots = (frame["resource_type"] == "snapshot").to_numpy(dtype=bool) & frame["action"].isin(
        ("create", "copy")
    ).to_numpy(dtype=bool)
    return names | snapshots


@dataclass(frozen=True, slots=True)
class SnapshotChain:
    """One attachment of a volume to an instance, and the chain of steps behind it.

    All fields but the ids are row positions in the caller's input.

    Attributes
    ----------
    attach : int
        The ``AttachVolume`` call.
    volume, instance : str
        The volume and instance it names (a call naming several gives one chain per pair).
    launch : int or None
        The latest launch of the instance at or before the attachment, when that is within
        the horizon; ``None`` otherwise.
    recent_volume : bool
        The volume was made from a snapshot within the horizon before the attachment.
    volume_made : int or None
        The latest making of the volume (at or before the attachment) whose source snapshot
        was made within the horizon before the attachment; ``None`` when there is none.
    snapshot : int or None
        That snapshot's making: the latest one at or before ``volume_made``.
    snapshot_id : str or None
        The snapshot's id.
    """

    attach: int
    volume: str
    instance: str
    launch: int | None
    recent_volume: bool
    volume_made: int | None
    snapshot: int | None
    snapshot_id: str | None

    @property
    def launched(self) -> bool:
        """The volume went to an instance launched within the horizon, from a recent volume."""
        return self.launch is not None and self.recent_volume

    @property
    def complete(self) -> bool:
        """Snapshot, volume from it, fresh instance and attachment all fit in the horizon."""
        return self.launch is not None and self.snapshot is not None


def _ids(values: Any, prefix: str) -> list[str]:
    if _missing(values):
        return []
    return [text for text in (str(v) for v in values) if text.startswith(prefix)]


class _Index:
    """Per key, the (time, row) of each step in time order, and the latest at or before a time."""

    def __init__(self) -> None:
        self.times: dict[Key, list[int]] = {}
        self.entries: dict[Key, list[tuple[int, ...]]] = {}

    def add(self, key: Key, time: int, *entry: Any) -> None:
        self.times.setdefault(key, []).append(time)
        self.entries.setdefault(key, []).append((time, *entry))

    def upto(self, key: Key, until: int) -> list[tuple[Any, ...]]:
        """Entries at or before ``until``, oldest first (ties in input order)."""
        times = self.times.get(key)
        if not times:
            return []
        return self.entries[key][: bisect.bisect_right(times, until)]

    def latest(self, key: Key, until: int) -> tuple[Any, ...] | None:
        found = self.upto(key, until)
        return found[-1] if found else None


def snapshot_chains(
    rows: Values,
    time: Values,
    names: Values,
    resource_ids: Values,
    horizon_ns: int,
    *,
    owners: Values | None = None,
) -> list[SnapshotChain]:
    """Find, for every attachment among the step rows, the snapshot chain behind it.

    Parameters
    ----------
    rows : sequence of int
        Row positions of the step events (successful calls the caller chose), in time
        order; ties keep their order (the latest of equal times is the last).
    time : sequence of int
        Their times (any integer unit, the same as ``horizon_ns``).
    names : sequence of str
        Their event names; other names than the chain's steps are ignored.
    resource_ids : sequence of sequences of str
        Their ``resource_ids``.
    horizon_ns : int
        Snapshot, volume, launch and attachment must all fall within this before the
        attachment.
    owners : sequence, optional
        Identity of each row: steps are then matched within one identity only (the
        features). Without it the chain may run through several identities (the rule).

    Returns
    -------
    list of SnapshotChain
        One per (volume, instance) pair of every ``AttachVolume`` row, in row order.
    """
    snapshots, volumes, launches = _Index(), _Index(), _Index()
    attaches: list[tuple[int, int, str, str, Any]] = []
    for position, row in enumerate(rows):
        name, moment, ids = names[position], int(time[position]), resource_ids[position]
        owner = owners[position] if owners is not None else None
        if name in SNAPSHOT_CREATES:
            for snap in _ids(ids, "snap-"):
                snapshots.add((owner, snap), moment, row)
        elif name == "CreateVolume":
            sources = _ids(ids, "snap-")
            for volume in _ids(ids, "vol-"):
                for snap in sources:
                    volumes.add((owner, volume), moment, row, snap)
        elif name == "RunInstances":
            for instance in _ids(ids, "i-"):
                launches.add((owner, instance), moment, row)
        elif name == "AttachVolume":
            for volume in _ids(ids, "vol-"):
                for instance in _ids(ids, "i-"):
                    attaches.append((row, moment, volume, instance, owner))
    return [
        _chain(row, moment, volume, instance, owner, snapshots, volumes, launches, horizon_ns)
        for row, moment, volume, instance, owner in attaches
    ]


def _chain(
    row: int,
    moment: int,
    volume: str,
    instance: str,
    owner: Any,
    snapshots: _Index,
    volumes: _Index,
    launches: _Index,
    horizon_ns: int,
) -> SnapshotChain:
    earliest = moment - horizon_ns
    launch = launches.latest((owner, instance), moment)
    launched = launch[1] if launch is not None and launch[0] >= earliest else None
    made = volumes.upto((owner, volume), moment)
    recent = any(entry[0] >= earliest for entry in made)
    for made_at, made_row, snap in reversed(made):
        source = snapshots.latest((owner, snap), made_at)
        if source is not None and source[0] >= earliest:
            return SnapshotChain(row, volume, instance, launched, recent, made_row, source[1], snap)
    return SnapshotChain(row, volume, instance, launched, recent, None, None, None)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _column(prepared: Prepared, name: str, rows: I64) -> npt.NDArray[np.object_]:
    """Values of one column at ``rows``, as Python objects (only those rows are converted)."""
    values: npt.NDArray[np.object_] = prepared.frame[name].take(rows).to_numpy(dtype=object)
    return values


def _succeeded(prepared: Prepared) -> npt.NDArray[np.bool_]:
    return prepared.codes("error_code")[0] < 0


def _step_rows(prepared: Prepared, names: Iterable[str]) -> I64:
    """Rows of successful calls named ``names``, in the prepared order (identity, time)."""
    codes, uniques = prepared.codes("event_name")
    wanted = np.flatnonzero(np.isin(uniques, list(names)))
    return np.flatnonzero(np.isin(codes, wanted) & _succeeded(prepared))


def _chain_rows(prepared: Prepared, horizon_ns: int) -> tuple[I64, I64]:
    """Attach rows completing volume-from-snapshot + new instance, and the full chain."""
    rows = _step_rows(prepared, (*SNAPSHOT_CREATES, "CreateVolume", "RunInstances", "AttachVolume"))
    chains = snapshot_chains(
        rows.tolist(),
        prepared.time[rows].tolist(),
        _column(prepared, "event_name", rows),
        _column(prepared, "resource_ids", rows),
        horizon_ns,
        owners=prepared.ident[rows].tolist(),
    )
    partial = np.unique(np.array([c.attach for c in chains if c.launched], dtype=np.int64))
    full = np.unique(np.array([c.attach for c in chains if c.complete], dtype=np.int64))
    return partial, full


def _stop_modify_start(prepared: Prepared, horizon_ns: int) -> I64:
    """Start rows preceded by stop then userData/instanceType change of the same instance."""
    rows = _step_rows(prepared, ("StopInstances", "ModifyInstanceAttribute", "StartInstances"))
    names = _column(prepared, "event_name", rows)
    attributes = _column(prepared, "attribute", rows)
    resources = _column(prepared, "resource_ids", rows)
    stops, modifies = _Index(), _Index()
    starts: list[tuple[int, int, Key]] = []
    for row, name, attribute, ids, moment, owner in zip(
        rows.tolist(),
        names,
        attributes,
        resources,
        prepared.time[rows].tolist(),
        prepared.ident[rows].tolist(),
        strict=True,
    ):
        for instance in _ids(ids, "i-"):
            key = (owner, instance)
            if name == "StopInstances":
                stops.add(key, moment, row)
            elif name == "StartInstances":
                starts.append((row, moment, key))
            elif isinstance(attribute, str) and attribute in _MODIFY_ATTRIBUTES:
                modifies.add(key, moment, row)
    found = set()
    for row, moment, key in starts:
        modify = modifies.latest(key, moment)
        if modify is None or modify[0] < moment - horizon_ns:
            continue
        stop = stops.latest(key, modify[0])
        if stop is not None and stop[0] >= moment - horizon_ns:
            found.add(row)
    return np.array(sorted(found), dtype=np.int64)


def _shares(prepared: Prepared, config: FeatureConfig) -> tuple[I64, I64]:
    """Rows of successful snapshot/image shares to a foreign account, and to the public."""
    frame = prepared.frame
    mask = (
        (frame["action"] == "share").to_numpy()
        & frame["resource_type"].isin(_SHARED).to_numpy()
        & _succeeded(prepared)
    )
    rows = np.flatnonzero(mask)
    own = set(config.org_accounts)
    foreign: list[int] = []
    public: list[int] = []
    accounts = _column(prepared, "account_id", rows)
    targets = _column(prepared, "share_targets", rows)
    for row, account, shared in zip(rows.tolist(), accounts, targets, strict=True):
        for target in () if _missing(shared) else shared:
            if _missing(target):
                continue
            text = str(target)
            if text == "all":
                public.append(row)
            elif _ACCOUNT.match(text) and text != str(account) and text not in own:
                foreign.append(row)
    return np.unique(np.array(foreign, dtype=np.int64)), np.unique(np.array(public, dtype=np.int64))


def sequence_counts(
    prepared: Prepared,
    window_of_row: I64,
    window_ident: I64,
    window_end: I64,
    n_windows: int,
) -> dict[str, npt.NDArray[np.float64]]:
    """Per output window, the sequence features of the catalogue.

    Parameters
    ----------
    prepared : Prepared
        All events, the look-back context included.
    window_of_row : numpy.ndarray
        Output window index of each row, ``-1`` for rows of no output window.
    window_ident, window_end : numpy.ndarray
        Identity code and end (ns) of each output window.
    n_windows : int
        Number of output windows.
    """
    config = prepared.config
    horizon = config.horizon_ns

    def per_window(rows: I64) -> npt.NDArray[np.float64]:
        windows = window_of_row[rows]
        windows = windows[windows >= 0]
        return np.bincount(windows, minlength=n_windows).astype(np.float64)

    partial, full = _chain_rows(prepared, horizon)
    foreign, public = _shares(prepared, config)
    frame = prepared.frame
    snap_mask = (
        (frame["resource_type"] == "snapshot").to_numpy()
        & frame["action"].isin(("create", "copy")).to_numpy()
        & _succeeded(prepared)
    )
    snap_rows = np.flatnonzero(snap_mask)
    in_horizon = count_before(
        prepared.ident[snap_rows], prepared.time[snap_rows], window_ident, window_end
    ) - count_before(
        prepared.ident[snap_rows], prepared.time[snap_rows], window_ident, window_end - horizon
    )
    return {
        "seq_snapshot_volume_attach": per_window(partial),
        "seq_own_snapshot_volume_attach": per_window(full),
        "share_foreign": per_window(foreign),
        "share_public": per_window(public),
        "seq_stop_modify_start": per_window(_stop_modify_start(prepared, horizon)),
        "snapshots_in_horizon": in_horizon.astype(np.float64),
    }
