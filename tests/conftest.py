"""Fixtures shared by the whole suite."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests._session_data import shared_folder

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


@dataclass(frozen=True)
class TrainedOrg:
    """A simulated organisation, its canonical events and a detector trained on its baseline.

    Shared by every worker of a run (``tests/_session_data.py``): read, never write.
    """

    folder: Path

    @property
    def sim(self) -> Path:
        """The simulator's output: ``AWSLogs/``, labels, policy, GeoIP, manifest."""
        return self.folder / "sim"

    @property
    def events_path(self) -> Path:
        """Every event, as `changewatch ingest` writes them."""
        return self.folder / "events.parquet"

    @property
    def test_path(self) -> Path:
        """The events of the test period."""
        return self.folder / "test.parquet"

    @property
    def bundle(self) -> Path:
        """The detector bundle trained on the baseline period."""
        return self.folder / "bundle"

    @property
    def policy(self) -> tuple[Path, Path]:
        """The organisation's change windows and automation allow-list."""
        return self.sim / "change_windows.yaml", self.sim / "automation.yaml"

    @property
    def test_start(self) -> pd.Timestamp:
        """Where the baseline ends and the test period (with the attacks) begins."""
        manifest = json.loads((self.sim / "manifest.json").read_text())
        return pd.Timestamp(manifest["baseline"]["end"])

    @property
    def labels(self) -> pd.DataFrame:
        """The simulator's labels (event id, scenario, kind)."""
        return pd.read_parquet(self.sim / "labels.parquet")


TRAINED_ORG = {"days": 21, "seed": 3, "scale": 0.2, "test_days": 4, "attacks": "all"}
"""The simulated organisation of :func:`trained_org`."""
TRAINED_DETECTOR = {"n_estimators": 100, "random_state": 0}
"""The detector settings of :func:`trained_org`."""


def _build_trained_org(folder: Path) -> None:
    import features
    from models import ChangeDetector, save_bundle
    from training.simulation import simulate

    org = TrainedOrg(folder)
    simulate(org.sim, **TRAINED_ORG)
    features.ingest(
        [org.sim / "AWSLogs"],
        org.events_path,
        options=features.IngestOptions(geoip=str(org.sim / "geo.mmdb"), jobs=1),
    )
    events = features.read_events(org.events_path)
    baseline = events["event_time"] < org.test_start
    save_bundle(ChangeDetector(**TRAINED_DETECTOR).fit(events[baseline]), org.bundle)
    features.write_events(events[~baseline], org.test_path)


@pytest.fixture(scope="session")
def trained_org(request: pytest.FixtureRequest) -> TrainedOrg:
    """21 simulated days with every attack in the last 4, ingested, and a detector bundle."""
    key = {"org": TRAINED_ORG, "detector": TRAINED_DETECTOR}
    folder = shared_folder(
        request.config,
        "trained-org",
        key,
        _build_trained_org,
        packages=("features", "models", "training"),
    )
    return TrainedOrg(folder)
