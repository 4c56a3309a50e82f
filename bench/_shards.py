"""Realistic CloudTrail shards in the S3 delivery layout, for the ingestion benchmark.

The mix follows a busy account: mostly read-only Describe calls from consoles, SDKs and
services, some instance, volume and snapshot changes, assumed roles and IAM users,
errors now and then. Record sizes (about 1.3 KB of JSON) are those of real trails.

Two layouts: :func:`write_shards` writes large files (500 records each, a busy account),
:func:`write_real_layout` the shape most trails really have: one file per account and
region every 5 minutes, a handful of records in each.
"""

from __future__ import annotations

import gzip
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ACCOUNT = "111122223333"
REGIONS = ["eu-central-1", "us-east-1"]
AGENTS = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/ec2.describe-instances",
    "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 cfg/retry-mode#legacy Botocore/1.34.51",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.149.1",
    "console.ec2.amazonaws.com",
    "autoscaling.amazonaws.com",
    "aws-sdk-go/1.44.122 (go1.20.3; linux; amd64) karpenter.sh-v0.31.0",
]


def _key(rng: random.Random, prefix: str) -> str:
    # Credentials live for hours: an identity reuses a handful of access keys.
    return prefix + f"{rng.randrange(64):016X}"


def _identity(rng: random.Random, account: str = ACCOUNT) -> dict[str, object]:
    if rng.random() < 0.3:
        name = rng.choice(["alice", "bob", "legacy-admin", "ci"])
        return {
            "type": "IAMUser",
            "principalId": f"AIDAEXAMPLE{name.upper()}",
            "arn": f"arn:aws:iam::{account}:user/{name}",
            "accountId": account,
            "accessKeyId": _key(rng, "AKIA"),
            "userName": name,
        }
    role = rng.choice(
        ["deploy", "karpenter-node", "AWSReservedSSO_Admin_0123456789abcdef", "backup"]
    )
    session = rng.choice(["alice@example.com", "i-0123456789abcdef0", "1722511821294449000"])
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEROLEID:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": _key(rng, "ASIA"),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLEID",
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-03-02T09:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def _call(
    rng: random.Random, account: str = ACCOUNT
) -> tuple[str, dict[str, object] | None, dict[str, object] | None]:
    instance = f"i-0{rng.getrandbits(64):016x}"
    volume = f"vol-0{rng.getrandbits(64):016x}"
    snapshot = f"snap-0{rng.getrandbits(64):016x}"
    roll = rng.random()
    if roll < 0.9:
        name = rng.choice(
            ["DescribeInstances", "DescribeVolumes", "DescribeSnapshots", "DescribeInstanceStatus"]
        )
        return name, {"filterSet": {}, "instancesSet": {"items": [{"instanceId": instance}]}}, None
    if roll < 0.94:
        return (
            "RunInstances",
            {
                "instancesSet": {
                    "items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 1}]
                },
                "instanceType": "m6i.large",
                "blockDeviceMapping": {},
                "monitoring": {"enabled": False},
                "disableApiTermination": False,
                "clientToken": str(uuid.UUID(int=rng.getrandbits(128))),
            },
            {
                "requestId": str(uuid.UUID(int=rng.getrandbits(128))),
                "reservationId": "r-0123456789abcdef0",
                "ownerId": account,
                "groupSet": {},
                "instancesSet": {
                    "items": [
                        {
                            "instanceId": instance,
                            "imageId": "ami-0abcdef1234567890",
                            "instanceState": {"code": 0, "name": "pending"},
                            "privateDnsName": "ip-10-0-1-23.eu-central-1.compute.internal",
                            "amiLaunchIndex": 0,
                            "productCodes": {},
                            "instanceType": "m6i.large",
                            "launchTime": 1772442900000,
                            "placement": {
                                "availabilityZone": "eu-central-1a",
                                "tenancy": "default",
                            },
                            "monitoring": {"state": "disabled"},
                            "subnetId": "subnet-0123456789abcdef0",
                            "vpcId": "vpc-0123456789abcdef0",
                            "privateIpAddress": "10.0.1.23",
                        }
                    ]
                },
            },
        )
    if roll < 0.97:
        return (
            "CreateSnapshot",
            {"volumeId": volume, "description": "nightly"},
            {"snapshotId": snapshot, "volumeId": volume, "status": "pending", "volumeSize": 100},
        )
    return (
        "TerminateInstances",
        {"instancesSet": {"items": [{"instanceId": instance}]}},
        {
            "instancesSet": {
                "items": [
                    {"instanceId": instance, "currentState": {"code": 32, "name": "shutting-down"}}
                ]
            }
        },
    )


def record(rng: random.Random, when: datetime, account: str = ACCOUNT) -> dict[str, object]:
    name, request, response = _call(rng, account)
    agent = rng.choice(AGENTS)
    service = agent.endswith(".amazonaws.com") and not agent.startswith("console")
    item: dict[str, object] = {
        "eventVersion": "1.09",
        "userIdentity": _identity(rng, account),
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": rng.choice(REGIONS),
        "sourceIPAddress": agent if service else f"198.51.100.{rng.randrange(1, 255)}",
        "userAgent": agent,
        "requestParameters": request,
        "responseElements": response,
        "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "readOnly": name.startswith("Describe"),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "ec2.eu-central-1.amazonaws.com",
        },
    }
    if rng.random() < 0.02:
        item["errorCode"] = "Client.UnauthorizedOperation"
        item["errorMessage"] = "You are not authorized to perform this operation."
    return item


def write_shards(root: Path, records: int, per_file: int = 500, seed: int = 7) -> list[Path]:
    """Write ``records`` records in gzip shards of ``per_file`` under ``root/AWSLogs``."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    paths: list[Path] = []
    for shard in range((records + per_file - 1) // per_file):
        when = start + timedelta(minutes=5 * shard)
        region = REGIONS[shard % len(REGIONS)]
        folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / region / when.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        count = min(per_file, records - shard * per_file)
        items = [record(rng, when + timedelta(seconds=rng.randrange(300))) for _ in range(count)]
        name = f"{ACCOUNT}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}.json.gz"
        path = folder / name
        path.write_bytes(
            gzip.compress(json.dumps({"Records": items}).encode(), compresslevel=6, mtime=0)
        )
        paths.append(path)
    return paths


REAL_ACCOUNTS = ["111122223333", "222233334444", "333344445555", "444455556666"]
REAL_REGIONS = ["eu-central-1", "us-east-1", "eu-west-1"]


def write_real_layout(root: Path, files: int, mean_records: float = 7.0, seed: int = 11) -> int:
    """Write ``files`` small delivery files in CloudTrail's real layout under ``root/AWSLogs``.

    One file per account and region every 5 minutes, as CloudTrail delivers them, each
    with a handful of records (1 + an exponential draw, ``mean_records`` on average).

    Returns
    -------
    int
        The number of records written.
    """
    rng = random.Random(seed)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    streams = [(account, region) for account in REAL_ACCOUNTS for region in REAL_REGIONS]
    written = 0
    for index in range(files):
        account, region = streams[index % len(streams)]
        when = start + timedelta(minutes=5 * (index // len(streams)))
        folder = root / "AWSLogs" / account / "CloudTrail" / region / when.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        count = 1 + min(int(rng.expovariate(1 / (mean_records - 1))), 100)
        items = [
            record(rng, when + timedelta(seconds=rng.randrange(300)), account) for _ in range(count)
        ]
        name = f"{account}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}.json.gz"
        (folder / name).write_bytes(
            gzip.compress(json.dumps({"Records": items}).encode(), compresslevel=6, mtime=0)
        )
        written += count
    return written
