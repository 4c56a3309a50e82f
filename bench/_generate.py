"""A vectorised generator of realistic canonical events for the feature benchmark.

A simulated month of an organisation: identities of three kinds (people working office
hours from one or two networks with the console or the CLI, pipelines running
terraform from CI networks, services running around the clock), each with its own
repertoire of EC2/IAM/STS calls, home region and client; rare off-profile events
(new region, network, client) and a few attack chains are mixed in. Built column by
column with numpy and handed over as Arrow -> pandas, exactly as ``read_events``
returns the canonical table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from features import CANONICAL_SCHEMA, classify

NAMES = [
    ("ec2.amazonaws.com", "DescribeInstances", 30),
    ("ec2.amazonaws.com", "DescribeVolumes", 12),
    ("ec2.amazonaws.com", "DescribeSnapshots", 8),
    ("ec2.amazonaws.com", "DescribeImages", 6),
    ("ec2.amazonaws.com", "RunInstances", 3),
    ("ec2.amazonaws.com", "TerminateInstances", 2),
    ("ec2.amazonaws.com", "StartInstances", 2),
    ("ec2.amazonaws.com", "StopInstances", 2),
    ("ec2.amazonaws.com", "ModifyInstanceAttribute", 1),
    ("ec2.amazonaws.com", "CreateSnapshot", 2),
    ("ec2.amazonaws.com", "DeleteSnapshot", 1),
    ("ec2.amazonaws.com", "CopySnapshot", 0.3),
    ("ec2.amazonaws.com", "ModifySnapshotAttribute", 0.2),
    ("ec2.amazonaws.com", "CreateVolume", 1.5),
    ("ec2.amazonaws.com", "AttachVolume", 1.5),
    ("ec2.amazonaws.com", "DetachVolume", 1),
    ("ec2.amazonaws.com", "DeleteVolume", 1),
    ("ec2.amazonaws.com", "CreateImage", 0.5),
    ("ec2.amazonaws.com", "ModifyImageAttribute", 0.1),
    ("ec2.amazonaws.com", "CreateLaunchTemplateVersion", 0.5),
    ("ec2.amazonaws.com", "CreateTags", 4),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", 0.5),
    ("ec2.amazonaws.com", "GetPasswordData", 0.05),
    ("ec2.amazonaws.com", "CreateKeyPair", 0.1),
    ("autoscaling.amazonaws.com", "UpdateAutoScalingGroup", 1),
    ("autoscaling.amazonaws.com", "DescribeAutoScalingGroups", 5),
    ("iam.amazonaws.com", "ListRoles", 3),
    ("iam.amazonaws.com", "GetRole", 3),
    ("sts.amazonaws.com", "AssumeRole", 6),
    ("sts.amazonaws.com", "GetCallerIdentity", 4),
    ("s3.amazonaws.com", "ListBuckets", 2),
    ("cloudtrail.amazonaws.com", "LookupEvents", 0.5),
]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "sa-east-1"]
CLIENTS = [
    ("console", "console.amazonaws.com", None),
    ("aws-cli", "aws-cli/2.15.30 Python/3.11", "2.15.30"),
    ("aws-cli", "aws-cli/2.13.0 Python/3.11", "2.13.0"),
    ("boto3", "Boto3/1.34.10 Python/3.11", "1.34.10"),
    ("terraform", "APN/1.0 HashiCorp/1.0 Terraform/1.7.4", "1.7.4"),
    ("aws-sdk-go", "aws-sdk-go/1.50.0", "1.50.0"),
    ("karpenter", "karpenter.sh-v0.35.0", "0.35.0"),
    ("python-requests", "python-requests/2.31", "2.31"),
]
PREFIX = {
    "RunInstances": ("i-", "ami-"),
    "TerminateInstances": ("i-",),
    "StartInstances": ("i-",),
    "StopInstances": ("i-",),
    "ModifyInstanceAttribute": ("i-",),
    "CreateSnapshot": ("snap-", "vol-"),
    "DeleteSnapshot": ("snap-",),
    "CopySnapshot": ("snap-", "snap-"),
    "ModifySnapshotAttribute": ("snap-",),
    "CreateVolume": ("vol-", "snap-"),
    "AttachVolume": ("vol-", "i-"),
    "DetachVolume": ("vol-", "i-"),
    "DeleteVolume": ("vol-",),
    "CreateImage": ("ami-", "i-"),
    "ModifyImageAttribute": ("ami-",),
    "CreateLaunchTemplateVersion": ("lt-",),
    "CreateTags": ("i-",),
    "AuthorizeSecurityGroupIngress": ("sg-",),
    "GetPasswordData": ("i-",),
}


def generate(n_events: int = 1_000_000, n_identities: int = 400, seed: int = 7) -> pd.DataFrame:
    """Return about ``n_events`` canonical events of a simulated 30-day month."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-05-01", tz="UTC").value // 1000  # microseconds
    kind = rng.choice(3, n_identities, p=[0.6, 0.15, 0.25])  # person, pipeline, service
    weight = rng.pareto(1.2, n_identities) + 0.05
    ident = rng.choice(n_identities, n_events, p=weight / weight.sum())
    # time: people on weekdays 07-19 (own shift), others around the clock
    day = rng.integers(0, 30, n_events)
    shift = rng.integers(6, 11, n_identities)
    person = kind[ident] == 0
    hour = np.where(
        person, shift[ident] + rng.integers(0, 10, n_events), rng.integers(0, 24, n_events)
    )
    weekday = (day + 2) % 7  # 2024-05-01 was a Wednesday
    day = np.where(person & (weekday >= 5) & (rng.random(n_events) < 0.9), (day + 2) % 30, day)
    micros = (
        start
        + day * 86_400_000_000
        + np.minimum(hour, 23) * 3_600_000_000
        + rng.integers(0, 3_600_000_000, n_events)
    )
    # repertoire: each identity uses 4-14 of the names, weighted by the global mix
    weights = np.array([w for _, _, w in NAMES])
    size = rng.integers(4, 15, n_identities)
    repertoire = np.stack(
        [
            rng.choice(len(NAMES), 14, replace=False, p=weights / weights.sum())
            for _ in range(n_identities)
        ]
    )
    name = repertoire[ident, rng.integers(0, 1 << 30, n_events) % size[ident]]
    off = rng.random(n_events) < 0.002
    name = np.where(off, rng.integers(0, len(NAMES), n_events), name)
    home_region = rng.integers(0, 3, n_identities)
    region = np.where(
        rng.random(n_events) < 0.01, rng.integers(0, len(REGIONS), n_events), home_region[ident]
    )
    home_net = rng.integers(0, 200, (n_identities, 2))
    net = home_net[ident, rng.integers(0, 2, n_events)]
    net = np.where(rng.random(n_events) < 0.003, rng.integers(200, 5000, n_events), net)
    client_of_kind = np.array([1, 4, 3])
    home_client = np.where(
        rng.random(n_identities) < 0.3,
        rng.integers(0, len(CLIENTS), n_identities),
        client_of_kind[kind],
    )
    client = np.where(
        rng.random(n_events) < 0.01, rng.integers(0, len(CLIENTS), n_events), home_client[ident]
    )
    error = rng.random(n_events) < 0.03

    names = np.array([n for _, n, _ in NAMES], dtype=object)
    sources = np.array([s for s, _, _ in NAMES], dtype=object)
    taxonomy = [classify(s, n) for s, n, _ in NAMES]
    rtypes = np.array([t for t, _ in taxonomy], dtype=object)
    actions = np.array([a for _, a in taxonomy], dtype=object)
    action = actions[name].copy()
    share = (np.isin(names[name], ["ModifySnapshotAttribute", "ModifyImageAttribute"])) & (
        rng.random(n_events) < 0.5
    )
    action[share] = "share"
    is_change = np.array([r is not None for r in rtypes[name]]) & (action != "read")

    # resource ids: up to two per event, from small per-identity pools so chains recur
    id_lists: list[list[str]] = []
    pools = rng.integers(0, 1 << 20, n_events)
    for i, (nm, pool, who) in enumerate(zip(names[name], pools, ident, strict=True)):
        prefixes = PREFIX.get(nm, ())
        id_lists.append(
            [f"{p}{(who * 977 + pool % 50 + j) & 0xFFFFFFF:08x}" for j, p in enumerate(prefixes)]
        )
        _ = i
    attribute = np.full(n_events, None, dtype=object)
    modify = names[name] == "ModifyInstanceAttribute"
    attribute[modify] = rng.choice(
        ["userData", "instanceType", "disableApiTermination"], int(modify.sum())
    )
    targets: list[list[str]] = [[] for _ in range(n_events)]
    for i in np.flatnonzero(share):
        targets[i] = ["all"] if rng.random() < 0.1 else [f"{rng.integers(10**11, 10**12)}"]
    country_of_net = np.array(["US", "DE", "GB", "IN", "BR"], dtype=object)[np.arange(5000) % 5]
    identities = np.array(
        [
            f"arn:aws:iam::111111111111:{'user' if k == 0 else 'role'}/id{i:04d}"
            for i, k in enumerate(kind)
        ],
        dtype=object,
    )
    columns = {
        "event_id": [f"ev-{i:08d}" for i in range(n_events)],
        "event_time": pa.array(micros, type=pa.timestamp("us", tz="UTC")),
        "cloud": ["aws"] * n_events,
        "account_id": ["111111111111"] * n_events,
        "region": np.array(REGIONS, dtype=object)[region],
        "event_source": sources[name],
        "event_name": names[name],
        "event_type": ["AwsApiCall"] * n_events,
        "read_only": action == "read",
        "error_code": np.where(error, "AccessDenied", None),
        "resource_type": rtypes[name],
        "action": action,
        "is_compute_change": is_change,
        "resource_ids": id_lists,
        "attribute": attribute,
        "share_targets": targets,
        "identity_key": identities[ident],
        "identity_type": np.where(kind[ident] == 0, "IAMUser", "AssumedRole"),
        "principal_arn": identities[ident],
        "actor_account_id": ["111111111111"] * n_events,
        "session_name": [None] * n_events,
        "source_identity": [None] * n_events,
        "federated_provider": [None] * n_events,
        "access_key_id": [None] * n_events,
        "mfa": [None] * n_events,
        "source_ip": [f"10.{n // 256}.{n % 256}.7" for n in net],
        "network": [f"10.{n // 256}.{n % 256}.0/24" for n in net],
        "by_service": np.zeros(n_events, dtype=bool),
        "invoked_by": [None] * n_events,
        "user_agent": np.array([c[1] for c in CLIENTS], dtype=object)[client],
        "client_family": np.array([c[0] for c in CLIENTS], dtype=object)[client],
        "client_version": np.array([c[2] for c in CLIENTS], dtype=object)[client],
        "country": country_of_net[net],
        "asn": 64500 + net % 37,
        "as_org": [None] * n_events,
    }
    table = pa.table(
        {k: pa.array(v, type=CANONICAL_SCHEMA.field(k).type) for k, v in columns.items()},
        schema=CANONICAL_SCHEMA,
    )
    order = np.argsort(micros, kind="stable")
    return table.take(pa.array(order)).to_pandas()
