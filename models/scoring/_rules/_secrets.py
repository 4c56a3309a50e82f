"""Reads of the secrets instances hold: user data and Windows administrator passwords.

Both are ordinary calls for the tools that manage instances (Terraform reads every
instance's user data when it plans), so the rules grade them by the identity's history:
an identity that reads them routinely is left alone (unless the cloud denied most of a
sweep of them: someone trying what the identity was never granted), one that never did is
raised (unless it is a person looking in the console: the console reads user data as one
views an instance's settings), and without history the read is reported at low, or medium
when it sweeps many instances (Stratus ``ec2-download-user-data`` and ``ec2-get-password-data``
each make 15-30 denied calls in a minute).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from features import PASSWORD_READ, USER_DATA_READ, RuleInput
from models.scoring._rules._base import (
    Evidence,
    Severity,
    evidence_of,
    failed_note,
    identity_sessions,
    ids_named,
    listed,
    rule,
)
from models.scoring._rules._context import RuleContext
from models.scoring._rules._novelty import Novelty, novelty, shifted
from models.scoring._rules._reads import Reads
from models.scoring._rules._summary import holds

__all__ = ["password_data_read", "user_data_read"]


def _sweeps(
    events: pd.DataFrame, context: RuleContext, one: RuleInput, what: str, doing: str
) -> Iterator[Evidence]:
    """Evidence of ``one``'s reads per identity and session, graded (see the module)."""
    history, settings = context.history, context.settings
    rows = events[one.mask(events)]
    for identity, run in identity_sessions(rows, settings.session_gap):
        found = novelty(history, identity, one.name)
        denied = _denied_sweep(run, settings.bulk_reads)
        if found is Novelty.ROUTINE and not denied:
            continue
        bulk = len(run) >= settings.bulk_reads and found is not Novelty.PEERS
        by_hand = bool((run["client_family"] == "console").all())
        severity = shifted(Severity.LOW, int(found is Novelty.NEW and not by_hand) + int(bulk))
        instances = ids_named(run, "i-")
        whose = f" of instance {listed(instances)}" if instances else ""
        sweep = f", a sweep of {settings.bulk_reads} or more" if bulk else ""
        if denied and found is Novelty.ROUTINE:
            sweep += ", most of it denied (not how this identity's reads go)"
        yield evidence_of(
            run,
            identity,
            f"{len(run)} read{'s' if len(run) > 1 else ''} of {what}{whose}{sweep}"
            f"{failed_note(run)}{found.phrase(history, doing)}",
            limit=settings.max_evidence,
            severity=severity,
        )


def _denied_sweep(run: pd.DataFrame, bulk_reads: int) -> bool:
    """Whether a session is a sweep (``bulk_reads`` or more) the cloud mostly denied.

    An identity that reads these routinely is allowed to: a sweep of denied reads is
    someone trying, with its session, what it was never granted (ADR 0056).
    """
    failed = sum(1 for code in run["error_code"] if isinstance(code, str) and code)
    return len(run) >= bulk_reads and 2 * failed > len(run)


@rule(
    id="UserData.Read",
    title="Instance user data read by an identity that does not usually read it",
    severity=Severity.LOW,
    technique="T1580",
    runbook=(
        "Check whether the identity has a reason to read boot scripts; if not, look for "
        "credentials in the user data it read and rotate them."
    ),
    applies=holds(USER_DATA_READ),
    reads=Reads(USER_DATA_READ.bit),
)
def user_data_read(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on ``DescribeInstanceAttribute userData`` reads, failed ones too.

    Low without history, medium for a sweep (``bulk_reads`` or more in a session) or for
    an identity that never read user data (through an SDK or the CLI: console reads are
    not raised), high for both; silent for routine readers unless the cloud denied most of
    a sweep (medium).
    """
    yield from _sweeps(events, context, USER_DATA_READ, "user data", "read user data")


@rule(
    id="Credentials.PasswordData",
    title="Windows administrator password data read by an identity that does not usually",
    severity=Severity.LOW,
    technique="T1552",
    runbook=(
        "Ask the identity's owner why it needs the instance's administrator password; if "
        "there is no reason, change the password and review the identity's session."
    ),
    applies=holds(PASSWORD_READ),
    reads=Reads(PASSWORD_READ.bit),
)
def password_data_read(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on ``GetPasswordData`` calls, graded as :func:`user_data_read`."""
    yield from _sweeps(
        events, context, PASSWORD_READ, "Windows password data", "read password data"
    )
