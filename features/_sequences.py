"""Multi-step compute changes inside a horizon: the snapshot chain, stop -> modify -> start, shares.

The snapshot chain (snapshot -> volume from that snapshot -> attached to a freshly launched
instance) is found by one function, :func:`snapshot_chains`, which both its users call:

* the sequence features (:func:`sequence_counts`) follow it within one identity
  (``owners`` given): ``seq_snapshot_volume_attach`` counts attachments of a volume made from a
  snapshot to an instance launched within the horizon, ``seq_own_snapshot_volume_attach``
  those whose snapshot the identity made too;
* the rule ``Sequence.SnapshotToNewInstance`` (``models.scoring``) follows it across
  identities (``owners=None``) and names the events of each chain it finds.

Both read the same steps in every cloud, declared once on the canonical taxonomy
(``features._predicates``: :data:`SNAPSHOT_MADE`, :data:`VOLUME_MADE`,
:data:`INSTANCE_LAUNCH`, :data:`DISK_ATTACH`), and match them on the ids of
``resource_ids``, whose type each cloud's id tells (:func:`features._resources.resource_type_of`:
``vol-``/``snap-``/``i-``, ARM ids, ``projects/...`` paths). A row may play several roles:
Google's ``instances.insert`` with a boot disk from a snapshot makes the volume, launches the
instance and attaches the one to the other at once. Which rows are steps is the caller's
choice: successful calls for the features, of a compute service too for the rule
(:data:`CHAIN_STEP_DONE`). Only the few step rows are
looked at, one Python pass with sorted lists per id, so a batch of one event costs
microseconds and a month of events stays linear.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from features._config import FeatureConfig
from features._expressions import Col, Columns, Expr
from features._predicates import (
    CHAIN_STEP,
    DISK_ATTACH,
    INSTANCE_LAUNCH,
    RESTART_STEP,
    SNAPSHOT_MADE,
    VOLUME_MADE,
)
from features._resources import ids_by_type, ids_of_type
from features._windows import Prepared, count_before, factorize

__all__ = [
    "ATTACHED",
    "LAUNCHED",
    "MADE_SNAPSHOT",
    "MADE_VOLUME",
    "SnapshotChain",
    "chain_roles",
    "declared_mask",
    "lookback_mask",
    "sequence_counts",
    "snapshot_chains",
]

I64 = npt.NDArray[np.int64]
Key = tuple[Any, str]
Values = Sequence[Any] | npt.NDArray[Any]

MADE_SNAPSHOT: Final = 1
"""Role bit of a row that makes the snapshots it names (:data:`SNAPSHOT_MADE`)."""
MADE_VOLUME: Final = 2
"""Role bit of a row that makes the volumes it names from the snapshots it names."""
LAUNCHED: Final = 4
"""Role bit of a row that launches the instances it names."""
ATTACHED: Final = 8
"""Role bit of a row that attaches the volumes it names to the instances it names."""
_ROLES: Final[tuple[tuple[int, Expr], ...]] = (
    (MADE_SNAPSHOT, SNAPSHOT_MADE),
    (MADE_VOLUME, VOLUME_MADE),
    (LAUNCHED, INSTANCE_LAUNCH),
    (ATTACHED, DISK_ATTACH),
)
_ACCOUNT: Final = re.compile(r"^\d{12}$")
_SHARED: Final = ("snapshot", "image")
_SUCCEEDED_STEP: Final[Expr] = (
    CHAIN_STEP.expr & Col("error_code").missing() & Col("is_compute_change").true
)
"""The steps the features follow: successful ones, from any source (the featuriser does not
read ``event_source``; the rule also wants a compute service, :data:`CHAIN_STEP_DONE`)."""
_LOOKBACK: Final[Expr] = (
    SNAPSHOT_MADE
    | VOLUME_MADE
    | INSTANCE_LAUNCH
    | (RESTART_STEP & Col("action").isin(("stop", "modify")))
)
"""Rows the sequence features look back at, before the windows they describe: the earlier
steps of a chain and of stop -> modify -> start (attachments and starts end them)."""


def declared_mask(frame: Columns, expr: Expr) -> npt.NDArray[np.bool_]:
    """Evaluate a declared predicate over a frame, once per distinct combination of its columns.

    The same answer as ``expr.mask(frame)``; the predicate's few columns take few distinct
    values, so this costs a factorisation per column instead of Python per row. ``frame``
    may also be a mapping of column name to array (:class:`features._expressions.Columns`).
    """
    if _length(frame) == 0:
        return np.zeros(0, dtype=bool)
    names = _names(expr)
    return _by_distinct([factorize(_array(frame[c])) for c in names], names, [expr])[0]


def _length(frame: Columns) -> int:
    """Rows of a frame, or of a mapping's columns."""
    if isinstance(frame, pd.DataFrame):
        return len(frame)
    return len(_array(next(iter(frame.values())))) if len(frame) else 0


