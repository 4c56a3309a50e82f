"""The compute rules mean the same in Azure and Google Cloud as in AWS (ADR 0048).

Each rule is declared once on the canonical taxonomy (``features._predicates``): the
snapshot chain, code run on an instance, bursts, dormancy and change windows. Every rule
has a firing and a silent case per cloud, built from records in the shape each cloud's
export writes (``tests/cloud_steps.py``); the AWS cases are in ``test_rules.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from models.scoring import RuleContext, evaluate, parse_policy, rule_by_id
from tests.cloud_records import SUBSCRIPTION, azure
from tests.cloud_steps import PROJECT, ZONE, arm, at, az, gc, path

NOW = datetime(2024, 6, 1, tzinfo=UTC)
Records = tuple[dict[str, Any], ...]

# --- Azure: snapshot -> disk from it -> machine -------------------------------------------
AZ_SNAPSHOT = az(
    0,
    "snapshots/write",
    "snapshots/exfil",
    created=True,
    response={
        "name": "exfil",
        "location": "westeurope",
        "properties": {
            "creationData": {"createOption": "Copy", "sourceResourceId": arm("disks/db-os")}
        },
    },
)


def _az_disk(minutes: float, source: str) -> dict[str, Any]:
    return az(
        minutes,
        "disks/write",
        "disks/restored",
        created=True,
        response={
            "name": "restored",
            "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": source}},
        },
    )


def _az_vm(minutes: float, *, disks: bool = True, created: bool = True) -> dict[str, Any]:
    data = [{"lun": 0, "createOption": "Attach", "managedDisk": {"id": arm("disks/restored")}}]
    storage = {
        "osDisk": {"createOption": "FromImage", "managedDisk": {"id": arm("disks/vm-os")}},
        "dataDisks": data if disks else [],
    }
    return az(
        minutes,
        "virtualMachines/write",
        "virtualMachines/attacker-vm",
        created=created,
        response={"name": "attacker-vm", "properties": {"storageProfile": storage}},
    )


AZ_ATTACH = az(
    30,
    "virtualMachines/attachDetachDataDisks/action",
    "virtualMachines/attacker-vm",
    request={"dataDisksToAttach": [{"lun": 1, "diskId": arm("disks/restored")}]},
)

# --- Google Cloud: snapshot -> disk from it -> instance -------------------------------------
GC_CREATE_SNAPSHOT = gc(0, "disks.createSnapshot", f"{ZONE}/disks/db", request={"name": "exfil"})
GC_INSERT_SNAPSHOT = gc(
    0,
    "snapshots.insert",
    "global/snapshots/exfil",
    request={"name": "exfil", "sourceDisk": path(f"{ZONE}/disks/db")},
)


def _gc_disk(minutes: float, snapshot: str = "exfil") -> dict[str, Any]:
    return gc(
        minutes,
        "disks.insert",
        f"{ZONE}/disks/restored",
        request={"name": "restored", "sourceSnapshot": path(f"global/snapshots/{snapshot}")},
    )


def _gc_instance(minutes: float, *disks: dict[str, Any]) -> dict[str, Any]:
    boot = {
        "boot": True,
        "autoDelete": True,
        "initializeParams": {
            "sourceImage": "projects/debian-cloud/global/images/debian-12-bookworm-v20240415"
        },
    }
    return gc(
        minutes,
        "instances.insert",
        f"{ZONE}/instances/attacker",
        request={"name": "attacker", "disks": [boot, *disks]},
    )


RESTORED = {"source": path(f"{ZONE}/disks/restored"), "mode": "READ_WRITE"}
GC_ATTACH = gc(
    30,
    "instances.attachDisk",
    f"{ZONE}/instances/attacker",
    request={"source": f"{ZONE}/disks/restored", "deviceName": "loot"},
)
GC_FROM_SNAPSHOT = gc(
    20,
    "instances.insert",
    f"{ZONE}/instances/attacker",
    request={
        "name": "attacker",
        "disks": [
            {
                "boot": True,
                "deviceName": "attacker",
                "initializeParams": {"sourceSnapshot": path("global/snapshots/exfil")},
            }
        ],
    },
)

# --- code run on an instance ---------------------------------------------------------------
_STARTUP = {"instanceMetadataDelta": {"addedMetadataKeys": ["startup-script"]}}
_OTHER_KEY = {"instanceMetadataDelta": {"modifiedMetadataKeys": ["env"]}}

WINDOWS = (
    "version: 1\ntimezone: UTC\nwindows:\n"
    "  - name: morning\n    cron: '0 10 * * *'\n    duration: PT2H\n"
    f"    scope: {{accounts: [{SUBSCRIPTION}, {PROJECT}], regions: [westeurope, europe-west1]}}\n"
)


# --- reads of boot code and ways into a machine's shell (ADR 0056) -----------------------
def _gc_read(minutes: float, method: str, resource: str) -> dict[str, Any]:
    """A Data Access entry of a Compute Engine read (no long-running operation)."""
    entry = gc(minutes, method, resource)
    del entry["operation"]
    entry["logName"] = f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Fdata_access"
    return entry


def _gc_gets(minutes: float, count: int = 3, *, denied: bool = False) -> Records:
    reads = tuple(
        _gc_read(minutes + i / 10, "instances.get", f"{ZONE}/instances/web-{i}")
        for i in range(count)
    )
    for entry in reads if denied else ():
        entry["protoPayload"]["status"] = {"code": 7, "message": "PERMISSION_DENIED"}
    return reads


def _az_serial(minutes: float, machine: str = "web-1", phase: str = "Succeeded") -> dict[str, Any]:
    """A serial console connection to ``machine``, as the Activity Log records it."""
    return azure(
        "Microsoft.SerialConsole/serialPorts/connect/action",
        time=at(minutes),
        resourceId=arm(f"virtualMachines/{machine}")
        + "/providers/Microsoft.SerialConsole/serialPorts/0",
        resultType=phase,
        correlationId=f"serial-{machine}-{minutes}",
    )


OTHER_SCOPE = WINDOWS.replace(f"[{SUBSCRIPTION}, {PROJECT}]", "['111122223333']")


@dataclass(frozen=True)
class Case:
    """One rule on one batch (and an optional history), and what it should say."""

    name: str
    rule: str
    fires: bool
    batch: Records
    history: Records = ()
    policy: str | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _burst(make: Callable[[int], dict[str, Any]], count: int) -> Records:
    return tuple(make(i) for i in range(count))


CASES = [
    # Sequence.SnapshotToNewInstance
    Case(
        "azure: snapshot, disk from it, new machine with the disk",
        "Sequence.SnapshotToNewInstance",
        True,
        (AZ_SNAPSHOT, _az_disk(10, arm("snapshots/exfil")), _az_vm(20)),
        reason="snapshot exfil became volume restored, attached to instance attacker-vm "
        "launched 0 min earlier; the chain took 20 min",
    ),
    Case(
        "azure: disk attached by attachDetachDataDisks",
        "Sequence.SnapshotToNewInstance",
        True,
        (AZ_SNAPSHOT, _az_disk(10, arm("snapshots/exfil")), _az_vm(20, disks=False), AZ_ATTACH),
        reason="attached to instance attacker-vm launched 10 min earlier",
    ),
    Case(
        "azure: disk from a snapshot made long ago",
        "Sequence.SnapshotToNewInstance",
        False,
        (_az_disk(10, arm("snapshots/nightly")), _az_vm(20)),
    ),
    Case(
        "azure: machine launched days before the attachment",
        "Sequence.SnapshotToNewInstance",
        False,
        (
            _az_vm(-5 * 24 * 60, disks=False),
            AZ_SNAPSHOT,
            _az_disk(10, arm("snapshots/exfil")),
            AZ_ATTACH,
        ),
    ),
    Case(
        "gcp: createSnapshot, disks.insert from it, instances.insert with the disk",
        "Sequence.SnapshotToNewInstance",
        True,
        (GC_CREATE_SNAPSHOT, _gc_disk(10), _gc_instance(20, RESTORED)),
        reason="snapshot exfil became volume restored, attached to instance attacker "
        "launched 0 min earlier; the chain took 20 min",
    ),
    Case(
        "gcp: snapshots.insert, disks.insert, instances.attachDisk",
        "Sequence.SnapshotToNewInstance",
        True,
        (GC_INSERT_SNAPSHOT, _gc_disk(10), _gc_instance(20), GC_ATTACH),
        reason="attached to instance attacker launched 10 min earlier",
    ),
    Case(
        "gcp: instance whose boot disk is made from the snapshot",
        "Sequence.SnapshotToNewInstance",
        True,
        (GC_INSERT_SNAPSHOT, GC_FROM_SNAPSHOT),
        reason="snapshot exfil became volume attacker, attached to instance attacker",
    ),
    Case(
        "gcp: disk from a snapshot made long ago",
        "Sequence.SnapshotToNewInstance",
        False,
        (_gc_disk(10, snapshot="nightly"), _gc_instance(20, RESTORED)),
    ),
    Case(
        "gcp: instance launched days before the attachment",
        "Sequence.SnapshotToNewInstance",
        False,
        (_gc_instance(-5 * 24 * 60), GC_INSERT_SNAPSHOT, _gc_disk(10), GC_ATTACH),
    ),
    # UserData.Modified: code run on an instance
    Case(
        "azure: run command",
        "UserData.Modified",
        True,
        (az(0, "virtualMachines/runCommand/action", "virtualMachines/web-1"),),
        reason="a run command of instance web-1 run",
    ),
    Case(
        "azure: Custom Script extension (as Stratus names it)",
        "UserData.Modified",
        True,
        (
            az(
                0,
                "virtualMachines/extensions/write",
                "virtualMachines/vm-1/extensions/CustomScriptExtension-Stratus-Example",
            ),
        ),
        reason="a Custom Script extension of instance vm-1 run",
    ),
    Case(
        "azure: custom data in the machine's request",
        "UserData.Modified",
        True,
        (
            az(
                0,
                "virtualMachines/write",
                "virtualMachines/web-1",
                request={"properties": {"osProfile": {"customData": "IyEvYmluL3No"}}},
            ),
        ),
        reason="custom data of instance web-1 replaced",
    ),
    Case(
        "azure: a monitoring agent extension",
        "UserData.Modified",
        False,
        (
            az(
                0,
                "virtualMachines/extensions/write",
                "virtualMachines/vm-1/extensions/AzureMonitorLinuxAgent",
                request={"properties": {"type": "AzureMonitorLinuxAgent"}},
            ),
        ),
    ),
    Case(
        "gcp: startup script added",
        "UserData.Modified",
        True,
        (gc(0, "instances.setMetadata", f"{ZONE}/instances/web-1", metadata=_STARTUP),),
        reason="startup script of instance web-1 replaced",
    ),
    Case(
        "gcp: project-wide startup script",
        "UserData.Modified",
        True,
        (
            gc(
                0,
                "projects.setCommonInstanceMetadata",
                "",
                metadata={"projectMetadataDelta": {"modifiedMetadataKeys": ["startup-script"]}},
            ),
        ),
        reason="startup script set (compute.projects.setCommonInstanceMetadata)",
    ),
    Case(
        "gcp: another metadata key",
        "UserData.Modified",
        False,
        (gc(0, "instances.setMetadata", f"{ZONE}/instances/web-1", metadata=_OTHER_KEY),),
    ),
    # UserData.Read: Google's instances.get returns the instance with its startup scripts
    Case(
        "gcp: instances.get of three instances by an identity that never read them",
        "UserData.Read",
        True,
        _gc_gets(0),
        history=(gc(-7 * 24 * 60, "instances.stop", f"{ZONE}/instances/web-1"),),
        reason="3 reads of user data",
    ),
    Case(
        "gcp: instances.get by an identity that reads instances routinely",
        "UserData.Read",
        False,
        _gc_gets(0),
        history=_gc_gets(-7 * 24 * 60),
    ),
    Case(
        "gcp: a sweep of 12 reads the cloud denied, by an identity that reads routinely",
        "UserData.Read",
        True,
        _gc_gets(0, 12, denied=True),
        history=_gc_gets(-7 * 24 * 60),
        reason="most of it denied",
    ),
    Case(
        "gcp: a sweep of 12 allowed reads by an identity that reads routinely",
        "UserData.Read",
        False,
        _gc_gets(0, 12),
        history=_gc_gets(-7 * 24 * 60),
    ),
    Case(
        "gcp: instances.list is an enumeration, not a read of one instance's scripts",
        "UserData.Read",
        False,
        (_gc_read(0, "instances.list", f"{ZONE}/instances"),),
    ),
    # RemoteAccess.SSHKeyPushed: a shell on a machine's serial port
    Case(
        "azure: serial console connection by an identity that never connected",
        "RemoteAccess.SSHKeyPushed",
        True,
        (_az_serial(0, phase="Started"), _az_serial(0), _az_serial(1, "web-2")),
        history=(az(-7 * 24 * 60, "virtualMachines/delete", "virtualMachines/old-1"),),
        reason="SSH key pushed (Microsoft.SerialConsole/serialPorts/connect/action x2); "
        "the identity never pushed SSH keys",
    ),
    Case(
        "azure: serial console connection by an identity that connects routinely",
        "RemoteAccess.SSHKeyPushed",
        False,
        (_az_serial(0),),
        history=(_az_serial(-7 * 24 * 60), _az_serial(-3 * 24 * 60)),
    ),
    Case(
        "azure: a machine's boot diagnostics read is not a way in",
        "RemoteAccess.SSHKeyPushed",
        False,
        (az(0, "virtualMachines/retrieveBootDiagnosticsData/action", "virtualMachines/web-1"),),
    ),
    # Burst.Deletions
    Case(
        "azure: 12 machines deleted in an hour",
        "Burst.Deletions",
        True,
        _burst(lambda i: az(i, "virtualMachines/delete", f"virtualMachines/vm-{i}"), 12),
        reason="12 deletions",
    ),
    Case(
        "azure: 3 machines deleted",
        "Burst.Deletions",
        False,
        _burst(lambda i: az(i, "virtualMachines/delete", f"virtualMachines/vm-{i}"), 3),
    ),
    Case(
        "gcp: 12 instances deleted in an hour",
        "Burst.Deletions",
        True,
        _burst(lambda i: gc(i, "instances.delete", f"{ZONE}/instances/vm-{i}"), 12),
        reason="12 deletions",
    ),
    Case(
        "gcp: 3 instances deleted",
        "Burst.Deletions",
        False,
        _burst(lambda i: gc(i, "instances.delete", f"{ZONE}/instances/vm-{i}"), 3),
    ),
    # Identity.DormantChange
    Case(
        "azure: idle for 60 days, then a change",
        "Identity.DormantChange",
        True,
        (az(0, "virtualMachines/delete", "virtualMachines/web-1"),),
        history=(az(-60 * 24 * 60, "disks/write", "disks/d1"),),
        reason="identity idle for 60 days",
    ),
    Case(
        "azure: active last week",
        "Identity.DormantChange",
        False,
        (az(0, "virtualMachines/delete", "virtualMachines/web-1"),),
        history=(az(-7 * 24 * 60, "disks/write", "disks/d1"),),
    ),
    Case(
        "gcp: idle for 60 days, then a change",
        "Identity.DormantChange",
        True,
        (gc(0, "instances.delete", f"{ZONE}/instances/web-1"),),
        history=(gc(-60 * 24 * 60, "instances.stop", f"{ZONE}/instances/web-1"),),
        reason="identity idle for 60 days",
    ),
    Case(
        "gcp: active last week",
        "Identity.DormantChange",
        False,
        (gc(0, "instances.delete", f"{ZONE}/instances/web-1"),),
        history=(gc(-7 * 24 * 60, "instances.stop", f"{ZONE}/instances/web-1"),),
    ),
    # ChangeWindow.OutsideApproved: scopes name subscriptions, projects, locations, regions
    Case(
        "azure: a change after the subscription's window",
        "ChangeWindow.OutsideApproved",
        True,
        (az(180, "virtualMachines/delete", "virtualMachines/web-1"),),
        policy=WINDOWS,
        reason="1 compute change",
    ),
    Case(
        "azure: a change inside the subscription's window",
        "ChangeWindow.OutsideApproved",
        False,
        (az(30, "virtualMachines/delete", "virtualMachines/web-1"),),
        policy=WINDOWS,
    ),
    Case(
        "azure: a window for another account does not approve it",
        "ChangeWindow.OutsideApproved",
        True,
        (az(30, "virtualMachines/delete", "virtualMachines/web-1"),),
        policy=OTHER_SCOPE,
    ),
    Case(
        "gcp: a change after the project's window",
        "ChangeWindow.OutsideApproved",
        True,
        (gc(180, "instances.delete", f"{ZONE}/instances/web-1"),),
        policy=WINDOWS,
        reason="1 compute change",
    ),
    Case(
        "gcp: a change inside the project's window",
        "ChangeWindow.OutsideApproved",
        False,
        (gc(30, "instances.delete", f"{ZONE}/instances/web-1"),),
        policy=WINDOWS,
    ),
    Case(
        "gcp: a window for another account does not approve it",
        "ChangeWindow.OutsideApproved",
        True,
        (gc(30, "instances.delete", f"{ZONE}/instances/web-1"),),
        policy=OTHER_SCOPE,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_rules_mean_the_same_in_every_cloud(
    case: Case, events_of: Callable[[Iterable[dict[str, Any]]], pd.DataFrame]
) -> None:
    batch = events_of(case.batch)
    history = events_of(case.history) if case.history else None
    policy = parse_policy(case.policy) if case.policy else None
    context = RuleContext.build(history, policy=policy, now=NOW)
    result = evaluate(batch, context, rules=[rule_by_id(case.rule)])
    assert not result.failed
    assert bool(result.hits) == case.fires, [hit.reason for hit in result.hits]
    if case.reason:
        assert any(case.reason in hit.reason for hit in result.hits), [
            hit.reason for hit in result.hits
        ]


def test_a_chain_names_its_steps_once(
    events_of: Callable[[Iterable[dict[str, Any]]], pd.DataFrame],
) -> None:
    """Google's one ``instances.insert`` makes the disk, launches and attaches: one event."""
    batch = events_of((GC_INSERT_SNAPSHOT, GC_FROM_SNAPSHOT))
    result = evaluate(
        batch,
        RuleContext.build(None, now=NOW),
        rules=[rule_by_id("Sequence.SnapshotToNewInstance")],
    )
    assert [len(hit.event_ids) for hit in result.hits] == [2]


