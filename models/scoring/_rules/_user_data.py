"""User-data rules: an instance's boot script replaced, and user data read in a sweep.

User data runs as root when an instance boots, so replacing it (stop the instance,
``ModifyInstanceAttribute userData``, start it: Stratus ``ec2-user-data``) executes
whatever the caller wrote; a new launch-template version carrying user data does the
same to every instance launched from it. Reading it (``DescribeInstanceAttribute``
``userData``) is how credentials left in boot scripts are found.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pandas as pd

from features import ATTEMPTED_CHANGE, USER_DATA_CHANGE
from models.scoring._calendar import FORBIDDEN, UNAPPROVED
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
from models.scoring._rules._change_window import unapproved
from models.scoring._rules._context import RuleContext
from models.scoring._rules._novelty import graded, novelty
from models.scoring._rules._reads import CHANGE, Reads
from models.scoring._rules._summary import holds

__all__ = ["user_data_modified"]

_AROUND = ("StopInstances", "StartInstances")


def _around(
    events: pd.DataFrame, identity: str, instances: list[str], run: pd.DataFrame, gap: timedelta
) -> pd.DataFrame:
    """Return the identity's stops and starts of ``instances`` within ``gap`` of the run."""
    if not instances:
        return events.iloc[0:0]
    start = run["event_time"].iloc[0] - pd.Timedelta(gap)
    end = run["event_time"].iloc[-1] + pd.Timedelta(gap)
    mask = (
        ATTEMPTED_CHANGE.mask(events)
        & (events["identity_key"] == identity).to_numpy()
        & events["event_name"].isin(_AROUND).to_numpy()
        & ((events["event_time"] >= start) & (events["event_time"] <= end)).to_numpy()
        & np.fromiter(
            (any(str(i) in instances for i in ids) for ids in events["resource_ids"]),
            dtype=bool,
            count=len(events),
        )
    )
    found: pd.DataFrame = events[mask]
    return found


def _what(run: pd.DataFrame) -> str:
    instances, templates = ids_named(run, "i-"), ids_named(run, "lt-")
    parts = []
    if instances:
        parts.append(f"user data of instance {listed(instances)} replaced")
    if templates:
        parts.append(f"launch template {listed(templates)} given a version with user data")
    return " and ".join(parts) or f"user data set ({run['event_name'].iloc[0]})"


@rule(
    id="UserData.Modified",
    title="Instance user data replaced, or a launch template version with user data, unapproved",
    severity=Severity.MEDIUM,
    technique="T1059.009",
    runbook=(
        "Read the instance's new user data (it runs as root at boot) and compare it with the "
        "deployed version; if the change is not a known deployment, stop the instance and "
        "rotate what it can reach."
    ),
    applies=holds(USER_DATA_CHANGE),
    reads=Reads(CHANGE, verdicts=frozenset({UNAPPROVED, FORBIDDEN})),
)
def user_data_modified(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on user-data changes no window or ticket approves.

    Medium without history; high when the identity never changed user data; low when it
    did before. The instance's stop before and start after (the sequence Elastic's and
    Panther's correlations watch) join the evidence.
    """
    changes = events[USER_DATA_CHANGE.mask(events)]
    changes = changes[unapproved(changes, context)]
    history, settings = context.history, context.settings
    for identity, run in identity_sessions(changes, settings.session_gap):
        found = novelty(history, identity, USER_DATA_CHANGE.name)
        severity = graded(Severity.MEDIUM, found, routine=Severity.LOW)
        around = _around(events, identity, ids_named(run, "i-"), run, settings.session_gap)
        steps = ""
        if len(around):
            names = sorted(set(around["event_name"]), key=_AROUND.index)
            steps = f" ({' and '.join(names)} around it)"
        group = pd.concat([run, around]).sort_values("event_time", kind="stable")
        approval = " outside every approved window and ticket" if context.policy else ""
        yield evidence_of(
            group,
            identity,
            f"{_what(run)}{approval}{steps}{failed_note(run)}"
            f"{found.phrase(history, 'changed user data')}",
            limit=settings.max_evidence,
            severity=severity,
        )