def _array(values: Any) -> npt.NDArray[Any]:
    """Return a column as a NumPy array (a pandas column through ``to_numpy``)."""
    return np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values)


def _names(expr: Expr) -> list[str]:
    return _answers(expr)[0]


_ANSWERS: dict[Expr, tuple[list[str], dict[tuple[Any, ...], bool]]] = {}
_ANSWERS_KEPT: Final = 4096
"""Answers kept per predicate (then forgotten and learned again), for at most 256 predicates."""


def _answers(expr: Expr) -> tuple[list[str], dict[tuple[Any, ...], bool]]:
    """Return the predicate's columns, sorted, and its answers to the combinations seen so far.

    A predicate's answer is a function of one row's values (every :class:`Expr` is), so
    the answer for a combination of values met in an earlier call is not evaluated again:
    a live call's few steps are mostly combinations seen before (ADR 0057).
    """
    found = _ANSWERS.get(expr)
    if found is None:
        if len(_ANSWERS) >= 256:
            _ANSWERS.clear()
        found = _ANSWERS[expr] = (sorted(expr.columns()), {})
    return found


def _by_distinct(
    factors: list[tuple[Any, Any]], names: list[str], exprs: Sequence[Expr]
) -> list[npt.NDArray[np.bool_]]:
    """Each predicate's answers, evaluated once per distinct combination of the columns.

    ``factors`` are the (codes, values) of the columns ``names``, which hold every column
    the predicates read: the rows are grouped by one sort, whatever the predicates.
    """
    codes = [np.asarray(c, dtype=np.int64) + 1 for c, _ in factors]
    sizes = [len(u) + 1 for _, u in factors]
    combined = np.ravel_multi_index(codes, sizes) if len(codes) > 1 else codes[0]
    distinct, inverse = np.unique(combined, return_inverse=True)
    parts = np.unravel_index(distinct, sizes) if len(codes) > 1 else (distinct,)
    columns = {}
    for name, (_, uniques), part in zip(names, factors, parts, strict=True):
        values = np.asarray([None, *list(uniques)], dtype=object)
        columns[name] = values[part]
    rows = inverse.reshape(-1)
    masks = []
    for expr in exprs:
        own, known = _answers(expr)
        answer = _distinct_answers(expr, {name: columns[name] for name in own}, own, known)
        masks.append(answer[rows])
    return masks


def _distinct_answers(
    expr: Expr,
    columns: dict[str, npt.NDArray[np.object_]],
    names: list[str],
    known: dict[tuple[Any, ...], bool],
) -> npt.NDArray[np.bool_]:
    """``expr.mask(columns)``, evaluated only for combinations it has not answered yet."""
    keys = list(zip(*([(type(v), v) for v in columns[n].tolist()] for n in names), strict=True))
    answers = [known.get(key) for key in keys]  # values from factorize: all hashable
    todo = [at for at, found in enumerate(answers) if found is None]
    if todo:
        fresh = expr.mask({n: columns[n][todo] for n in names}).tolist()
        if len(known) + len(todo) > _ANSWERS_KEPT:
            known.clear()
        for at, value in zip(todo, fresh, strict=True):
            answers[at] = known[keys[at]] = bool(value)
    return np.array(answers, dtype=bool)


