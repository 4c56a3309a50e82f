"""The simulator's files: S3 layout, ingestion without rejects, determinism, windows, GeoIP."""

from __future__ import annotations

import gzip
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import yaml

from features import GeoIP, client_of
from training.simulation import DEFAULT_REGIONS, identity_kind, simulate

LAYOUT = re.compile(
    r"^AWSLogs/(?P<account>\d{12})/CloudTrail/(?P<region>[a-z]{2}-[a-z]+-\d)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$"
)


def test_every_file_follows_the_s3_delivery_layout(simulated, trail_paths) -> None:
    files = trail_paths
    assert len(files) == simulated.result.files > 0
    for path in files:
        relative = path.relative_to(simulated.out).as_posix()
        match = LAYOUT.match(relative)
        assert match, relative
        stamp = datetime.strptime(match["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert (match["y"], match["m"], match["d"]) == (f"{stamp:%Y}", f"{stamp:%m}", f"{stamp:%d}")


def test_each_file_holds_a_few_minutes_of_one_account_and_region(simulated, trail_paths) -> None:
    for path in trail_paths[:400]:
        data = path.read_bytes()
        assert data[:2] == b"\x1f\x8b"
        assert data[4:8] == b"\x00\x00\x00\x00"
        document = orjson.loads(gzip.decompress(data))
        assert list(document) == ["Records"]
        assert document["Records"]
        match = LAYOUT.match(path.relative_to(simulated.out).as_posix())
        assert match
        times = sorted(datetime.fromisoformat(r["eventTime"]) for r in document["Records"])
        assert (times[-1] - times[0]).total_seconds() < 300
        delivered = datetime.strptime(match["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert 0 <= (delivered - times[-1]).total_seconds() <= 600
        for record in document["Records"]:
            assert record["recipientAccountId"] == match["account"]
            assert record["awsRegion"] == match["region"]


def test_ingestion_reads_everything_without_a_reject(simulated) -> None:
    report = simulated.report
    assert report.rejected == 0
    assert report.files_failed == 0
    assert report.duplicates == 0
    assert (
        report.records
        == report.kept
        == simulated.manifest["events"]["total"]
        == len(simulated.events)
    )


def test_records_have_cloudtrails_fields(records: list[dict]) -> None:
    common = {
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "requestParameters",
        "responseElements",
        "eventID",
        "readOnly",
        "eventType",
        "managementEvent",
        "recipientAccountId",
        "eventCategory",
    }
    for record in records:
        assert common <= set(record), record["eventName"]
        assert record["eventVersion"] in ("1.08", "1.09")
        if "errorCode" in record:
            assert record["responseElements"] is None
            assert record["errorMessage"]
        if record["userIdentity"].get("invokedBy"):
            assert "tlsDetails" not in record
            assert record["sourceIPAddress"].endswith(".amazonaws.com")
        else:
            assert record["tlsDetails"]["tlsVersion"] == "TLSv1.3"


def test_resource_ids_are_aws_shaped(simulated) -> None:
    events = simulated.events
    rds = events["event_source"] == "rds.amazonaws.com"
    ids = {i for row in events.loc[~rds, "resource_ids"] for i in row}
    assert ids
    for resource_id in ids:
        assert re.fullmatch(r"(i|vol|snap|ami|sg|lt|key|eni)-0[0-9a-f]{16}", resource_id), (
            resource_id
        )
    for resource_id in {i for row in events.loc[rds, "resource_ids"] for i in row}:
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,62}", resource_id), resource_id  # RDS names


def test_read_only_noise_outnumbers_writes_about_ten_to_one(simulated) -> None:
    reads = int(simulated.events["read_only"].sum())
    writes = len(simulated.events) - reads
    assert 6 <= reads / writes <= 16


def test_identity_keys_are_those_the_manifest_promises(simulated) -> None:
    manifest = simulated.manifest
    seen = set(simulated.events["identity_key"])
    unknown = sorted(k for k in seen if identity_kind(manifest, k) is None)
    assert unknown == []
    kinds = manifest["identities"]
    for kind, entry in kinds.items():
        for key in entry["keys"]:
            assert key in seen or any(k.startswith(f"{key}/") for k in seen), (kind, key)
    assert {"person", "automation", "service", "instance-profile", "vendor", "iam-user"} <= set(
        kinds
    )
    assert sum(kind["events"] for kind in kinds.values()) == len(simulated.events)
    sso = [k for k in kinds["person"]["keys"] if "AWSReservedSSO_" in k]
    assert sso
    assert all(k.endswith("@northwind.example") for k in sso)


def test_every_machine_actor_is_described(simulated) -> None:
    actors = simulated.manifest["actors"]
    machine = {
        key
        for kind, entry in simulated.manifest["identities"].items()
        if kind != "person"
        for key in entry["keys"]
    }
    assert set(actors) == machine
    assert {actor["kind"] for actor in actors.values()} >= {"automation", "service", "vendor"}
    styles = {actor.get("sessions") for actor in actors.values()}
    assert {"nanos", "aws-go-sdk", "botocore", "uuid", "hex", "function", "per-run"} <= styles
    declared = {key for key, actor in actors.items() if actor["declared"]}
    assert any(key.endswith("role/deploy-terraform") for key in declared)
    assert not any("Karpenter" in key for key in declared)


@pytest.mark.parametrize(
    ("identity_pattern", "family"),
    [
        ("role/deploy-terraform", "terraform"),
        ("role/KarpenterControllerRole-main", "karpenter"),
        ("role/AWSServiceRoleForAutoScaling", "aws-service"),
        ("role/AWSBackupDefaultServiceRole", "aws-service"),
        ("role/DatadogIntegrationRole", "aws-sdk-go"),
        ("role/eks-node-main", "aws-sdk-go"),
        ("role/app-web", "aws-sdk-java"),
    ],
)
def test_machine_identities_use_their_own_clients(
    simulated, identity_pattern: str, family: str
) -> None:
    events = simulated.events
    unlabelled = events[~events["event_id"].isin(set(simulated.labels["event_id"]))]
    keys = unlabelled["identity_key"]
    mine = unlabelled[
        keys.str.endswith(identity_pattern) | keys.str.contains(f"{identity_pattern}/")
    ]
    assert len(mine) > 0
    assert set(mine["client_family"]) == {family}


def test_people_use_console_and_cli(simulated) -> None:
    people = simulated.events[simulated.events["identity_key"].str.contains("AWSReservedSSO_")]
    assert {"console", "aws-cli"} <= set(people["client_family"])
    assert (
        client_of(simulated.events["user_agent"].iloc[0])[0]
        == simulated.events["client_family"].iloc[0]
    )


def test_deploy_role_writes_only_inside_windows_outside_attacks(simulated, sim_params) -> None:
    from training.simulation import PRESETS
    from training.simulation._actors import DEPLOY_HOURS, window_starts
    from training.simulation._org import build_organisation

    seed, params = sim_params
    manifest = simulated.manifest
    start = datetime.fromisoformat(manifest["period"]["start"])
    org = build_organisation(
        seed,
        start=int(start.timestamp()),
        days=params["days"],
        test_days=params["test_days"],
        accounts=params["accounts"],
        regions=list(manifest["regions"]),
        scale=params["scale"],
        preset=PRESETS[manifest["org"]],
    )
    windows = [(s, s + DEPLOY_HOURS * 3600) for s in window_starts(org)]
    events = simulated.events
    attacks = set(simulated.labels[simulated.labels["kind"] == "attack"]["event_id"])
    deploy = events[
        events["identity_key"].str.endswith("role/deploy-terraform")
        & ~events["read_only"]
        & ~events["event_id"].isin(set(simulated.labels["event_id"]))
    ]
    assert len(deploy) > 0
    for moment in deploy["event_time"]:
        t = moment.timestamp()
        assert any(a <= t < b for a, b in windows), moment
    off = events[
        events["event_id"].isin(attacks)
        & events["identity_key"].str.endswith("role/deploy-terraform")
        & ~events["read_only"]
    ]
    assert len(off) > 0
    assert not any(a <= m.timestamp() < b for m in off["event_time"] for a, b in windows)


def test_change_windows_yaml_has_windows_tickets_and_a_freeze(simulated) -> None:
    document = yaml.safe_load((simulated.out / "change_windows.yaml").read_text())
    assert document["version"] == 1
    assert document["timezone"] == "Europe/Berlin"
    assert document["windows"]
    assert document["tickets"]
    assert document["freezes"]
    for window in document["windows"]:
        assert ("rrule" in window) != ("cron" in window)
        assert re.fullmatch(r"P(\d+D)?(T\d+H)?", window["duration"])
    for entry in (*document["tickets"], *document["freezes"]):
        assert isinstance(entry["start"], datetime)
        assert entry["start"] < entry["end"]
    emergency = simulated.labels[simulated.labels["scenario"] == "emergency_change_in_ticket"]
    covering = [
        ticket
        for ticket in document["tickets"]
        if all(
            ticket["start"].replace(tzinfo=UTC) <= t <= ticket["end"].replace(tzinfo=UTC)
            for t in emergency["event_time"]
        )
    ]
    assert covering
    assert covering[0]["reason"].startswith("emergency")


def test_automation_yaml_lists_the_pipeline(simulated) -> None:
    document = yaml.safe_load((simulated.out / "automation.yaml").read_text())
    names = {entry["name"]: entry for entry in document["automation"]}
    assert names["terraform-pipeline"]["clients"] == ["terraform"]
    assert names["terraform-pipeline"]["networks"] == ["198.19.200.0/24"]
    assert "weekly-deploy" in names["terraform-pipeline"]["description"]


def test_geo_database_resolves_every_simulated_network(simulated) -> None:
    import ipaddress

    geo = GeoIP(simulated.out / "geo.mmdb")
    try:
        for network in simulated.manifest["networks"]:
            host = str(next(ipaddress.ip_network(network["cidr"]).hosts()))
            found = geo.lookup(host)
            assert (found.country, found.asn, found.as_org) == (
                network["country"],
                network["asn"],
                network["org"],
            )
    finally:
        geo.close()
    addressed = simulated.events[~simulated.events["by_service"]]
    assert addressed["country"].notna().all()
    assert addressed["asn"].notna().all()


def test_manifest_periods_and_counts(simulated, sim_params) -> None:
    manifest = simulated.manifest
    assert manifest["seed"] == sim_params[0]
    assert manifest["baseline"]["end"] == manifest["test"]["start"]
    labels = simulated.labels
    for name, entry in manifest["scenarios"].items():
        assert entry["events"] == int((labels["scenario"] == name).sum())
    assert len(manifest["accounts"]) == 3
    assert manifest["regions"] == list(DEFAULT_REGIONS)
    assert (manifest["org"], manifest["policy"]) == ("small", "realistic")


def _digest(out: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        digest.update(path.relative_to(out).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_other_bytes(simulated, sim_params, tmp_path: Path) -> None:
    seed, params = sim_params
    simulate(tmp_path / "again", seed=seed, **params)
    simulate(tmp_path / "other", seed=seed + 1, **params)
    assert _digest(tmp_path / "again") == _digest(simulated.out)
    assert _digest(tmp_path / "other") != _digest(simulated.out)


def test_raw_records_parse(simulated, records) -> None:
    assert len(records) == simulated.result.events
