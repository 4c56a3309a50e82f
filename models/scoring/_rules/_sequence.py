"""Sequence rule: snapshot -> volume from that snapshot -> attached to a freshly launched instance.

The chain is followed through ``resource_ids``, whose prefixes say what each id is:
``CreateSnapshot`` names the source ``vol-`` and the new ``snap-``; ``CreateVolume``
the new ``vol-`` and its source ``snap-``; ``AttachVolume`` the ``vol-`` and the
``i-``; ``RunInstances`` the new ``i-`` ids. Every step must have succeeded and the
whole chain, from the snapshot to the attachment, must fit in the horizon, as must
the instance launch before the attachment. The chain may run through several
identities; the hit is the attaching identity's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import numpy as np
import pandas as pd

from models.scoring._rules._base import Evidence, Severity, rule, to_datetime
from models.scoring._rules._context import RuleContext
from models.scoring._rules._reads import CHAIN_STEPS, SNAPSHOT_CREATES, STEP, Reads
from models.scoring._rules._summary import BatchSummary
from models.scoring._rules._weigh import change_values, weigh_routine

__all__ = ["snapshot_to_new_instance"]

_SNAPSHOT_CREATES: Final = SNAPSHOT_CREATES
_STEPS: Final = CHAIN_STEPS


def _ids(row: pd.Series, prefix: str) -> list[str]:
    return [str(i) for i in row["resource_ids"] if str(i).startswith(prefix)]


def _latest_before(
    index: dict[str, list[tuple[pd.Timestamp, str]]], key: str, until: pd.Timestamp
) -> tuple[pd.Timestamp, str] | None:
    found = [entry for entry in index.get(key, ()) if entry[0] <= until]
    return found[-1] if found else None


def _any_attachment(summary: BatchSummary, context: RuleContext) -> bool:
    return summary.attaches > 0


@rule(
    id="Sequence.SnapshotToNewInstance",
    title="Snapshot restored to a volume and attached to a freshly launched instance",
    severity=Severity.HIGH,
    technique="T1578.001",
    runbook=(
        "Identify the instance's owner and network exposure; if unapproved, detach the "
        "volume, stop the instance and preserve it for forensics."
    ),
    applies=_any_attachment,
    reads=Reads(STEP, routines=True),
)
def snapshot_to_new_instance(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on CreateSnapshot -> CreateVolume (from it) -> AttachVolume (to a new instance)."""
    steps = events[
        events["event_name"].isin(_STEPS)
        & events["error_code"].isna()
        & (events["event_source"] == "ec2.amazonaws.com")
    ]
    if not steps["event_name"].eq("AttachVolume").any():
        return
    horizon = pd.Timedelta(context.settings.sequence_horizon)
    snapshots: dict[str, list[tuple[pd.Timestamp, str]]] = {}
    volumes: dict[str, list[tuple[pd.Timestamp, str, str]]] = {}
    launches: dict[str, list[tuple[pd.Timestamp, str]]] = {}
    attaches: list[tuple[pd.Timestamp, str, str, str, str]] = []
    for _, row in steps.iterrows():
        when, name, event_id = row["event_time"], row["event_name"], str(row["event_id"])
        if name in _SNAPSHOT_CREATES:
            for snap in _ids(row, "snap-"):
                snapshots.setdefault(snap, []).append((when, event_id))
        elif name == "CreateVolume":
            sources = _ids(row, "snap-")
            for volume in _ids(row, "vol-"):
                for snap in sources:
                    volumes.setdefault(volume, []).append((when, event_id, snap))
        elif name == "RunInstances":
            for instance in _ids(row, "i-"):
                launches.setdefault(instance, []).append((when, event_id))
        else:
            for volume in _ids(row, "vol-"):
                for instance in _ids(row, "i-"):
                    attaches.append((when, event_id, volume, instance, str(row["identity_key"])))
    for attached_at, attach_id, volume, instance, identity in attaches:
        launch = _latest_before(launches, instance, attached_at)
        if launch is None or attached_at - launch[0] > horizon:
            continue
        made = [entry for entry in volumes.get(volume, ()) if entry[0] <= attached_at]
        for created_at, volume_id, snap in reversed(made):
            snapshot = _latest_before(snapshots, snap, created_at)
            if snapshot is None or attached_at - snapshot[0] > horizon:
                continue
            ordered = sorted(
                [snapshot, (created_at, volume_id), launch, (attached_at, attach_id)],
                key=lambda entry: entry[0],
            )
            minutes = int(np.ceil((attached_at - snapshot[0]) / pd.Timedelta(minutes=1)))
            launched = int(np.ceil((attached_at - launch[0]) / pd.Timedelta(minutes=1)))
            ids = tuple(entry[1] for entry in ordered)
            severity, weighed = _weigh_chain(steps, ids, identity, context)
            yield Evidence(
                ids,
                identity,
                to_datetime(ordered[0][0]),
                to_datetime(attached_at),
                f"snapshot {snap} became volume {volume}, attached to instance {instance} "
                f"launched {launched} min earlier; the chain took {minutes} min"
                + (f"; {weighed}" if severity == Severity.LOW else ""),
                severity,
            )
            break


def _weigh_chain(
    steps: pd.DataFrame, ids: tuple[str, ...], identity: str, context: RuleContext
) -> tuple[Severity | None, str]:
    """Low when every step the attaching identity made is routine for it (a restore test)."""
    mine = steps[steps["event_id"].isin(ids) & (steps["identity_key"] == identity)]
    if not len(mine) or not context.history.learned:
        return None, ""
    severity, weighed = weigh_routine(identity, list(change_values(mine).values()), context)
    return (Severity.LOW, weighed) if severity == Severity.LOW else (None, "")