@pytest.mark.parametrize(
    ("scope", "event", "covered"),
    [
        ({"accounts": [SUBSCRIPTION.upper()]}, {"account_id": SUBSCRIPTION}, True),
        ({"regions": ["WestEurope"]}, {"region": "westeurope"}, True),
        ({"regions": ["europe-west*"]}, {"region": "europe-west1"}, True),
        ({"regions": ["europe-west*"]}, {"region": "westeurope"}, False),
        (
            {"resources": [arm("virtualMachines/*")]},
            {"resource_ids": [arm("virtualMachines/web-1").lower()]},
            True,
        ),
        (
            {"resources": [path(f"{ZONE}/instances/web-*")]},
            {"resource_ids": [path(f"{ZONE}/instances/web-1")]},
            True,
        ),
        (
            {"resources": [path(f"{ZONE}/instances/web-*")]},
            {"resource_ids": [path(f"{ZONE}/disks/web-1")]},
            False,
        ),
    ],
)
def test_scopes_match_subscriptions_locations_and_resource_paths_as_kept(
    scope: dict[str, Any], event: dict[str, Any], covered: bool
) -> None:
    """A scope written as the portal shows a subscription, location or ARM id still matches."""
    from models.scoring import Scope
    from models.scoring._scope import scope_covers

    assert scope_covers(Scope.model_validate(scope), event) is covered
