"""What a batch holds, counted once, so that rules which cannot fire on it are not run.

Most batches the service sees are a handful of events, and most rules look for
something those events do not contain (a share, an EBS block read, an attachment,
twenty changes). :class:`BatchSummary` counts those things with a few NumPy passes
over a handful of columns; each rule's ``applies`` gate is a *necessary* condition
written against it (when it is false the rule's function yields nothing), and
:func:`serving._rules.evaluate` skips a rule whose gate is false. A rule called
directly (``rule(events, context)``) always runs in full.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from serving._rules._base import DRY_RUN
from serving._rules._context import EBS_DIRECT_READS

__all__ = ["SHARED_TYPES", "BatchSummary"]

SHARED_TYPES: Final = ("snapshot", "image")
"""Resource types whose sharing the sharing rules judge."""

BoolArray = npt.NDArray[np.bool_]


def _text(events: pd.DataFrame, column: str) -> npt.NDArray[Any]:
    values: npt.NDArray[Any] = events[column].to_numpy(dtype=object)
    return values


def _flag(events: pd.DataFrame, column: str) -> BoolArray:
    return np.asarray(events[column].astype(bool), dtype=bool)


def _among(values: npt.NDArray[Any], allowed: Collection[str]) -> BoolArray:
    return np.fromiter((v in allowed for v in values), dtype=bool, count=len(values))


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """Counts over one batch, each computed exactly as the rules select their rows.

    Attributes
    ----------
    rows : int
        Events in the batch.
    changes : int
        Attempted compute changes (:func:`~serving._rules._base.attempted_changes`).
    deletions : int
        Attempted compute changes whose action is ``delete``.
    shares : int
        Snapshot or image permission grants that were not dry runs.
    ebs_reads : int
        EBS direct-API block reads.
    attaches : int
        Successful EC2 ``AttachVolume`` calls.
    """

    rows: int = 0
    changes: int = 0
    deletions: int = 0
    shares: int = 0
    ebs_reads: int = 0
    attaches: int = 0

    @classmethod
    def of(cls, events: pd.DataFrame) -> BatchSummary:
        """Count what ``events`` (canonical columns) holds."""
        if not len(events):
            return cls()
        error = _text(events, "error_code")
        action = _text(events, "action")
        name = _text(events, "event_name")
        source = _text(events, "event_source")
        not_dry = error != DRY_RUN
        changes = _flag(events, "is_compute_change") & not_dry & ~_flag(events, "by_service")
        shares = (action == "share") & _among(_text(events, "resource_type"), SHARED_TYPES)
        ebs_reads = (source == "ebs.amazonaws.com") & _among(name, EBS_DIRECT_READS)
        attaches = (name == "AttachVolume") & pd.isna(error) & (source == "ec2.amazonaws.com")
        return cls(
            rows=len(events),
            changes=int(changes.sum()),
            deletions=int((changes & (action == "delete")).sum()),
            shares=int((shares & not_dry).sum()),
            ebs_reads=int(ebs_reads.sum()),
            attaches=int(attaches.sum()),
        )
