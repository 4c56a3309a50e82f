"""The scoring API takes Azure, Google Cloud and OCSF records as it takes CloudTrail."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cloud_records import azure, gcp, ocsf_api_activity
from tests.serving.api.conftest import SCORE

LINK = azure("Microsoft.Compute/disks/beginGetAccess/action")
ENTRY = gcp("v1.compute.instances.insert")
PUSH = {
    "message": {"data": base64.b64encode(json.dumps(ENTRY).encode()).decode(), "messageId": "1"},
    "subscription": "projects/acme-prod-1/subscriptions/audit",
}


@pytest.mark.parametrize(
    ("body", "cloud"),
    [
        ({"records": [LINK]}, "azure"),
        (LINK, "azure"),
        ([ENTRY], "gcp"),
        (ENTRY, "gcp"),
        (PUSH, "gcp"),
        (ocsf_api_activity(), "aws"),
    ],
    ids=["event-hubs", "azure-record", "gcp-array", "gcp-entry", "pubsub-push", "ocsf"],
)
def test_each_format_is_scored(client: TestClient, body: Any, cloud: str) -> None:
    answer = client.post("/v1/score", json=body, headers=SCORE)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert (data["scored"], data["rejected"]) == (1, [])


def test_an_azure_download_link_is_a_finding_over_the_api(client: TestClient) -> None:
    data = client.post("/v1/score", json={"records": [LINK]}, headers=SCORE).json()
    rules = {rule for finding in data["findings"] for rule in finding["rules"]}
    assert "Sharing.ForeignAccount" in rules


def test_an_object_of_no_known_format_is_refused_naming_the_shapes(client: TestClient) -> None:
    answer = client.post("/v1/score", json={"hello": 1}, headers=SCORE)
    assert answer.status_code == 400
    assert "Azure, Google Cloud, OCSF" in answer.text
