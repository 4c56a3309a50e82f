"""What a batch holds, counted once, so that rules which cannot fire on it are not run.

Most batches the service sees are a handful of events, and most rules look for
something those events do not contain (a share, an EBS block read, an attachment,
twenty changes in an hour, an identity back after a month). :class:`BatchSummary`
counts those things with a few NumPy passes over a handful of columns; each rule's
``applies`` gate is a *necessary* condition written against it (when it is false the
rule's function yields nothing), and :func:`models.scoring._rules.evaluate` skips a rule whose
gate is false. A rule called directly (``rule(events, context)``) always runs in full.

The service builds the same summary from the rows' classes without a frame
(:meth:`BatchSummary.from_rows`), to tell whether any rule can fire at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features import (
    ATTACH,
    ATTEMPTED_CHANGE,
    COMPUTE_INPUTS,
    DELETION,
    EBS_DIRECT_READ,
    SHARE_GRANT,
    SHARED_TYPES,
    RuleInput,
)
from models.scoring._calendar import event_micros

__all__ = ["SHARED_TYPES", "BatchSummary", "holds"]

BoolArray = npt.NDArray[np.bool_]
Times = Mapping[str, tuple[int, ...]]


def _text(events: pd.DataFrame, column: str) -> npt.NDArray[Any]:
    values: npt.NDArray[Any] = events[column].to_numpy(dtype=object)
    return values


def _nonzero(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    return {name: count for name, count in pairs if count}


def _times(keys: Iterable[Any], times: Iterable[int]) -> dict[str, tuple[int, ...]]:
    found: dict[str, list[int]] = {}
    for key, moment in zip(keys, times, strict=True):
        found.setdefault(str(key), []).append(int(moment))
    return {key: tuple(sorted(values)) for key, values in found.items()}


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """Counts over one batch, each computed exactly as the rules select their rows.

    Attributes
    ----------
    rows : int
        Events in the batch.
    changes : int
        Attempted compute changes (:func:`~models.scoring._rules._base.attempted_changes`).
    deletions : int
        Attempted compute changes whose action is ``delete``.
    shares : int
        Snapshot or image permission grants that were not dry runs.
    ebs_reads : int
        EBS direct-API block reads.
    attaches : int
        Successful EC2 ``AttachVolume`` calls.
    first_seen : mapping of str to int
        Each identity's earliest event time (microseconds since the epoch).
    change_times, deletion_times : mapping of str to tuple of int
        Each identity's attempted compute changes (deletions), sorted times in microseconds.
    counts : mapping of str to int
        Rows of each of ``features.COMPUTE_INPUTS`` (by name) the batch holds; inputs it
        holds none of are left out.
    """

    rows: int = 0
    changes: int = 0
    deletions: int = 0
    shares: int = 0
    ebs_reads: int = 0
    attaches: int = 0
    first_seen: Mapping[str, int] = field(default_factory=dict)
    change_times: Times = field(default_factory=dict)
    deletion_times: Times = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)

    def count(self, name: str) -> int:
        """Return the batch's rows of the compute rule input called ``name``."""
        return self.counts.get(name, 0)

    @classmethod
    def of(cls, events: pd.DataFrame) -> BatchSummary:
        """Count what ``events`` (canonical columns) holds."""
        if not len(events):
            return cls()
        changes = ATTEMPTED_CHANGE.mask(events)
        deletions = DELETION.mask(events)
        shares = SHARE_GRANT.mask(events)
        ebs_reads = EBS_DIRECT_READ.mask(events)
        attaches = ATTACH.mask(events)
        keys = _text(events, "identity_key")
        times = event_micros(events)
        codes, inverse = np.unique(keys.astype(str), return_inverse=True)
        earliest = np.full(len(codes), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(earliest, inverse.reshape(-1), times)
        return cls(
            rows=len(events),
            changes=int(changes.sum()),
            deletions=int(deletions.sum()),
            shares=int(shares.sum()),
            ebs_reads=int(ebs_reads.sum()),
            attaches=int(attaches.sum()),
            first_seen=dict(zip(codes.tolist(), earliest.tolist(), strict=True)),
            change_times=_times(keys[changes], times[changes]),
            deletion_times=_times(keys[deletions], times[deletions]),
            counts=_nonzero((one.name, int(one.mask(events).sum())) for one in COMPUTE_INPUTS),
        )

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, int, int]]) -> BatchSummary:
        """Count the same from ``(identity, time in microseconds, row classes)`` per row.

        The classes are :func:`~models.scoring._rules._reads.row_flags`; equal to :meth:`of`
        on the frame of the same events.
        """
        values = list(rows)
        first_seen: dict[str, int] = {}
        for identity, moment, _ in values:
            first_seen[identity] = min(first_seen.get(identity, moment), moment)
        changes = [(k, t) for k, t, f in values if f & ATTEMPTED_CHANGE.bit]
        deletions = [(k, t) for k, t, f in values if f & DELETION.bit]
        return cls(
            rows=len(values),
            changes=len(changes),
            deletions=len(deletions),
            shares=sum(1 for *_, f in values if f & SHARE_GRANT.bit),
            ebs_reads=sum(1 for *_, f in values if f & EBS_DIRECT_READ.bit),
            attaches=sum(1 for *_, f in values if f & ATTACH.bit),
            first_seen=first_seen,
            change_times=_times((k for k, _ in changes), (t for _, t in changes)),
            deletion_times=_times((k for k, _ in deletions), (t for _, t in deletions)),
            counts=_nonzero(
                (one.name, sum(1 for *_, f in values if f & one.bit)) for one in COMPUTE_INPUTS
            ),
        )


def holds(one: RuleInput) -> Callable[[BatchSummary, Any], bool]:
    """Return the gate of a rule that fires only on rows of ``one`` (a compute rule input)."""

    def applies(summary: BatchSummary, context: Any) -> bool:
        return summary.count(one.name) > 0

    applies.__name__ = f"holds_{one.name}"
    return applies
