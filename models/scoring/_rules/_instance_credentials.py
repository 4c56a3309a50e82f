"""Instance credentials used elsewhere: an instance profile's session called from outside.

An instance's role credentials (a session named after the instance, ``i-...``) are
meant to be used by the instance. Two places they should not come from:

* a public address outside AWS (``features.outside_aws``: not in AWS's published ranges,
  and not in an Amazon AS when GeoIP tells the AS): GuardDuty's
  ``InstanceCredentialExfiltration.OutsideAWS``, reported high;
* the very address a person or a long-term access key calls from in the same frame: the
  credentials were copied to the caller's machine (Stratus
  ``ec2-steal-instance-credentials``: an SSM command reads them, and the caller uses them
  from where it sent the command), reported medium, high when the role's history never
  saw that network.

A network the role's sessions used before is left alone (instances behind an on-premises
proxy call from it every day).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from features import INSTANCE_CALL, PERSON_CALL, AwsRanges, outside_aws
from models.scoring._rules._base import (
    Evidence,
    Severity,
    describe_names,
    evidence_of,
    listed,
    rule,
    session_spans,
)
from models.scoring._rules._context import RuleContext
from models.scoring._rules._reads import Reads
from models.scoring._rules._summary import holds

__all__ = ["instance_session_elsewhere"]


def _people_by_address(events: pd.DataFrame) -> dict[str, set[str]]:
    people = events[PERSON_CALL.mask(events)]
    found: dict[str, set[str]] = {}
    for address, identity in zip(people["source_ip"], people["identity_key"], strict=True):
        if isinstance(address, str):
            found.setdefault(address, set()).add(str(identity))
    return found


def _judged_by(ranges: AwsRanges | None, asn: object) -> str:
    """``not in the AWS IP ranges of 2026-08-22 ...``, ``AS49505`` or both."""
    parts = []
    if ranges is not None:
        parts.append(f"not in the {ranges.describe()}")
    if isinstance(asn, int | float) and pd.notna(asn):
        parts.append(f"AS{int(asn)}, not Amazon's")
    return "; ".join(parts)


def _session(run: pd.DataFrame) -> str:
    sessions = sorted({str(s) for s in run["session_name"] if isinstance(s, str)})
    return f"instance {listed(sessions, 3)}"


@rule(
    id="Credentials.InstanceSessionElsewhere",
    title="Instance-profile credentials used outside AWS or from where a person calls",
    severity=Severity.MEDIUM,
    technique="T1552.005",
    runbook=(
        "Revoke the role's active sessions (an inline deny on aws:TokenIssueTime), rotate "
        "what the role can reach and find how the credentials left the instance (SSM "
        "commands, SSRF to the metadata service)."
    ),
    applies=holds(INSTANCE_CALL),
    reads=Reads(INSTANCE_CALL.bit | PERSON_CALL.bit),
)
def instance_session_elsewhere(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on instance-profile sessions calling from outside AWS or from a person's address.

    Outside AWS is high; a person's address medium, high when the role is known and never
    called from that network; a network the role used before is silent.
    """
    calls = events[INSTANCE_CALL.mask(events)]
    if not len(calls):
        return
    ranges = context.ranges()
    people = _people_by_address(events)
    history, settings = context.history, context.settings
    networks, asns = calls["network"], calls["asn"]
    for (address, key), positions in session_spans(
        calls, ["source_ip", "identity_key"], settings.session_gap
    ):
        identity = str(key)
        first = int(positions[0])
        network = networks.iat[first]
        known = history.networks.get(identity)
        if known is not None and isinstance(network, str) and network in known:
            continue
        asn = asns.iat[first]
        outside = outside_aws(str(address), asn, ranges)
        others = sorted(people.get(str(address), set()) - {identity})
        if not outside and not others:
            continue
        run = calls.take(positions)  # a frame for the runs reported alone
        calls_made = f"{len(run)} call{'s' if len(run) > 1 else ''} ({describe_names(run)})"
        if outside:
            severity = Severity.HIGH
            where = f"{address}, outside AWS ({_judged_by(ranges, asn)})"
        else:
            severity = Severity.HIGH if known is not None else Severity.MEDIUM
            where = f"{address}, the address {listed(others, 2)} also called from"
        news = (
            f"; the role never called from {network} since {history.start:%Y-%m-%d}"
            if known is not None
            else ""
        )
        yield evidence_of(
            run,
            identity,
            f"credentials of {_session(run)} made {calls_made} from {where}{news}",
            limit=settings.max_evidence,
            severity=severity,
        )
