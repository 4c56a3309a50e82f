"""Spark gives the findings of one machine: the scoring core per identity group, on local[2]."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import features
from changewatch.cli import cli
from models import ChangeDetector, save_bundle
from models.scoring import (
    DetectorScorer,
    PolicyFile,
    load_policy,
    load_scorer,
    read_yaml_model,
    score_events,
)
from tests.conftest import make_record
from training.simulation import simulate
from training.spark import missing_spark

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.xdist_group("spark"),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.skipif(
        missing_spark() is not None,
        reason=f"Spark tests need Java 17 and pyspark: {missing_spark()}",
    ),
]


def _chain_across_identities() -> list[dict[str, Any]]:
    """A snapshot made by one identity, restored and attached by another (the rule's hit)."""

    def call(name: str, minute: int, user: str, request: Any, response: Any) -> dict[str, Any]:
        return make_record(
            eventID=f"chain-{name}-{user}",
            eventTime=f"2026-03-09T03:{minute:02d}:00Z",
            eventName=name,
            userIdentity={
                "type": "IAMUser",
                "arn": f"arn:aws:iam::111122223333:user/{user}",
                "accountId": "111122223333",
            },
            requestParameters=request,
            responseElements=response,
        )

    snapshot, volume, instance = (
        "snap-0c1c2c3c4c5c6c7c8",
        "vol-0c1c2c3c4c5c6c7c8",
        "i-0c1c2c3c4c5c6c7c8",
    )
    return [
        call(
            "CreateSnapshot",
            1,
            "mallory",
            {"volumeId": "vol-0a1a2a3a4a5a6a7a8"},
            {"snapshotId": snapshot, "volumeId": "vol-0a1a2a3a4a5a6a7a8"},
        ),
        call(
            "CreateVolume",
            5,
            "victor",
            {"snapshotId": snapshot},
            {"volumeId": volume, "snapshotId": snapshot},
        ),
        call(
            "RunInstances",
            7,
            "victor",
            {"instancesSet": {"items": [{"imageId": "ami-0f1f2f3f4f5f6f7f8"}]}},
            {"instancesSet": {"items": [{"instanceId": instance}]}},
        ),
        call("AttachVolume", 9, "victor", {"volumeId": volume, "instanceId": instance}, None),
    ]


@pytest.fixture(scope="module")
def organisation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A simulated organisation with every attack, its policy, a model, and the test events."""
    root = tmp_path_factory.mktemp("spark-findings")
    result = simulate(root / "sim", days=9, seed=5, scale=0.3, test_days=4, attacks="all")
    features.ingest([root / "sim" / "AWSLogs"], root / "all.parquet")
    events = features.read_events(root / "all.parquet")
    start = pd.Timestamp(result.manifest["test"]["start"])
    config = features.FeatureConfig(cold_start_days=2, cold_start_active_days=2)
    detector = ChangeDetector(feature_config=config, n_estimators=30, random_state=0)
    save_bundle(detector.fit(events[events["event_time"] < start]), root / "bundle")
    extra = features.records_to_table(_chain_across_identities()).table.to_pandas()
    test = pd.concat([events[events["event_time"] >= start], extra], ignore_index=True)
    features.write_events(test, root / "test.parquet")
    policy = [root / "sim" / "change_windows.yaml", root / "sim" / "automation.yaml"]
    return {
        "root": root,
        "bundle": root / "bundle",
        "test": root / "test.parquet",
        "policy": policy,
    }


def _local(organisation: dict[str, Any], scorer: Any) -> list[dict[str, Any]]:
    events = features.read_events(organisation["test"])
    policy = load_policy(*organisation["policy"])
    result = score_events(events, policy, scorer)
    return [json.loads(f.model_dump_json()) for f in result.findings]


def _spark(spark: Any, organisation: dict[str, Any], scorer: Any, buckets: int) -> list[Any]:
    from training.spark import read_events_spark, spark_findings

    files = [read_yaml_model(PolicyFile, p).resolved() for p in organisation["policy"]]
    frame = read_events_spark(spark, [str(organisation["test"])])
    rows = spark_findings(frame, scorer, files, buckets=buckets).where("line IS NOT NULL")
    return [json.loads(r["line"]) for r in rows.select("line").collect()]


def _buckets(spark: Any, users: list[str], buckets: int) -> set[int]:
    from pyspark.sql import functions as F  # noqa: N812

    keys = [(f"arn:aws:iam::111122223333:user/{u}",) for u in users]
    frame = spark.createDataFrame(keys, ["identity_key"])
    found = frame.select(F.pmod(F.xxhash64("identity_key"), F.lit(buckets)).alias("b")).collect()
    return {int(r["b"]) for r in found}


def _by_id(findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["finding_id"]: f for f in findings}


@pytest.mark.parametrize("buckets", [1, 4])
@pytest.mark.parametrize("model", ["bundle", "none"])
def test_spark_findings_equal_the_local_ones(
    spark: Any, organisation: dict[str, Any], buckets: int, model: str
) -> None:
    scorer = load_scorer(organisation["bundle"]) if model == "bundle" else None
    assert scorer is None or isinstance(scorer, DetectorScorer)
    local = _local(organisation, scorer)
    found = _spark(spark, organisation, scorer, buckets)
    assert len(local) > 10
    if buckets > 1:  # the chain's two identities are scored in two groups
        assert len(_buckets(spark, ["mallory", "victor"], buckets)) == 2
    assert len(found) == len(local)
    assert _by_id(found) == _by_id(local)  # ids, severities, reasons, model parts, evidence
    chain = [
        f
        for f in local
        if f["identity"].endswith("/victor") and "chain-CreateSnapshot-mallory" in f["event_ids"]
    ]
    assert chain  # victor's chain runs through mallory's snapshot, scored in another group
    if scorer is not None:
        assert any(f["model"] and f["model"]["percentile"] for f in local)


def test_every_group_judges_addresses_by_the_drivers_aws_ranges(
    spark: Any,
    organisation: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The executors' data folder is not the user's: Spark ships the driver's snapshot.

    The snapshot is installed in this process only, after the Spark workers started, so a
    group reading its own environment would judge without it (ADR 0052).
    """
    without = _local(organisation, None)
    monkeypatch.setenv("CHANGEWATCH_DATA_DIR", str(tmp_path / "data"))
    snapshot = {
        "syncToken": "1",
        "createDate": "2026-12-01-00-00-00",
        "prefixes": [{"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "S3"}],
        "ipv6_prefixes": [],
    }
    features.write_ranges(json.dumps(snapshot).encode(), features.refreshed_path())
    local = _local(organisation, None)
    assert len(local) > len(without)  # the snapshot judged instance sessions outside AWS
    assert any("outside AWS (not in the AWS IP ranges" in json.dumps(f) for f in local)
    assert _by_id(_spark(spark, organisation, None, 4)) == _by_id(local)


def _cli_lines(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Run ``changewatch score`` and return its summary and the lines it wrote to --out."""
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    out = Path(args[args.index("--out") + 1])
    parts = sorted(out.glob("part-*")) if out.is_dir() else [out]
    return summary, [line for part in parts for line in part.read_text().splitlines() if line]


def _key(line: str) -> str:
    found = json.loads(line)
    return str(found.get("finding_id") or found["finding_info"]["uid"])


@pytest.mark.parametrize(("output_format", "min_severity"), [("json", "info"), ("ocsf", "medium")])
def test_the_score_command_writes_what_the_local_engine_writes(
    spark: Any, organisation: dict[str, Any], tmp_path: Path, output_format: str, min_severity: str
) -> None:
    args = ["score", "--model", str(organisation["bundle"]), "--events", str(organisation["test"])]
    args += ["--format", output_format, "--min-severity", min_severity, "--windows"]
    args += [str(p) for p in organisation["policy"]]
    local, local_lines = _cli_lines([*args, "--out", str(tmp_path / "local.jsonl")])
    found, lines = _cli_lines([*args, "--engine", "spark", "--out", str(tmp_path / "findings")])
    assert found["findings"] == len(lines) == local["findings"] > 5
    assert found["findings_by_severity"] == local["findings_by_severity"]
    assert found["findings_below_min_severity"] == local["findings_below_min_severity"]
    assert (found["format"], found["events"]) == (output_format, local["events"])
    assert sorted(lines, key=_key) == sorted(local_lines, key=_key)  # byte for byte


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--history", "test", "--history is not supported with --engine spark"),
        ("--rejects", "rejects.jsonl", "--rejects is not supported with --engine spark"),
        ("--out", "-", "--engine spark writes a folder"),
    ],
)
def test_spark_refuses_what_it_cannot_honour(
    organisation: dict[str, Any], tmp_path: Path, option: str, value: str, message: str
) -> None:
    given = str(organisation["test"]) if value == "test" else value
    given = str(tmp_path / given) if value == "rejects.jsonl" else given
    args = ["score", "--engine", "spark", "--model", "none", "--events", str(organisation["test"])]
    args += ["--out", str(tmp_path / "out")] if option != "--out" else []
    result = CliRunner().invoke(cli, [*args, option, given])
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "out").exists()
