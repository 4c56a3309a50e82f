"""Whether an action is new for the identity, and the severity that follows.

The compute rules (ADR 0035) fire without any history at their base severity, as the
public rule sets do. Where the identity's history exists, each says whether the action
is new for it: never done before raises the hit one level; done before (routine for
this identity: a data scientist's GPU launches, a pipeline reading user data) lowers it
or silences it, as the rule decides. What an identity did is remembered per compute rule
input (``IdentityHistory.actors``), so the service's digest counts it from stored bits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum

import pandas as pd

from features import RuleInput
from models.scoring._rules._base import (
    Evidence,
    Severity,
    at_most,
    evidence_of,
    failed_note,
    identity_sessions,
    shifted,
)
from models.scoring._rules._context import IdentityHistory, RuleContext
from models.scoring._rules._weigh_keys import UNATTRIBUTED, is_unattributed_key

__all__ = ["Novelty", "graded", "graded_sessions", "novelty", "shifted"]


class Novelty(Enum):
    """What the history says of an identity and an action."""

    UNKNOWN = "unknown"
    """No history of the identity: judged at the rule's base severity."""
    NEW = "new"
    """The history knows the identity, and it never did this."""
    ROUTINE = "routine"
    """The identity did this before."""
    PEERS = "peers"
    """The history does not know the identity, but its closest peers did this."""
    UNATTRIBUTED = "unattributed"
    """The records name no identity (a redacted export): nobody's history applies."""

    def phrase(self, history: IdentityHistory, doing: str) -> str:
        """Return ``"; the identity never <doing> in its history ..."``, for a hit's reason."""
        if self is Novelty.NEW:
            return f"; the identity never {doing} in its history (since {history.start:%Y-%m-%d})"
        if self is Novelty.ROUTINE:
            return f"; the identity {doing} before (routine for it)"
        if self is Novelty.UNATTRIBUTED:
            return f"; {UNATTRIBUTED}"
        if self is Novelty.PEERS:
            return f"; a new identity, whose closest peers {doing} before"
        return "; no history of the identity to compare with" if history.start else ""


def novelty(history: IdentityHistory, identity: str, input_name: str) -> Novelty:
    """Return whether ``identity`` did what ``input_name`` (a compute rule input) names."""
    if is_unattributed_key(identity):
        return Novelty.UNATTRIBUTED
    if not history.knows(identity):
        return Novelty.PEERS if history.peers_did(identity, input_name) else Novelty.UNKNOWN
    return Novelty.ROUTINE if history.did(identity, input_name) else Novelty.NEW


def graded(base: Severity, found: Novelty, *, routine: Severity | None) -> Severity | None:
    """Return the severity of a hit: ``base``, one up when new, ``routine`` when routine.

    ``routine`` ``None`` means the rule stays silent on what the identity does routinely.
    A new identity whose closest peers did it gets the routine severity (low at most when
    the rule is silent on routine: a newcomer doing what the team does is context, not
    silence; ADR 0022).
    A hit on records that name no identity is low at most: whether it is new or routine
    for whoever did it cannot be told (ADR 0021).
    """
    if found is Novelty.UNATTRIBUTED:
        return at_most(base, Severity.LOW)
    if found is Novelty.NEW:
        return shifted(base, 1)
    if found is Novelty.ROUTINE:
        return routine
    if found is Novelty.PEERS:
        return at_most(base, Severity.LOW) if routine is None else routine
    return base


def graded_sessions(
    events: pd.DataFrame,
    context: RuleContext,
    one: RuleInput,
    *,
    base: Severity,
    routine: Severity | None,
    doing: str,
    describe: Callable[[pd.DataFrame], str],
) -> Iterator[Evidence]:
    """Yield one graded piece of evidence per identity and session of ``one``'s rows.

    Parameters
    ----------
    events, context
        What the rule was given.
    one : RuleInput
        The compute rule input whose rows the rule reports (one of
        ``features.COMPUTE_INPUTS``, so that the history remembers who did it).
    base : Severity
        The rule's severity, for an identity without history.
    routine : Severity or None
        The severity for an identity that did it before; ``None`` is silence.
    doing : str
        What the identity did, in the past tense after "never" (``"pushed SSH keys"``).
    describe : callable
        The reason's first part, from the session's rows.
    """
    rows = events[one.mask(events)]
    history = context.history
    for identity, run in identity_sessions(rows, context.settings.session_gap):
        found = novelty(history, identity, one.name)
        severity = graded(base, found, routine=routine)
        if severity is None:
            continue
        yield evidence_of(
            run,
            identity,
            f"{describe(run)}{failed_note(run)}{found.phrase(history, doing)}",
            limit=context.settings.max_evidence,
            severity=severity,
        )
