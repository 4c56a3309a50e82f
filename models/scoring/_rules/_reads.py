"""Which events a rule reads: row classes, computed once per event, and each rule's declaration.

The service scores a batch together with its identities' stored events of the last
horizon (ADR 0015), but a rule only ever looks at some classes of rows: attempted
compute changes, shares, EBS reads, the steps of the snapshot chain, calls of
allow-listed automation from an unexpected client or network. :func:`row_flags` sorts
one canonical event into classes (a bit mask the state stores beside the event) and
each rule declares what it reads in a :class:`Reads`, so that the service reads those
rows and no others (``serving._rule_inputs``).

The classes are the bits of the rule inputs declared once in ``features``
(``features.RULE_INPUTS``: ``ATTEMPTED_CHANGE``, ``EBS_DIRECT_READ``, ...); this module
gives them the short names the rules use and adds what each rule reads. Two kinds:

* *read* classes (``CHANGE``, ``SHARE``, ``EBS``, ``STEP``, ``EVERY``) are broad
  supersets of the rows a rule's function selects: reading a few rows too many
  never changes a hit, missing one would;
* *exact* classes (``ATTEMPTED``, ``DELETION``, ``SHARE_GRANT``, ``EBS_READ``,
  ``ATTACH``, ``OWN``) are exactly the row predicates of
  :class:`~models.scoring._rules._summary.BatchSummary` and
  :meth:`~models.scoring.IdentityHistory.from_events` (both evaluate the same declarations),
  so both can be computed from flags.

``tests/serving/test_rule_reads.py`` checks each class against the pandas predicate
it stands for, and that a rule finds nothing in a frame without its trigger rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import features as _inputs

__all__ = [
    "ATTACH",
    "ATTEMPTED",
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
    "STEP",
    "Reads",
    "row_flags",
]

EVERY: Final = _inputs.EVERY.bit
"""Every event: the class of a rule that declares nothing (it reads everything)."""
CHANGE: Final = _inputs.CHANGE.bit
"""``is_compute_change``, whatever the outcome (dry runs and AWS services included)."""
SHARE: Final = _inputs.SHARE.bit
"""``action == "share"``."""
EBS: Final = _inputs.EBS_CALL.bit
"""Calls to ``ebs.amazonaws.com``."""
STEP: Final = _inputs.CHAIN_STEP.bit
"""Calls that may be a step of the snapshot chain in any cloud, whatever the outcome or source."""
OWN: Final = _inputs.OWN_CALL.bit
"""Calls not made by an AWS service on the identity's behalf (``by_service`` false)."""
ATTEMPTED: Final = _inputs.ATTEMPTED_CHANGE.bit
"""Attempted compute changes (``features.ATTEMPTED_CHANGE``)."""
DELETION: Final = _inputs.DELETION.bit
"""Attempted compute changes whose action is ``delete``."""
SHARE_GRANT: Final = _inputs.SHARE_GRANT.bit
"""Snapshot or image permission grants that were not dry runs."""
EBS_READ: Final = _inputs.EBS_DIRECT_READ.bit
"""EBS direct-API snapshot block reads."""
ATTACH: Final = _inputs.ATTACH.bit
"""Successful calls that may attach a volume (``features.ATTACH``)."""

DRY_RUN: Final = _inputs.DRY_RUN
EBS_DIRECT_READS: Final = _inputs.EBS_DIRECT_READS
SHARED_TYPES: Final = _inputs.SHARED_TYPES
row_flags: Final = _inputs.row_flags


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
    routines : bool
        The rule weighs what it finds against each identity's routine, learned from its
        older attempted changes (ADR 0021): the service reads those when the rule can fire.
    """

    flags: int = EVERY
    first_event: bool = False
    automation: bool = False
    verdicts: frozenset[str] = frozenset()
    routines: bool = False
