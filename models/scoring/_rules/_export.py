"""Export rule: an instance, an image or a database snapshot copied out to S3.

``CreateInstanceExportTask``, ``ExportImage`` and ``CreateStoreImageTask`` write a disk
image to an S3 bucket, RDS ``StartExportTask`` a snapshot's tables: from there the data
leaves with a bucket policy (Elastic ``exfiltration_ec2_export_task``, Sigma
``aws_ec2_vm_export_failure``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from features import EXPORT_TASK
from models.scoring._rules._base import Evidence, Severity, describe_names, rule
from models.scoring._rules._context import RuleContext
from models.scoring._rules._novelty import graded_sessions
from models.scoring._rules._reads import Reads
from models.scoring._rules._summary import holds

__all__ = ["export_task"]


def _describe(run: pd.DataFrame) -> str:
    named = list(dict.fromkeys(str(i) for ids in run["resource_ids"] for i in ids))
    what = f" of {', '.join(named[:5])}" if named else ""
    return f"export to S3{what} ({describe_names(run)})"


@rule(
    id="Export.Task",
    title="Instance, image or database snapshot exported to S3",
    severity=Severity.MEDIUM,
    technique="T1537",
    runbook=(
        "Find the export's S3 bucket and who can read it; if the export is not a known "
        "migration or backup, cancel it and remove the exported objects."
    ),
    applies=holds(EXPORT_TASK),
    reads=Reads(EXPORT_TASK.bit),
)
def export_task(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on export tasks, failed ones too: medium, high if new for the identity, else low."""
    yield from graded_sessions(
        events,
        context,
        EXPORT_TASK,
        base=Severity.MEDIUM,
        routine=Severity.LOW,
        doing="exported to S3",
        describe=_describe,
    )
