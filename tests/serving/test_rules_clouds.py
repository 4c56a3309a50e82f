"""The sharing rules judge Azure and Google Cloud shares as they judge EBS and AMI shares.

Azure hands a disk or snapshot out by download link (``beginGetAccess``: a SAS URL that
works for whoever holds it) or shares a gallery with another tenant; Google Cloud shares a
disk, snapshot or image by setting its IAM policy. ``organization`` names the tenants and
domains that are ours (ADR 0046).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from models.scoring import RuleContext, evaluate, parse_policy, rule_by_id
from tests.cloud_records import SUBSCRIPTION, azure, gcp

NOW = datetime(2024, 6, 1, tzinfo=UTC)
OURS = (
    "version: 1\norganization:\n"
    f"  accounts: ['111122223333', {SUBSCRIPTION}, acme-prod-1]\n"
    "  tenants: ['6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0']\n"
    "  domains: [corp.example]\n"
)


def _policy(member: str, resource: str = "global/snapshots/s1") -> dict[str, Any]:
    method = "v1.compute." + resource.split("/")[-2] + ".setIamPolicy"
    binding = {"role": "roles/compute.storageAdmin", "members": [member]}
    return gcp(method, resource, request={"policy": {"bindings": [binding]}})


@pytest.mark.parametrize(
    ("record", "rule", "fires", "reason"),
    [
        (azure("Microsoft.Compute/disks/beginGetAccess/action"), "Sharing.ForeignAccount", True,
         "disk d1 shared with a download link (SAS URL)"),
        (azure("Microsoft.Compute/disks/beginGetAccess/action", resultType="Started"),
         "Sharing.ForeignAccount", False, None),
        (azure("Microsoft.Compute/disks/write"), "Sharing.ForeignAccount", False, None),
        (_policy("allUsers"), "Sharing.Public", True,
         "snapshot s1 in account acme-prod-1 shared with everyone"),
        (_policy("user:mallory@evil.example"), "Sharing.Public", False, None),
        (_policy("user:mallory@evil.example"), "Sharing.ForeignAccount", True,
         "snapshot s1 shared with user:mallory@evil.example"),
        (_policy("domain:evil.example", "global/images/i1"), "Sharing.ForeignAccount", True,
         "image i1 shared with domain:evil.example"),
        (_policy("user:bob@corp.example", "zones/europe-west1-b/disks/d1"),
         "Sharing.ForeignAccount", False, None),
        (_policy("serviceAccount:backup@acme-prod-1.iam.gserviceaccount.com"),
         "Sharing.ForeignAccount", False, None),
        (_policy("serviceAccount:x@other-project.iam.gserviceaccount.com"),
         "Sharing.ForeignAccount", True, "serviceaccount:x@other-project"),
    ],
)  # fmt: skip
def test_shares_of_every_cloud(
    record: dict[str, Any],
    rule: str,
    fires: bool,
    reason: str | None,
    events_of: Callable[[Iterable[dict[str, Any]]], pd.DataFrame],
) -> None:
    batch = events_of([record])
    context = RuleContext.build(None, policy=parse_policy(OURS), now=NOW)
    result = evaluate(batch, context, rules=[rule_by_id(rule)])
    assert not result.failed
    assert bool(result.hits) == fires, [hit.reason for hit in result.hits]
    if reason:
        assert reason in result.hits[0].reason


@pytest.mark.parametrize(
    ("target", "foreign"),
    [
        ("link", True),
        ("all", True),
        ("tenant:6F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0", False),
        ("tenant:00000000-0000-0000-0000-000000000000", True),
        (SUBSCRIPTION, False),
        ("99999999-9999-9999-9999-999999999999", True),
        ("group:ops@corp.example", False),
        ("user:eve@corp.example.evil.example", True),
        ("principal://iam.googleapis.com/x@corp.example", False),
    ],
)
def test_the_organisation_knows_its_tenants_domains_and_projects(
    target: str, foreign: bool
) -> None:
    organization = parse_policy(OURS).organization
    assert organization.is_foreign(target) is foreign


@pytest.mark.parametrize(
    "bad",
    [
        "organization: {tenants: [not-a-guid]}",
        "organization: {domains: ['*.example']}",
        "organization: {accounts: ['Not_A_Project']}",
    ],
)
def test_bad_tenants_domains_and_projects_are_named(bad: str) -> None:
    with pytest.raises(Exception, match=r"tenant|domain|project"):
        parse_policy("version: 1\n" + bad + "\n")


def test_change_window_scopes_take_subscriptions_and_projects() -> None:
    policy = parse_policy(
        "version: 1\ntimezone: UTC\nwindows:\n"
        "  - name: azure-and-gcp\n    cron: '0 9 * * *'\n    duration: PT1H\n"
        f"    scope: {{accounts: [{SUBSCRIPTION}, acme-prod-1]}}\n"
    )
    assert policy.calendar is not None
