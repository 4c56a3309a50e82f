"""Which events a rule reads: row classes, computed once per event, and each rule's declaration.

The service scores a batch together with its identities' stored events of the last
horizon (ADR 0015), but a rule only ever looks at some classes of rows: attempted
compute changes, shares, EBS reads, the steps of the snapshot chain, calls of
allow-listed automation from an unexpected client or network. :func:`row_flags` sorts
one canonical event into classes (a bit mask the state stores beside the event) and
each rule declares what it reads in a :class:`Reads`, so that the service reads those
rows and no others (``serving._rule_inputs``). Two kinds of class:

* *read* classes (``CHANGE``, ``SHARE``, ``EBS``, ``STEP``, ``EVERY``) are broad
  supersets of the rows a rule's function selects: reading a few rows too many
  never changes a hit, missing one would;
* *exact* classes (``ATTEMPTED``, ``DELETION``, ``SHARE_GRANT``, ``EBS_READ``,
  ``ATTACH``, ``OWN``) are exactly the row predicates of
  :class:`~serving._rules._summary.BatchSummary` and
  :meth:`~serving.IdentityHistory.from_events`, so both can be computed from flags.

``tests/serving/test_rule_reads.py`` checks each class against the pandas predicate
it stands for, and that a rule finds nothing in a frame without its trigger rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "ATTACH",
    "ATTEMPTED",
    "CHAIN_STEPS",
    "CHANGE",
    "DELETION",
    "DRY_RUN",
    "EBS",
    "EBS_DIRECT_READS",
    "EBS_READ",
    "EVERY",
    "OWN",
    "SHARE",
    "SHARED_TYPES",
    "SHARE_GRANT",
    "SNAPSHOT_CREATES",
    "STEP",
    "Reads",
    "row_flags",
]

EVERY: Final = 1 << 0
"""Every event: the class of a rule that declares nothing (it reads everything)."""
CHANGE: Final = 1 << 1
"""``is_compute_change``, whatever the outcome (dry runs and AWS services included)."""
SHARE: Final = 1 << 2
"""``action == "share"``."""
EBS: Final = 1 << 3
"""Calls to ``ebs.amazonaws.com``."""
STEP: Final = 1 << 4
"""Calls named like a step of the snapshot chain, whatever the outcome or source."""
OWN: Final = 1 << 5
"""Calls not made by an AWS service on the identity's behalf (``by_service`` false)."""
ATTEMPTED: Final = 1 << 6
"""Attempted compute changes (``serving._rules._base.attempted_mask``)."""
DELETION: Final = 1 << 7
"""Attempted compute changes whose action is ``delete``."""
SHARE_GRANT: Final = 1 << 8
"""Snapshot or image permission grants that were not dry runs (``BatchSummary.shares``)."""
EBS_READ: Final = 1 << 9
"""EBS direct-API snapshot block reads."""
ATTACH: Final = 1 << 10
"""Successful EC2 ``AttachVolume`` calls."""

DRY_RUN: Final = "Client.DryRunOperation"
"""The error code of a dry run: the call was only checked, nothing changed."""
EBS_SOURCE: Final = "ebs.amazonaws.com"
EC2_SOURCE: Final = "ec2.amazonaws.com"
EBS_DIRECT_READS: Final = frozenset({"GetSnapshotBlock", "ListSnapshotBlocks", "ListChangedBlocks"})
"""EBS direct API calls that read a snapshot's blocks (``ebs.amazonaws.com``)."""
SNAPSHOT_CREATES: Final = frozenset({"CreateSnapshot", "CreateSnapshots", "CopySnapshot"})
CHAIN_STEPS: Final = frozenset({*SNAPSHOT_CREATES, "CreateVolume", "AttachVolume", "RunInstances"})
"""Calls the snapshot -> volume -> attach rule follows."""
SHARED_TYPES: Final = ("snapshot", "image")
"""Resource types whose sharing the sharing rules judge."""


@dataclass(frozen=True, slots=True)
class Reads:
    """What a rule's function reads of a frame besides the batch's own events.

    Attributes
    ----------
    flags : int
        Row classes (bits of :func:`row_flags`) the function selects its rows from; it
        finds nothing in a frame without such a row. ``EVERY`` (the default) reads all.
    first_event : bool
        Also each identity's earliest event of the frame (the dormancy rule compares it
        with the identity's last event before the frame); context only, never a trigger.
    automation : bool
        Also every call of allow-listed automation from a client or network its entry
        does not expect (these are the rule's triggers), and each identity's first call
        under each entry (the order the rule meets identities in).
    verdicts : frozenset of str
        When not empty, the rule finds something only in a frame where an attempted
        compute change has one of these calendar verdicts (``unapproved``, ``forbidden``).
    """

    flags: int = EVERY
    first_event: bool = False
    automation: bool = False
    verdicts: frozenset[str] = frozenset()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def row_flags(row: Mapping[str, Any]) -> int:
    """Return the classes of one canonical event (a row of ``records_to_table`` as a dict)."""
    name = _text(row.get("event_name"))
    source = _text(row.get("event_source"))
    error = _text(row.get("error_code"))
    action = _text(row.get("action"))
    change = bool(row.get("is_compute_change"))
    own = not bool(row.get("by_service"))
    flags = EVERY
    if change:
        flags |= CHANGE
    if action == "share":
        flags |= SHARE
        if row.get("resource_type") in SHARED_TYPES and error != DRY_RUN:
            flags |= SHARE_GRANT
    if source == EBS_SOURCE:
        flags |= EBS
        if name in EBS_DIRECT_READS:
            flags |= EBS_READ
    if name in CHAIN_STEPS:
        flags |= STEP
        if name == "AttachVolume" and error is None and source == EC2_SOURCE:
            flags |= ATTACH
    if own:
        flags |= OWN
        if change and error != DRY_RUN:
            flags |= ATTEMPTED
            if action == "delete":
                flags |= DELETION
    return flags
