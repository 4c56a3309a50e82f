"""Fixtures of the behavioural-vector tests: builders of canonical event tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features import CANONICAL_SCHEMA, FeatureConfig, classify

DEFAULTS: dict[str, Any] = {
    "cloud": "aws",
    "account_id": "111111111111",
    "region": "us-east-1",
    "event_source": "ec2.amazonaws.com",
    "event_name": "DescribeInstances",
    "event_type": "AwsApiCall",
    "error_code": None,
    "resource_ids": [],
    "attribute": None,
    "share_targets": [],
    "identity_key": "alice",
    "identity_type": "IAMUser",
    "principal_arn": None,
    "actor_account_id": "111111111111",
    "session_name": None,
    "source_identity": None,
    "federated_provider": None,
    "access_key_id": None,
    "mfa": None,
    "source_ip": "198.51.100.7",
    "network": "198.51.100.0/24",
    "by_service": False,
    "invoked_by": None,
    "user_agent": "aws-cli/2.15.0",
    "client_family": "aws-cli",
    "client_version": "2.15.0",
    "country": "US",
    "asn": 64500,
    "as_org": "Example Net",
}


def canonical(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Canonical table from partial rows: ``event_time`` is required, the rest defaults.

    ``resource_type``/``action`` default to the taxonomy of ``event_name``;
    ``is_compute_change`` and ``read_only`` follow from them as the normaliser does.
    """
    out = []
    for i, row in enumerate(rows):
        full = {**DEFAULTS, **row}
        full.setdefault("event_id", f"e{i:06d}")
        rtype, action = classify(full["event_source"], full["event_name"])
        full.setdefault("resource_type", rtype)
        full.setdefault("action", "share" if full["share_targets"] else action)
        full.setdefault(
            "is_compute_change", full["resource_type"] is not None and full["action"] != "read"
        )
        full.setdefault("read_only", full["action"] == "read")
        full["event_time"] = (
            pd.Timestamp(full["event_time"]).tz_convert("UTC")
            if pd.Timestamp(full["event_time"]).tzinfo
            else pd.Timestamp(full["event_time"], tz="UTC")
        )
        out.append({name: full[name] for name in CANONICAL_SCHEMA.names})
    return pa.Table.from_pylist(out, schema=CANONICAL_SCHEMA).to_pandas()


_NAMES = [
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("ec2.amazonaws.com", "RunInstances"),
    ("ec2.amazonaws.com", "TerminateInstances"),
    ("ec2.amazonaws.com", "StopInstances"),
    ("ec2.amazonaws.com", "StartInstances"),
    ("ec2.amazonaws.com", "ModifyInstanceAttribute"),
    ("ec2.amazonaws.com", "CreateSnapshot"),
    ("ec2.amazonaws.com", "CreateVolume"),
    ("ec2.amazonaws.com", "AttachVolume"),
    ("ec2.amazonaws.com", "ModifySnapshotAttribute"),
    ("ec2.amazonaws.com", "DeleteVolume"),
    ("iam.amazonaws.com", "ListRoles"),
    ("sts.amazonaws.com", "GetCallerIdentity"),
]


def random_events(seed: int, n: int = 400, days: float = 20.0, identities: int = 4) -> pd.DataFrame:
    """Random but plausible canonical events: few values, so novelty, chains and gaps occur."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-03-01", tz="UTC").value
    times = np.sort(rng.integers(0, int(days * 86_400e6), n)) * 1000 + start
    # a long silence for some identity so epochs and forgetting are exercised
    rows = []
    for i, t in enumerate(times):
        who = f"id{rng.integers(identities)}"
        source, name = _NAMES[rng.integers(len(_NAMES))]
        inst, vol, snap = (f"{p}-{rng.integers(4):04x}" for p in ("i", "vol", "snap"))
        ids: list[str] = {
            "RunInstances": [inst, "ami-0001"],
            "TerminateInstances": [inst],
            "StopInstances": [inst],
            "StartInstances": [inst],
            "ModifyInstanceAttribute": [inst],
            "CreateSnapshot": [snap, vol],
            "CreateVolume": [vol, snap],
            "AttachVolume": [vol, inst],
            "ModifySnapshotAttribute": [snap],
            "DeleteVolume": [vol],
        }.get(name, [])
        row: dict[str, Any] = {
            "event_id": f"r{seed}-{i}",
            "event_time": pd.Timestamp(int(t), tz="UTC"),
            "identity_key": who,
            "event_source": source,
            "event_name": name,
            "resource_ids": ids,
            "region": ["us-east-1", "eu-west-1", "ap-south-1"][
                rng.integers(3) if rng.random() < 0.2 else 0
            ],
            "network": f"198.51.{rng.integers(3)}.0/24",
            "country": [None, "US", "DE"][rng.integers(3)],
            "asn": [None, 64500, 64501][rng.integers(3)],
            "client_family": ["aws-cli", "boto3"][rng.integers(2)],
            "client_version": [None, "1.0", "2.0"][rng.integers(3)],
            "error_code": "AccessDenied" if rng.random() < 0.05 else None,
        }
        if name == "ModifyInstanceAttribute":
            row["attribute"] = ["userData", "instanceType", "disableApiTermination"][
                rng.integers(3)
            ]
        if name == "ModifySnapshotAttribute" and rng.random() < 0.7:
            row["share_targets"] = [["222222222222"], ["all"], ["111111111111"]][rng.integers(3)]
            row["attribute"] = "createVolumePermission"
        rows.append(row)
        if rng.random() < 0.04:  # a whole chain, so the sequence features fire
            rows.extend(_chain(rng, row, seed, i))
    rows.sort(key=lambda r: r["event_time"])
    return canonical(rows)


def _chain(
    rng: np.random.Generator, row: dict[str, Any], seed: int, i: int
) -> list[dict[str, Any]]:
    """Snapshot -> volume -> launch -> attach, or stop -> modify -> start, after ``row``."""
    n = rng.integers(1 << 16)
    snap, vol, inst = f"snap-c{n}", f"vol-c{n}", f"i-c{n}"
    if rng.random() < 0.5:
        steps = [
            ("CreateSnapshot", [snap, "vol-0001"], None),
            ("CreateVolume", [vol, snap], None),
            ("RunInstances", [inst, "ami-0001"], None),
            ("AttachVolume", [vol, inst], None),
        ]
    else:
        steps = [
            ("StopInstances", [inst], None),
            ("ModifyInstanceAttribute", [inst], "userData"),
            ("StartInstances", [inst], None),
        ]
    out = []
    for j, (name, ids, attribute) in enumerate(steps, 1):
        gap = pd.Timedelta(minutes=int(rng.integers(5, 90)) * j)
        out.append(
            {
                **row,
                "event_id": f"r{seed}-{i}-c{j}",
                "event_time": row["event_time"] + gap,
                "event_source": "ec2.amazonaws.com",
                "event_name": name,
                "resource_ids": ids,
                "attribute": attribute,
                "share_targets": [],
                "error_code": None,
            }
        )
    return out


@pytest.fixture(scope="session")
def events() -> Callable[..., pd.DataFrame]:
    """The :func:`canonical` builder."""
    return canonical


@pytest.fixture(scope="session")
def random_table() -> Callable[..., pd.DataFrame]:
    """The :func:`random_events` generator."""
    return random_events


@pytest.fixture
def config() -> FeatureConfig:
    """Short windows and forgetting so small tables exercise every rule."""
    return FeatureConfig(
        window="1h", horizon="6h", forget_days=5, cold_start_days=2, cold_start_active_days=2
    )
