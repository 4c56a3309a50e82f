"""Fixtures of the serving tests: CloudTrail-like records, canonical frames, a policy."""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

import features
from models import ChangeDetector, save_bundle
from models.scoring import DetectorScorer, load_scorer

STRATUS = Path(__file__).parent.parent / "data" / "stratus"
ACCOUNT = "111122223333"

_ids = itertools.count(1)

POLICY_YAML = """\
version: 1
timezone: Europe/Berlin            # default time zone for schedules
organization:
  id: o-a1b2c3d4e5
  accounts: ["111122223333", "444455556666"]
windows:
  - name: weekly-deploy
    rrule: "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=10;BYMINUTE=0"
    duration: PT4H
    scope:
      accounts: ["111122223333"]
      identities: ["arn:aws:iam::*:role/deploy-*"]
  - name: nightly-batch
    cron: "0 2 * * *"
    duration: PT1H
    timezone: UTC
tickets:
  - id: CHG-1042
    start: 2026-03-14T22:00:00Z
    end: 2026-03-15T02:00:00Z
    owner: alice@example.com
    reason: emergency kernel patch
    scope:
      resources: ["i-0abc*"]
freezes:
  - name: year-end-freeze
    start: 2026-12-20T00:00:00Z
    end: 2027-01-03T00:00:00Z
    reason: year-end trading
automation:
  - name: deploy-pipeline
    identities: ["arn:aws:iam::*:role/deploy-*"]
    clients: ["terraform/1.7.*", "aws-cli"]
    networks: ["10.20.0.0/16"]
suppressions:
  - rule: ChangeWindow.OutsideApproved
    scope: {identities: ["arn:aws:iam::*:role/patch-bot"]}
    reason: patch bot runs nightly until CHG-2000 lands
    owner: soc@example.com
    expires: 2026-06-30T00:00:00Z
"""


def record(
    name: str,
    time: str,
    *,
    source: str = "ec2.amazonaws.com",
    user: str | None = "alice",
    role: str | None = None,
    session: str = "session-1",
    account: str = ACCOUNT,
    region: str = "eu-central-1",
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    agent: str = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22",
    ip: str = "203.0.113.10",
    error: str | None = None,
    event_id: str | None = None,
    invoked_by: str | None = None,
) -> dict[str, Any]:
    """A CloudTrail-like record of an IAM user (``user``) or a role session (``role``)."""
    if role is not None:
        identity: dict[str, Any] = {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                }
            },
        }
    else:
        identity = {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/{user}",
            "accountId": account,
            "userName": user,
        }
    out: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": request,
        "responseElements": response,
        "eventID": event_id or f"evt-{next(_ids):06d}",
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }
    if error is not None:
        out["errorCode"] = error
    if invoked_by is not None:
        identity["invokedBy"] = invoked_by
    return out


def alias_bomb(levels: int = 8) -> str:
    """A policy YAML of a few hundred bytes whose aliases expand to ``9 ** (levels + 1)`` nodes."""
    lines = ["a: &a [x,x,x,x,x,x,x,x,x]"]
    for i in range(levels):
        this, last = chr(98 + i), chr(97 + i)
        lines.append(f"{this}: &{this} [" + ",".join([f"*{last}"] * 9) + "]")
    return "\n".join([*lines, "version: 1", ""])


def to_events(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Canonical events of records, in their order, through the real ingestion path."""
    result = features.records_to_table(list(records))
    assert not result.rejections, result.rejections
    return result.table.to_pandas()


def stratus_records(name: str) -> list[dict[str, Any]]:
    """The records of one Stratus Red Team detonation (``aws.exfiltration.ec2-share-ami``)."""
    loaded: list[dict[str, Any]] = json.loads((STRATUS / f"{name}.json").read_text())
    return loaded


@pytest.fixture(scope="session")
def rec() -> Callable[..., dict[str, Any]]:
    """The record factory."""
    return record


@pytest.fixture(scope="session")
def events_of() -> Callable[[Iterable[dict[str, Any]]], pd.DataFrame]:
    """Records -> canonical frame."""
    return to_events


@pytest.fixture(scope="session")
def stratus() -> Callable[[str], pd.DataFrame]:
    """Name of a Stratus recording -> canonical frame."""
    return lambda name: to_events(stratus_records(name))


@pytest.fixture(scope="session")
def policy_yaml() -> str:
    """The agreed example of a change-policy file, extended with every section."""
    return POLICY_YAML


@dataclass(frozen=True)
class Stream:
    """A simulated organisation's CloudTrail as records, its change policy, and its test period.

    ``state`` holds every event before ``test_start`` (a SQLite state of the service, to
    be copied before use); the records from ``test_start`` on are the stream to replay.
    """

    records: list[dict[str, Any]]
    policy: tuple[Path, ...]
    test_start: str
    state: Path
    labels: pd.DataFrame

    @property
    def attack_times(self) -> list[str]:
        """The first moment of each injected scenario, as CloudTrail writes times."""
        first = self.labels.groupby("scenario")["event_time"].min().sort_values()
        return [moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in first]

    @property
    def replay(self) -> list[dict[str, Any]]:
        """The records of the test period, in time order."""
        return [r for r in self.records if r["eventTime"] >= self.test_start]

    def fresh_state(self, where: Path) -> Path:
        """A copy of the state to score against."""
        target = where / "state.db"
        shutil.copyfile(self.state, target)
        return target


def _trail(out: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted((out / "AWSLogs").rglob("*.json.gz")):
        with gzip.open(path, "rb") as handle:
            records += orjson.loads(handle.read())["Records"]
    return sorted(records, key=lambda r: (r["eventTime"], r["eventID"]))


@pytest.fixture(scope="session")
def sim_stream(tmp_path_factory: pytest.TempPathFactory) -> Stream:
    """Nine simulated days with every attack scenario in the last four, and a warm state."""
    from serving._state import StateStore
    from training.simulation import simulate

    root = tmp_path_factory.mktemp("serving-sim")
    result = simulate(root / "sim", days=9, seed=5, scale=0.3, test_days=4, attacks="all")
    records = _trail(root / "sim")
    start = str(result.manifest["test"]["start"])
    store = StateStore(root / "state.db")
    before = [r for r in records if r["eventTime"] < start]
    for at in range(0, len(before), 2000):
        store.admit(features.records_to_table(before[at : at + 2000]).table)
    store.close()
    policy = (root / "sim" / "change_windows.yaml", root / "sim" / "automation.yaml")
    labels = pd.read_parquet(root / "sim" / "labels.parquet")
    return Stream(records, policy, start, root / "state.db", labels)


@dataclass(frozen=True)
class Trained:
    """The simulated organisation's model: a bundle fitted on the days before the stream."""

    scorer: DetectorScorer
    bundle: Path


@pytest.fixture(scope="session")
def sim_model(sim_stream: Stream, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A detector trained on :func:`sim_stream`'s days before its test period (fast settings)."""
    before = [r for r in sim_stream.records if r["eventTime"] < sim_stream.test_start]
    events = features.records_to_table(before).table.to_pandas()
    config = features.FeatureConfig(cold_start_days=2, cold_start_active_days=2)
    detector = ChangeDetector(feature_config=config, n_estimators=50, random_state=0)
    bundle = tmp_path_factory.mktemp("sim-model") / "bundle"
    save_bundle(detector.fit(events), bundle)
    scorer = load_scorer(bundle)
    assert isinstance(scorer, DetectorScorer)
    return Trained(scorer, bundle)