def _prepared_masks(prepared: Prepared, exprs: Sequence[Expr]) -> list[npt.NDArray[np.bool_]]:
    """:func:`declared_mask` of each predicate over a prepared frame, by one grouping.

    The rows are grouped by the values of every column the predicates read, from the codes
    the frame caches for its features (a live call's sequence features ask six predicates
    of the same few columns, ADR 0069).
    """
    if len(prepared.time) == 0:
        return [np.zeros(0, dtype=bool) for _ in exprs]
    names = sorted({name for expr in exprs for name in _names(expr)})
    factors: list[tuple[Any, Any]] = []
    for name in names:
        if prepared.dtype(name) == np.bool_:
            flags = prepared.flags(name).astype(np.int64)
            factors.append((flags, np.array([False, True], dtype=object)))
        else:
            factors.append(prepared.codes(name))
    return _by_distinct(factors, names, exprs)


def _prepared_mask(prepared: Prepared, expr: Expr) -> npt.NDArray[np.bool_]:
    """:func:`declared_mask` over a prepared frame (:func:`_prepared_masks` of one predicate)."""
    return _prepared_masks(prepared, [expr])[0]


def chain_roles(frame: Columns) -> npt.NDArray[np.int64]:
    """Return the role bits (:data:`MADE_SNAPSHOT` ...) of every row of a frame of steps.

    ``frame`` is a frame or a mapping of column name to array.
    """
    return _roles(partial(declared_mask, frame), _length(frame))


def _roles(mask: Callable[[Expr], npt.NDArray[np.bool_]], n: int) -> npt.NDArray[np.int64]:
    """Return the role bits of ``n`` rows, from each role's predicate's answers (``mask``)."""
    roles = np.zeros(n, dtype=np.int64)
    for bit, expr in _ROLES:
        roles[mask(expr)] |= bit
    return roles


def lookback_mask(frame: Columns) -> npt.NDArray[np.bool_]:
    """Rows the sequence features may read when they lie before the windows being measured.

    The earlier steps of a chain and of stop -> modify -> start (the snapshots among them
    are those the ``snapshots_in_horizon`` count reads); a live state keeps these from the
    ``horizon`` before its open windows and drops the other closed rows
    (:class:`features.FeatureState`).
    """
    return declared_mask(frame, _LOOKBACK)


@dataclass(frozen=True, slots=True)
class SnapshotChain:
    """One attachment of a volume to an instance, and the chain of steps behind it.

    All fields but the ids are row positions in the caller's input.

    Attributes
    ----------
    attach : int
        The attaching call (``AttachVolume``, an Azure machine write, ``instances.attachDisk``).
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
    roles: Values,
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
    roles : sequence of int
        Their role bits (:func:`chain_roles`); rows of no role are ignored.
    resource_ids : sequence of sequences of str
        Their ``resource_ids``. A volume creation naming several snapshots has them
        tried as its source in the order named.
    horizon_ns : int
        Snapshot, volume, launch and attachment must all fall within this before the
        attachment.
    owners : sequence, optional
        Identity of each row: steps are then matched within one identity only (the
        features). Without it the chain may run through several identities (the rule).

    Returns
    -------
    list of SnapshotChain
        One per (volume, instance) pair of every attaching row, in row order.
    """
    snapshots, volumes, launches = _Index(), _Index(), _Index()
    attaches: list[tuple[int, int, str, str, Any]] = []
    for position, row in enumerate(rows):
        role, moment, ids = int(roles[position]), int(time[position]), resource_ids[position]
        if not role:
            continue
        owner = owners[position] if owners is not None else None
        typed = ids_by_type(ids)
        snaps = typed.get("snapshot", [])
        volume_ids = typed.get("volume", [])
        instances = typed.get("instance", [])
        if role & MADE_SNAPSHOT:
            for snap in snaps:
                snapshots.add((owner, snap), moment, row)
        if role & MADE_VOLUME:
            for volume in volume_ids:
                # _chain tries the newest entry first; a record naming several snapshots
                # has them tried in the record's order, so they are added last to first
                for snap in reversed(snaps):
                    volumes.add((owner, volume), moment, row, snap)
        if role & LAUNCHED:
            for instance in instances:
                launches.add((owner, instance), moment, row)
        if role & ATTACHED:
            for volume in volume_ids:
                for instance in instances:
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
    return prepared.objects_at(name, rows)


