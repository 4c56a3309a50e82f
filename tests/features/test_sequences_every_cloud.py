"""The sequence features count the same steps in Azure and Google Cloud as in AWS (ADR 0048).

``seq_snapshot_volume_attach`` / ``seq_own_snapshot_volume_attach`` follow the snapshot
chain, ``seq_stop_modify_start`` an instance stopped, given new boot code (or machine
type) and started again, each declared once on the canonical taxonomy.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import features
from features import FeatureConfig, behaviour_vectors
from tests.cloud_steps import ZONE, arm, az, gc, path

CONFIG = FeatureConfig(horizon="6h")
_STARTUP = {"instanceMetadataDelta": {"addedMetadataKeys": ["startup-script"]}}
_OTHER = {"instanceMetadataDelta": {"addedMetadataKeys": ["env"]}}
_CUSTOM_DATA = {"properties": {"osProfile": {"customData": "IyEvYmluL3No"}}}
_VM = "virtualMachines/web-1"
_INSTANCE = f"{ZONE}/instances/web-1"


def _vectors(records: list[dict[str, Any]]) -> pd.Series:
    result = features.records_to_table(records)
    assert not result.rejections, result.rejections
    vectors = behaviour_vectors(result.table.to_pandas(), config=CONFIG)
    return vectors.sum(numeric_only=True)


AZURE_CHAIN = [
    az(
        0,
        "snapshots/write",
        "snapshots/exfil",
        created=True,
        response={"properties": {"creationData": {"sourceResourceId": arm("disks/db")}}},
    ),
    az(
        10,
        "disks/write",
        "disks/restored",
        created=True,
        response={"properties": {"creationData": {"sourceResourceId": arm("snapshots/exfil")}}},
    ),
    az(
        20,
        "virtualMachines/write",
        "virtualMachines/vm-2",
        created=True,
        response={
            "properties": {
                "storageProfile": {"dataDisks": [{"managedDisk": {"id": arm("disks/restored")}}]}
            }
        },
    ),
]
GCP_CHAIN = [
    gc(0, "disks.createSnapshot", f"{ZONE}/disks/db", request={"name": "exfil"}),
    gc(
        10,
        "disks.insert",
        f"{ZONE}/disks/restored",
        request={"name": "restored", "sourceSnapshot": path("global/snapshots/exfil")},
    ),
    gc(
        20,
        "instances.insert",
        f"{ZONE}/instances/vm-2",
        request={"name": "vm-2", "disks": [{"source": path(f"{ZONE}/disks/restored")}]},
    ),
]


@pytest.mark.parametrize(
    ("records", "partial", "full"),
    [
        (AZURE_CHAIN, 1, 1),
        (AZURE_CHAIN[1:], 1, 0),  # the disk's snapshot was not made in the horizon
        (AZURE_CHAIN[2:], 0, 0),  # the disk was not made from a snapshot
        (GCP_CHAIN, 1, 1),
        (GCP_CHAIN[1:], 1, 0),
        (GCP_CHAIN[2:], 0, 0),
    ],
    ids=[
        "azure",
        "azure old snapshot",
        "azure no snapshot",
        "gcp",
        "gcp old snapshot",
        "gcp no snapshot",
    ],
)
def test_the_snapshot_chain_features_in_every_cloud(
    records: list[dict[str, Any]], partial: int, full: int
) -> None:
    sums = _vectors(records)
    assert sums["seq_snapshot_volume_attach"] == partial
    assert sums["seq_own_snapshot_volume_attach"] == full


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (
            [
                az(0, f"{_VM}/deallocate/action", _VM),
                az(5, "virtualMachines/write", _VM, request=_CUSTOM_DATA),
                az(10, f"{_VM}/start/action", _VM),
            ],
            1,
        ),
        (
            [
                az(0, f"{_VM}/deallocate/action", _VM),
                az(5, "virtualMachines/write", _VM),
                az(10, f"{_VM}/start/action", _VM),
            ],
            0,
        ),
        (
            [
                gc(0, "instances.stop", _INSTANCE),
                gc(5, "instances.setMetadata", _INSTANCE, metadata=_STARTUP),
                gc(10, "instances.start", _INSTANCE),
            ],
            1,
        ),
        (
            [
                gc(0, "instances.stop", _INSTANCE),
                gc(5, "instances.setMachineType", _INSTANCE, request={"machineType": "n2-1"}),
                gc(10, "instances.start", _INSTANCE),
            ],
            1,
        ),
        (
            [
                gc(0, "instances.stop", _INSTANCE),
                gc(5, "instances.setMetadata", _INSTANCE, metadata=_OTHER),
                gc(10, "instances.start", _INSTANCE),
            ],
            0,
        ),
    ],
    ids=["azure custom data", "azure other write", "gcp startup script", "gcp machine type",
         "gcp other key"],
)  # fmt: skip
def test_stop_modify_start_in_every_cloud(records: list[dict[str, Any]], expected: int) -> None:
    assert _vectors(records)["seq_stop_modify_start"] == expected
