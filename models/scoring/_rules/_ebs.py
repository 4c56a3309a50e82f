"""EBS direct-API rule: snapshot blocks read by an identity that never did so."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from features import EBS_DIRECT_READ
from models.scoring._rules._base import (
    Evidence,
    Severity,
    describe_names,
    evidence_of,
    failed_note,
    rule,
)
from models.scoring._rules._context import RuleContext
from models.scoring._rules._reads import EBS, Reads
from models.scoring._rules._summary import BatchSummary

__all__ = ["ebs_direct_read"]


def _any_read(summary: BatchSummary, context: RuleContext) -> bool:
    return summary.ebs_reads > 0


@rule(
    id="EBS.DirectBlockRead",
    title="Snapshot blocks read through the EBS direct APIs by a new reader",
    severity=Severity.HIGH,
    technique="T1530",
    runbook=(
        "Find which snapshots were read and whose data they hold; if the reader is not a "
        "backup tool, revoke its access and treat the data as exposed."
    ),
    applies=_any_read,
    reads=Reads(EBS),
    kept_when_approved=True,
)
def ebs_direct_read(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on GetSnapshotBlock / ListSnapshotBlocks / ListChangedBlocks by a first-time reader."""
    reads = events[EBS_DIRECT_READ.mask(events)]
    readers = context.history.ebs_direct_readers
    for identity, run in reads.groupby("identity_key", sort=False):
        if str(identity) in readers:
            continue
        snapshots = sorted(
            {str(i) for ids in run["resource_ids"] for i in ids if str(i).startswith("snap-")}
        )
        named = ", ".join(snapshots[:5]) + (
            f" and {len(snapshots) - 5} more" if len(snapshots) > 5 else ""
        )
        yield evidence_of(
            run,
            str(identity),
            f"{len(run)} EBS direct-API read{'s' if len(run) > 1 else ''} ({describe_names(run)}) "
            f"of snapshot {named or '(unnamed)'} by an identity that never read snapshot blocks "
            f"before{failed_note(run)}",
            limit=context.settings.max_evidence,
        )