def _among(prepared: Prepared, name: str, wanted: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    """Rows whose value of ``name`` is one of ``wanted`` (missing values never are)."""
    codes, names = prepared.codes(name)
    hit = np.fromiter((n in wanted for n in names.tolist()), dtype=bool, count=len(names))
    return np.append(hit, False)[codes]


def _succeeded(prepared: Prepared) -> npt.NDArray[np.bool_]:
    return prepared.codes("error_code")[0] < 0


def _chain_rows(
    prepared: Prepared, horizon_ns: int, masks: dict[Expr, npt.NDArray[np.bool_]]
) -> tuple[I64, I64]:
    """Attach rows completing volume-from-snapshot + new instance, and the full chain.

    ``masks`` holds the answers of :data:`_SUCCEEDED_STEP` and of each role's predicate.
    """
    rows = np.flatnonzero(masks[_SUCCEEDED_STEP])
    if len(rows) == 0:
        return rows, rows
    # the roles read the codes the features already made (chain_roles over the rows'
    # values would factorize their columns again for every role, ADR 0067)
    chains = snapshot_chains(
        rows.tolist(),
        prepared.time[rows].tolist(),
        _roles(lambda expr: masks[expr][rows], len(rows)),
        _column(prepared, "resource_ids", rows),
        horizon_ns,
        owners=prepared.ident[rows].tolist(),
    )
    partial = np.unique(np.array([c.attach for c in chains if c.launched], dtype=np.int64))
    full = np.unique(np.array([c.attach for c in chains if c.complete], dtype=np.int64))
    return partial, full


def _stop_modify_start(prepared: Prepared, horizon_ns: int, steps: npt.NDArray[np.bool_]) -> I64:
    """Start rows preceded by a stop then a boot-time change of the same instance.

    The steps are :data:`RESTART_STEP` in every cloud (``steps``, its answers): a stop
    (``StopInstances``, Azure ``powerOff``/``deallocate``, Google ``instances.stop``), a
    change of what the instance runs at boot or of its type (``attribute`` in
    :data:`RESTART_CHANGES`), a start.
    """
    rows = np.flatnonzero(steps)
    if len(rows) == 0:  # no step: nothing to read (most live calls)
        return np.zeros(0, dtype=np.int64)
    actions = _column(prepared, "action", rows)
    resources = _column(prepared, "resource_ids", rows)
    stops, modifies = _Index(), _Index()
    starts: list[tuple[int, int, Key]] = []
    for row, action, ids, moment, owner in zip(
        rows.tolist(),
        actions,
        resources,
        prepared.time[rows].tolist(),
        prepared.ident[rows].tolist(),
        strict=True,
    ):
        for instance in ids_of_type(ids, "instance"):
            key = (owner, instance)
            if action == "stop":
                stops.add(key, moment, row)
            elif action == "start":
                starts.append((row, moment, key))
            else:
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
    mask = (
        _among(prepared, "action", ("share",))
        & _among(prepared, "resource_type", _SHARED)
        & _succeeded(prepared)
    )
    rows = np.flatnonzero(mask)
    if len(rows) == 0:  # no share: nothing to read (most live calls)
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
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

    exprs = (_SUCCEEDED_STEP, RESTART_STEP, *(expr for _, expr in _ROLES))
    masks = dict(zip(exprs, _prepared_masks(prepared, exprs), strict=True))
    partial, full = _chain_rows(prepared, horizon, masks)
    foreign, public = _shares(prepared, config)
    snap_mask = (
        _among(prepared, "resource_type", ("snapshot",))
        & _among(prepared, "action", ("create", "copy"))
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
        "seq_stop_modify_start": per_window(
            _stop_modify_start(prepared, horizon, masks[RESTART_STEP])
        ),
        "snapshots_in_horizon": in_horizon.astype(np.float64),
    }
