"""Launch rule: accelerated or very large instances launched by an identity that never did.

Cryptomining on stolen credentials starts GPU or very large instances, often in a
region the organisation does not use, and often meets the account's vCPU limit first
(Stratus ``ec2-launch-unusual-instances``: ``p2.xlarge``, denied). The instance types
come from the launch's ``attribute`` (``instanceType=p2.xlarge``), the families from
``features.UNUSUAL_TYPES``. Identities that launch such instances routinely (a data
scientist's notebooks, a cluster autoscaler's GPU nodes) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pandas as pd

from features import UNUSUAL_LAUNCH, UNUSUAL_TYPES
from models.scoring._rules._base import Evidence, Severity, rule
from models.scoring._rules._context import RuleContext
from models.scoring._rules._novelty import graded_sessions
from models.scoring._rules._reads import Reads
from models.scoring._rules._summary import holds

__all__ = ["unusual_instances"]

_UNUSUAL = re.compile(UNUSUAL_TYPES)


def unusual_types(attributes: pd.Series) -> list[str]:
    """Return the accelerated or very large instance types ``attribute`` values name."""
    found: dict[str, None] = {}
    for value in attributes:
        if not isinstance(value, str) or not value.startswith("instanceType="):
            continue
        for kind in value.split("=", 1)[1].split(","):
            if _UNUSUAL.search(f"instanceType={kind}"):
                found.setdefault(kind, None)
    return list(found)


def _describe(run: pd.DataFrame) -> str:
    count = len(run)
    regions = sorted({str(r) for r in run["region"] if isinstance(r, str)})
    where = f" in {', '.join(regions)}" if regions else ""
    return (
        f"{count} launch{'es' if count > 1 else ''} of accelerated or very large instances "
        f"({', '.join(unusual_types(run['attribute']))}){where}"
    )


@rule(
    id="Launch.UnusualInstances",
    title="Accelerated or very large instances launched by an identity that never did",
    severity=Severity.MEDIUM,
    technique="T1496.001",
    runbook=(
        "Confirm with the identity's owner that the instances are wanted; if not, terminate "
        "them, revoke the credentials and check every region for more."
    ),
    applies=holds(UNUSUAL_LAUNCH),
    reads=Reads(UNUSUAL_LAUNCH.bit),
)
def unusual_instances(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on attempted launches of GPU, ML, FPGA, 96+ vCPU, bare-metal or high-memory types.

    Medium without history, high when the identity never launched such instances, silent
    when it did. Failed launches count (a vCPU limit or missing permission stops the
    miner, not the intent) and are named.
    """
    yield from graded_sessions(
        events,
        context,
        UNUSUAL_LAUNCH,
        base=Severity.MEDIUM,
        routine=None,
        doing="launched such instances",
        describe=_describe,
    )
