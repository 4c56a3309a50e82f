"""User-data rules: the code an instance runs replaced, in any cloud.

User data runs as root when an instance boots, so replacing it (stop the instance,
``ModifyInstanceAttribute userData``, start it: Stratus ``ec2-user-data``) executes
whatever the caller wrote; a new launch-template version carrying user data does the
same to every instance launched from it. The other clouds have the same doors
(``features.RUN_CODE``, ADR 0048): Azure custom data and user data in a
``virtualMachines/write``, ``runCommand/action`` and Custom Script extensions (Stratus
``azure.execution.vm-run-command``, ``vm-custom-script-extension``); Google Cloud
``startup-script`` metadata (``instances.setMetadata``, project-wide
``setCommonInstanceMetadata``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pandas as pd

from features import ATTEMPTED_CHANGE, USER_DATA_CHANGE, ids_of_type, short_id
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

_AROUND = ("stop", "start")
_WORDS = {
    "userData": "user data",
    "customData": "custom data",
    "startup-script": "startup script",
    "runCommand": "a run command",
    "customScript": "a Custom Script extension",
}


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
        & (events["resource_type"] == "instance").to_numpy()
        & events["action"].isin(_AROUND).to_numpy()
        & ((events["event_time"] >= start) & (events["event_time"] <= end)).to_numpy()
        & np.fromiter(
            (any(str(i) in instances for i in ids) for ids in events["resource_ids"]),
            dtype=bool,
            count=len(events),
        )
    )
    found: pd.DataFrame = events[mask]
    return found


def _instances(run: pd.DataFrame) -> list[str]:
    return list(
        dict.fromkeys(i for ids in run["resource_ids"] for i in ids_of_type(ids, "instance"))
    )


def _what(run: pd.DataFrame) -> str:
    instances, templates = _instances(run), ids_named(run, "lt-")
    kinds = [str(a) for a in dict.fromkeys(run["attribute"])]
    what = " and ".join(_WORDS.get(kind, kind) for kind in kinds)
    parts = []
    if instances:
        names = listed([short_id(i) for i in instances])
        verb = "replaced" if set(kinds) <= {"userData", "customData", "startup-script"} else "run"
        parts.append(f"{what} of instance {names} {verb}")
    if templates:
        parts.append(f"launch template {listed(templates)} given a version with user data")
    return " and ".join(parts) or f"{what} set ({run['event_name'].iloc[0]})"


@rule(
    id="UserData.Modified",
    title=(
        "Instance user data, startup script or run command changed, or a launch template "
        "version with user data, unapproved"
    ),
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
        around = _around(events, identity, _instances(run), run, settings.session_gap)
        steps = ""
        if len(around):
            timed = around.sort_values("event_time", kind="stable")["event_name"]
            names = list(dict.fromkeys(str(name) for name in timed))
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
