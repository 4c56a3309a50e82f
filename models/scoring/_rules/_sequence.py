"""Sequence rule: snapshot -> volume from that snapshot -> attached to a freshly launched instance.

The chain is found by :func:`features.snapshot_chains`, the function the sequence
features use too (they follow it within one identity, the rule across identities), on
steps declared once on the canonical taxonomy, so the rule means the same in every cloud
(ADR 0048):

============  =====================  ===============================  ==========================
step          AWS                    Azure                            Google Cloud
============  =====================  ===============================  ==========================
snapshot      ``CreateSnapshot``     ``snapshots/write`` (Created)    ``disks.createSnapshot``,
                                                                      ``snapshots.insert``
volume        ``CreateVolume``       ``disks/write`` with             ``disks.insert`` with
              from the ``snap-``     ``creationData.sourceResourceId``  ``sourceSnapshot``
launch        ``RunInstances``       ``virtualMachines/write``        ``instances.insert``
                                     (Created)
attachment    ``AttachVolume``       ``virtualMachines/write`` naming ``instances.insert`` naming
                                     the disk, ``attachDetachData``   the disk,
                                     ``Disks/action``                 ``instances.attachDisk``
============  =====================  ===============================  ==========================

Every step must have succeeded on a compute service (``features.CHAIN_STEP_DONE``) and the
whole chain, from the snapshot to the attachment, must fit in the horizon, as must the
instance launch before the attachment. The chain may run through several identities; the
hit is the attaching identity's.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from features import (
    ATTACHED,
    CHAIN_STEP_DONE,
    chain_roles,
    declared_mask,
    short_id,
    snapshot_chains,
)
from models.scoring._rules._base import Evidence, Severity, rule, to_datetime
from models.scoring._rules._context import RuleContext
from models.scoring._rules._reads import STEP, Reads
from models.scoring._rules._summary import BatchSummary
from models.scoring._rules._weigh import change_values, weigh_routine

__all__ = ["snapshot_to_new_instance"]


def _any_attachment(summary: BatchSummary, context: RuleContext) -> bool:
    return summary.attaches > 0


def _minutes(later: pd.Timestamp, earlier: pd.Timestamp) -> int:
    return int(np.ceil((later - earlier) / pd.Timedelta(minutes=1)))


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
    """Fire on snapshot -> volume (from it) -> attached (to a new instance), in any cloud."""
    steps = events[declared_mask(events, CHAIN_STEP_DONE)]
    roles = chain_roles(steps)
    if not (roles & ATTACHED).any():
        return
    when = steps["event_time"].tolist()
    chains = snapshot_chains(
        range(len(steps)),
        pd.to_datetime(steps["event_time"], utc=True).to_numpy(dtype="datetime64[ns]").view("i8"),
        roles,
        steps["resource_ids"].to_numpy(dtype=object),
        pd.Timedelta(context.settings.sequence_horizon).value,
    )
    ids = [str(i) for i in steps["event_id"]]
    identities = [str(i) for i in steps["identity_key"]]
    for chain in chains:
        if chain.launch is None or chain.snapshot is None or chain.volume_made is None:
            continue
        attached_at = when[chain.attach]
        ordered = sorted(
            dict.fromkeys((chain.snapshot, chain.volume_made, chain.launch, chain.attach)),
            key=lambda row: when[row],
        )
        chain_ids = tuple(ids[row] for row in ordered)
        identity = identities[chain.attach]
        severity, weighed = _weigh_chain(steps, chain_ids, identity, context)
        yield Evidence(
            chain_ids,
            identity,
            to_datetime(when[ordered[0]]),
            to_datetime(attached_at),
            f"snapshot {short_id(chain.snapshot_id or '')} became volume "
            f"{short_id(chain.volume)}, attached to instance {short_id(chain.instance)} "
            f"launched {_minutes(attached_at, when[chain.launch])} min earlier; "
            f"the chain took {_minutes(attached_at, when[chain.snapshot])} min"
            + (f"; {weighed}" if severity == Severity.LOW else ""),
            severity,
        )


def _weigh_chain(
    steps: pd.DataFrame, ids: tuple[str, ...], identity: str, context: RuleContext
) -> tuple[Severity | None, str]:
    """Low when every step the attaching identity made is routine for it (a restore test)."""
    mine = steps[steps["event_id"].isin(ids) & (steps["identity_key"] == identity)]
    if not len(mine) or not context.history.learned:
        return None, ""
    severity, weighed = weigh_routine(identity, list(change_values(mine).values()), context)
    return (Severity.LOW, weighed) if severity == Severity.LOW else (None, "")
