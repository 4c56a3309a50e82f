"""On the real recordings: benign console sessions raise no alert; the Stratus shares stay high.

The Permiso console sessions are real, benign work (launching, stopping, terminating
instances from the console) whose publisher removed ``userIdentity``; the Stratus Red Team
detonations are real attacks. Scored with the rules and an organisation's change policy
(every change needs approval), no medium+ finding may consist of the console sessions
alone, and the AMI and snapshot shares stay high (issue #13, item 7).
"""

from __future__ import annotations

import pytest

from models.scoring import Severity, load_events, parse_policy, score_events, severity_rank
from tests.serving.conftest import STRATUS

DATA = STRATUS.parent

POLICY = """
version: 1
timezone: Europe/Berlin
organization: {accounts: ['111122223333']}
windows:
  - {name: weekly-deploy, cron: '0 10 * * tue,thu', duration: PT4H,
     scope: {identities: ['arn:aws:iam::*:role/deploy-*']}}
"""


@pytest.fixture(scope="module")
def permiso_findings() -> list:  # type: ignore[type-arg]
    events = load_events([DATA / "permiso"]).events
    return score_events(events, parse_policy(POLICY)).findings


def test_the_console_sessions_raise_no_medium_or_higher_finding(permiso_findings: list) -> None:  # type: ignore[type-arg]
    assert permiso_findings  # the changes are reported, as context
    loud = [f for f in permiso_findings if severity_rank(f.severity) >= severity_rank("medium")]
    assert loud == []
    assert all("cannot be attributed" in " ".join(f.reasons) for f in permiso_findings)


@pytest.mark.parametrize(
    "technique", ["aws.exfiltration.ec2-share-ami", "aws.exfiltration.ec2-share-ebs-snapshot"]
)
def test_the_stratus_shares_stay_high(technique: str) -> None:
    events = load_events([DATA / "stratus" / f"{technique}.json"]).events
    findings = score_events(events, parse_policy(POLICY)).findings
    assert max(severity_rank(f.severity) for f in findings) >= severity_rank(Severity.HIGH)
