"""Azure Activity Log, Google Cloud Audit Logs and OCSF API Activity in the canonical table.

The real samples in ``tests/data/azure`` and ``tests/data/gcp`` are read with 0 rejects; the
tables below say how each cloud's compute calls, callers and shares map onto the columns
CloudTrail fills (ADRs 0044 and 0045).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import given, settings

from changewatch.errors import RecordRejected
from features import CANONICAL_COLUMNS, IngestOptions, ingest, normalize, read_events
from tests.cloud_records import MI, SUBSCRIPTION, TENANT, UPN, azure, gcp, ocsf_api_activity


def row_of(raw: Any) -> dict[str, Any]:
    return dict(zip(CANONICAL_COLUMNS, normalize(raw), strict=True))


@pytest.fixture(scope="module")
def samples(
    data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Any, pd.DataFrame]]:
    read = {}
    for cloud in ("azure", "gcp"):
        out = tmp_path_factory.mktemp(cloud) / "events.parquet"
        report = ingest([data_dir / cloud], out, options=IngestOptions(jobs=1))
        read[cloud] = (report, read_events(out))
    return read


@pytest.mark.parametrize(
    ("cloud", "records", "duplicates"),
    [("azure", 4 + 25, 0), ("gcp", 9 + 8, 2)],
)
def test_every_real_sample_is_read_without_rejection(
    samples: dict[str, tuple[Any, pd.DataFrame]], cloud: str, records: int, duplicates: int
) -> None:
    report, events = samples[cloud]
    assert (report.records, report.rejected, report.files_failed) == (records, 0, 0)
    assert report.duplicates == duplicates
    assert set(events["cloud"]) == {cloud}
    assert len(events) == report.kept


def test_real_azure_sample_keys_people_and_service_principals(
    samples: dict[str, tuple[Any, pd.DataFrame]],
) -> None:
    _, events = samples["azure"]
    keys = set(events["identity_key"])
    assert "azure:user:fakeemail@fakedomain.com" in keys
    assert "azure:app:12345678-9abc-defg-hijk-lmnopqrstuvw" in keys
    links = events[events["event_name"] == "Microsoft.Compute/disks/beginGetAccess/action"]
    assert len(links) == 4
    assert all(list(targets) == ["link"] for targets in links["share_targets"])


def test_real_gcp_delegation_keys_the_chain_and_denials_keep_their_code(
    samples: dict[str, tuple[Any, pd.DataFrame]],
) -> None:
    _, events = samples["gcp"]
    assert "gcp:user:fake-account@fake-project.com" in set(events["identity_key"])
    denied = events[events["error_code"].notna()]
    assert list(denied["error_code"]) == ["PERMISSION_DENIED"]
    assert list(denied["identity_type"]) == ["ServiceAccount"]


@pytest.mark.parametrize(
    ("operation", "resource_type", "action", "attribute", "targets"),
    [
        ("MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE", "instance", "modify", None, []),
        ("Microsoft.Compute/virtualMachines/delete", "instance", "delete", None, []),
        ("Microsoft.Compute/virtualMachines/start/action", "instance", "start", None, []),
        ("Microsoft.Compute/virtualMachines/deallocate/action", "instance", "stop", None, []),
        ("Microsoft.Compute/virtualMachines/runCommand/action", "instance", "modify",
         "runCommand", []),
        ("Microsoft.Compute/disks/beginGetAccess/action", "volume", "share", None, ["link"]),
        ("Microsoft.Compute/snapshots/beginGetAccess/action", "snapshot", "share", None, ["link"]),
        ("Microsoft.Compute/snapshots/write", "snapshot", "modify", None, []),
        ("Microsoft.Compute/images/write", "image", "modify", None, []),
        ("Microsoft.Compute/galleries/images/versions/write", "image", "modify", None, []),
        ("Microsoft.Storage/storageAccounts/write", None, "modify", None, []),
    ],
)  # fmt: skip
def test_azure_operations_map_to_the_compute_taxonomy(
    operation: str,
    resource_type: str | None,
    action: str,
    attribute: str | None,
    targets: list[str],
) -> None:
    row = row_of(azure(operation))
    assert (row["cloud"], row["account_id"], row["region"]) == ("azure", SUBSCRIPTION, "westeurope")
    assert (row["resource_type"], row["action"], row["attribute"]) == (
        resource_type,
        action,
        attribute,
    )
    assert list(row["share_targets"]) == targets
    assert row["is_compute_change"] is (resource_type is not None)


@pytest.mark.parametrize(
    ("method", "resource", "extra", "resource_type", "action", "attribute", "targets"),
    [
        ("v1.compute.instances.insert", "zones/europe-west1-b/instances/web-1", {},
         "instance", "create", None, []),
        ("v1.compute.instances.delete", "zones/europe-west1-b/instances/web-1", {},
         "instance", "delete", None, []),
        ("v1.compute.instances.setMetadata", "zones/europe-west1-b/instances/web-1",
         {"request": {"items": [{"key": "startup-script", "value": "curl x | sh"}]}},
         "instance", "modify", "startup-script", []),
        ("v1.compute.instances.attachDisk", "zones/europe-west1-b/instances/web-1", {},
         "volume", "attach", None, []),
        ("v1.compute.disks.createSnapshot", "zones/europe-west1-b/disks/d1", {},
         "snapshot", "create", None, []),
        ("v1.compute.snapshots.insert", "global/snapshots/s1", {}, "snapshot", "create", None, []),
        ("v1.compute.snapshots.delete", "global/snapshots/s1", {}, "snapshot", "delete", None, []),
        ("v1.compute.machineImages.insert", "global/machineImages/m1", {},
         "image", "create", None, []),
        ("v1.compute.snapshots.setIamPolicy", "global/snapshots/s1",
         {"request": {"policy": {"bindings": [{"role": "roles/compute.storageAdmin",
                                               "members": ["allUsers"]}]}}},
         "snapshot", "share", None, ["all"]),
        ("v1.compute.images.setIamPolicy", "global/images/i1",
         {"request": {"policy": {"bindings": [{"role": "roles/compute.imageUser",
                                               "members": ["domain:evil.example"]}]}}},
         "image", "share", None, ["domain:evil.example"]),
        ("storage.buckets.create", "buckets/b", {}, None, "create", None, []),
    ],
)  # fmt: skip
def test_gcp_methods_map_to_the_compute_taxonomy(
    method: str,
    resource: str,
    extra: dict[str, Any],
    resource_type: str | None,
    action: str,
    attribute: str | None,
    targets: list[str],
) -> None:
    row = row_of(gcp(method, resource, **extra))
    assert (row["cloud"], row["account_id"]) == ("gcp", "acme-prod-1")
    assert row["event_name"] == method.removeprefix("v1.")
    assert (row["resource_type"], row["action"], row["attribute"]) == (
        resource_type,
        action,
        attribute,
    )
    assert list(row["share_targets"]) == targets
    assert row["is_compute_change"] is (resource_type is not None)


def test_gcp_ids_name_their_collection_and_zones_give_the_region() -> None:
    row = row_of(gcp("v1.compute.disks.createSnapshot", "zones/europe-west1-b/disks/d1"))
    assert list(row["resource_ids"]) == ["projects/acme-prod-1/zones/europe-west1-b/disks/d1"]
    assert row["region"] == "europe-west1"


@pytest.mark.parametrize(
    ("claims", "key", "kind"),
    [
        ({UPN: "Alice@Corp.example", TENANT: "t1"}, "azure:user:alice@corp.example", "AzureUser"),
        ({"appid": "11111111-2222-3333-4444-555555555555", "idtyp": "app"},
         "azure:app:11111111-2222-3333-4444-555555555555", "ServicePrincipal"),
        ({"appid": "11111111-2222-3333-4444-555555555555", "idtyp": "app",
          "xms_mirid": MI + "userAssignedIdentities/builder"},
         "azure:mi:" + (MI + "userAssignedIdentities/builder").lower(), "ManagedIdentity"),
    ],
)  # fmt: skip
def test_azure_identity_keys_follow_the_caller(claims: dict[str, str], key: str, kind: str) -> None:
    row = row_of(azure("Microsoft.Compute/disks/write", identity={"claims": claims}))
    assert (row["identity_key"], row["identity_type"]) == (key, kind)


@pytest.mark.parametrize(
    ("authentication", "key", "kind"),
    [
        ({"principalEmail": "alice@corp.example"}, "gcp:user:alice@corp.example", "GoogleUser"),
        ({"principalEmail": "builder@acme-prod-1.iam.gserviceaccount.com"},
         "gcp:sa:builder@acme-prod-1.iam.gserviceaccount.com", "ServiceAccount"),
        ({"principalEmail": "deployer@acme-prod-1.iam.gserviceaccount.com",
          "serviceAccountDelegationInfo": [
              {"firstPartyPrincipal": {"principalEmail": "bob@corp.example"}}]},
         "gcp:sa:deployer@acme-prod-1.iam.gserviceaccount.com/bob@corp.example", "ServiceAccount"),
    ],
)  # fmt: skip
def test_gcp_identity_keys_follow_the_person_behind_impersonation(
    authentication: dict[str, Any], key: str, kind: str
) -> None:
    row = row_of(gcp("v1.compute.instances.insert", authenticationInfo=authentication))
    assert (row["identity_key"], row["identity_type"]) == (key, kind)


def test_azure_outcomes_count_each_operation_once() -> None:
    failed = row_of(azure("Microsoft.Compute/disks/write", resultType="Failed"))
    started = row_of(azure("Microsoft.Compute/disks/write", resultType="Started"))
    assert failed["error_code"] == "Failed"
    assert started["is_compute_change"] is False


def test_gcp_denials_carry_the_rpc_code() -> None:
    row = row_of(gcp("v1.compute.instances.insert", status={"code": 7, "message": "denied"}))
    assert row["error_code"] == "PERMISSION_DENIED"


def test_ocsf_api_activity_from_aws_reads_as_its_cloudtrail_record() -> None:
    row = row_of(ocsf_api_activity())
    assert (row["cloud"], row["account_id"], row["region"]) == ("aws", "111122223333", "eu-west-1")
    assert (row["event_name"], row["resource_type"], row["action"]) == (
        "ModifySnapshotAttribute",
        "snapshot",
        "share",
    )
    assert list(row["share_targets"]) == ["999988887777"]
    assert row["identity_key"] == "arn:aws:iam::111122223333:user/alice"


def test_ocsf_time_and_operation_are_named_when_missing() -> None:
    record = ocsf_api_activity()
    del record["time"]
    with pytest.raises(RecordRejected, match="time"):
        normalize(record)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"insertId": "x", "logName": "projects/p/logs/app", "timestamp": "2024-05-01T10:00:00Z",
          "jsonPayload": {"m": 1}}, "protoPayload"),
        (gcp("v1.compute.instances.insert", authenticationInfo="alice"),
         "protoPayload.authenticationInfo"),
        (azure("Microsoft.Compute/disks/write", properties=[1]), "properties"),
        (azure("Microsoft.Compute/disks/write", time=None), "time"),
    ],
)  # fmt: skip
def test_bad_records_are_rejected_naming_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        normalize(record)
    assert caught.value.field == field


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    base=st.sampled_from(
        [
            azure("Microsoft.Compute/disks/write"),
            gcp("v1.compute.instances.insert"),
            ocsf_api_activity(),
        ]
    ),
    key=st.sampled_from(
        [
            "operationName",
            "resourceId",
            "identity",
            "properties",
            "resultType",
            "time",
            "protoPayload",
            "resource",
            "timestamp",
            "api",
            "actor",
            "cloud",
            "metadata",
        ]
    ),
    value=JSON,
)
def test_any_field_of_any_shape_gives_a_row_or_a_named_rejection(
    base: dict[str, Any], key: str, value: Any
) -> None:
    record = {**base, key: value}
    field = None
    try:
        row = normalize(record)
    except RecordRejected as rejection:
        field = rejection.field
    else:
        assert len(row) == len(CANONICAL_COLUMNS)
    assert field is None or field


def test_ocsf_parquet_as_security_lake_writes_it_is_ingested(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [ocsf_api_activity(), {**ocsf_api_activity(), "metadata": {"uid": "ev-2"}}]
    records[1]["api"] = {**records[1]["api"], "operation": "DeleteSnapshot"}
    for record in records:  # Parquet has no empty structs; Security Lake leaves them out
        record["api"] = {k: v for k, v in record["api"].items() if v != {}}
    source = tmp_path / "lake" / "region=eu-west-1" / "part-0.parquet"
    source.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(records), source)
    out = tmp_path / "events.parquet"
    report = ingest([tmp_path / "lake"], out, options=IngestOptions(jobs=1))
    assert (report.records, report.rejected) == (2, 0)
    events = read_events(out)
    assert sorted(events["event_name"]) == ["DeleteSnapshot", "ModifySnapshotAttribute"]
    assert set(events["cloud"]) == {"aws"}
