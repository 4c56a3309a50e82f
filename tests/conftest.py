"""Fixtures shared by the whole suite."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"

_BASE_RECORD: dict[str, Any] = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEPRINCIPAL1",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "accessKeyId": "AKIAEXAMPLEKEY000001",
        "userName": "alice",
    },
    "eventTime": "2026-03-02T10:15:00Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "CreateSnapshot",
    "awsRegion": "eu-central-1",
    "sourceIPAddress": "203.0.113.10",
    "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22",
    "requestParameters": {"volumeId": "vol-0a1b2c3d4e5f60718", "description": "nightly"},
    "responseElements": {
        "snapshotId": "snap-0123456789abcdef0",
        "volumeId": "vol-0a1b2c3d4e5f60718",
        "status": "pending",
    },
    "requestID": "6c1a4d4e-0000-4000-8000-000000000001",
    "eventID": "0e9f7a6b-0000-4000-8000-000000000001",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
}


def make_record(**overrides: Any) -> dict[str, Any]:
    """A realistic CloudTrail record (CreateSnapshot by an IAM user) with top-level overrides.

    A value of ``...`` (Ellipsis) removes the key.
    """
    record = copy.deepcopy(_BASE_RECORD)
    for key, value in overrides.items():
        if value is ...:
            record.pop(key, None)
        else:
            record[key] = value
    return record


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder of the recordings and fixtures copied into the repository."""
    return DATA


@pytest.fixture
def record() -> dict[str, Any]:
    """A fresh realistic CloudTrail record."""
    return make_record()


@pytest.fixture(scope="session")
def make() -> Any:
    """The record factory :func:`make_record`, as a fixture."""
    return make_record


@pytest.fixture(scope="session")
def geo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MaxMind-format database: 203.0.113.0/24 is a German office network (AS64500)."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="changewatch-test", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["203.0.113.0/24"]),
        {
            "country": {"iso_code": "DE"},
            "autonomous_system_number": 64500,
            "autonomous_system_organization": "Example Office Net",
        },
    )
    path = tmp_path_factory.mktemp("geo") / "geo.mmdb"
    writer.to_db_file(str(path))
    return path
