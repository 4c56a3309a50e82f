"""Which identity keys name a person, in every cloud (ADR 0056).

The keys are built by the readers from records as each cloud writes them, then asked
:func:`features.is_person_key`: people are weighed against their routine joined with
their peers', automation against its own routine only.
"""

from __future__ import annotations

from typing import Any

import pytest

from features import CANONICAL_COLUMNS, PERSON_KEYS, is_person_key, normalize
from tests.cloud_records import MI, TENANT, UPN, azure, gcp
from tests.conftest import make_record

APP = "11111111-2222-3333-4444-555555555555"
SA = "deployer@acme-prod-1.iam.gserviceaccount.com"
BUILDER = {"appid": APP, "idtyp": "app", "xms_mirid": MI + "userAssignedIdentities/b"}


def _aws(session: str, source_identity: str | None = None) -> dict[str, Any]:
    """A CloudTrail record of an assumed-role session (``sourceIdentity`` when a person set it)."""
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEROLE00001:{session}",
        "arn": f"arn:aws:sts::111122223333:assumed-role/Deployer/{session}",
        "accountId": "111122223333",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": "arn:aws:iam::111122223333:role/Deployer",
                "accountId": "111122223333",
                "userName": "Deployer",
            }
        },
    }
    if source_identity is not None:
        identity["sessionContext"]["sourceIdentity"] = source_identity
    return make_record(userIdentity=identity)


def _key(raw: dict[str, Any]) -> str:
    row = dict(zip(CANONICAL_COLUMNS, normalize(raw), strict=True))
    return str(row["identity_key"])


@pytest.mark.parametrize(
    ("cloud", "raw", "person"),
    [
        ("aws", _aws("alice@corp.example"), True),
        ("aws", _aws("run-8f3a", source_identity="bob"), True),
        ("aws", _aws("karpenter-1712345678"), False),
        ("aws", make_record(), False),  # an IAM user: ADR 0020 keys no person there
        ("azure", azure("Microsoft.Compute/disks/write",
                        identity={"claims": {UPN: "Alice@Corp.example", TENANT: "t1"}}), True),
        ("azure", azure("Microsoft.Compute/disks/write",
                        identity={"claims": {UPN: "guest_x.org#EXT#@corp.onmicrosoft.com"}}), True),
        ("azure", azure("Microsoft.Compute/disks/write", caller=APP,
                        identity={"claims": {"appid": APP, "idtyp": "app"}}), False),
        ("azure", azure("Microsoft.Compute/disks/write", caller=APP,
                        identity={"claims": BUILDER}), False),
        ("azure", azure("Microsoft.Compute/disks/write", caller="Microsoft.Insights/autoscale",
                        identity={"claims": {}}), False),
        ("gcp", gcp("v1.compute.instances.insert",
                    authenticationInfo={"principalEmail": "alice@corp.example"}), True),
        ("gcp", gcp("v1.compute.instances.insert", authenticationInfo={
            "principalEmail": SA, "serviceAccountDelegationInfo": [
                {"firstPartyPrincipal": {"principalEmail": "bob@corp.example"}}]}), True),
        ("gcp", gcp("v1.compute.instances.insert",
                    authenticationInfo={"principalEmail": SA}), False),
        ("gcp", gcp("v1.compute.instances.insert", authenticationInfo={
            "principalEmail": "service-1234@compute-system.iam.gserviceaccount.com"}), False),
        ("gcp", gcp("v1.compute.instances.insert", authenticationInfo={}), False),
    ],
)  # fmt: skip
def test_a_key_names_a_person_in_every_cloud_as_its_reader_keyed_it(
    cloud: str, raw: dict[str, Any], person: bool
) -> None:
    key = _key(raw)
    assert key.startswith({"aws": "arn:aws:", "azure": "azure:", "gcp": "gcp:"}[cloud]) or (
        key.startswith("unknown:")
    )
    assert is_person_key(key) is person, key


def test_every_cloud_declares_its_person_keys() -> None:
    assert set(PERSON_KEYS) == {"aws", "azure", "gcp"}


@pytest.mark.parametrize(
    "key",
    ["unknown:111122223333", "service:backup.amazonaws.com", "azure:principal:0b1f", "gcp:wif:p"],
)
def test_services_and_unknown_callers_are_not_people(key: str) -> None:
    assert not is_person_key(key)
