"""AWS Backup: the nightly plan, its copy job, and the weekly restore test.

* **Plan** (``AWSBackupDefaultServiceRole``, invoked by ``backup.amazonaws.com``):
  01:00-01:30 UTC ``CreateSnapshot`` of every backed-up volume, ``DeleteSnapshot`` of
  those older than the retention.
* **Copy job** of production backups, 20-60 minutes later: to the organisation's
  backup account when it has one (``ModifySnapshotAttribute`` sharing with that
  account, ``CopySnapshot`` there by its own backup role, the share withdrawn), else
  to the disaster-recovery region of the same account (``CopySnapshot`` there).
  Copies expire with the same retention.
* **Restore test** (:func:`restore_test`): a Lambda of the central account assumes
  ``backup-restore-test`` in production (a UUID session), launches a test instance,
  creates a volume from the night's backup snapshot, attaches it, checks it and
  removes both: the snapshot -> volume -> attach chain of an attack, done by
  automation every week.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from training.simulation import _calls as calls
from training.simulation import _calls_images as images
from training.simulation._actors import service_caller
from training.simulation._ec2_actions import describe, launch_request, snapshot_volume
from training.simulation._engine import Caller, Resource, Simulation, Zone
from training.simulation._ids import resource_id
from training.simulation._inventory import BACKUP_RETENTION_DAYS
from training.simulation._scenario_helpers import require
from training.simulation._time import DAY, HOUR, MINUTE

__all__ = ["Backup", "restore_test"]

_SERVICE = "backup.amazonaws.com"
_SESSION = "AWSBackup-AWSBackupDefaultServiceRole"


def copy_target(sim: Simulation, zone: Zone) -> Zone | None:
    """Where the copy job of ``zone`` copies to, or ``None`` when nothing is copied."""
    org = sim.org
    if zone.account.role != "prod" or zone.region != org.home_region:
        return None
    vault = org.find("backup")
    if vault is not None:
        return sim.zones[(vault.index, org.dr_region)]
    if org.dr_region == zone.region:
        return None
    return sim.zones[(zone.account.index, org.dr_region)]


class Backup:
    """AWS Backup's nightly plan in one zone (and the copy job of production's)."""

    def __init__(self, sim: Simulation, zone: Zone) -> None:
        self.sim, self.zone = sim, zone
        self.rng = random.Random(f"backup:{sim.org.seed}:{zone.account.index}:{zone.region}")
        self.role = sim.org.role(zone.account, "AWSBackupDefaultServiceRole")
        self.target = copy_target(sim, zone)
        self.copies: list[str] = []
        for day in range(sim.org.start, sim.org.end, DAY):
            sim.at(day + HOUR + self.rng.randrange(0, 1800), self.run)

    def _caller(self, zone: Zone, t: int) -> Caller:
        role = self.sim.org.role(zone.account, "AWSBackupDefaultServiceRole")
        return service_caller(role, _SESSION, _SERVICE, t, self.rng)

    def run(self, t: int) -> None:
        """Snapshot every backed-up volume, expire old backups, then start the copy job."""
        rng, zone = self.rng, self.zone
        caller = self._caller(zone, t)
        volumes = zone.usable(zone.volumes, t, lambda v: bool(v.attrs.get("backup")))
        when = t
        taken: list[str] = []
        for volume in sorted(volumes, key=lambda v: v.id):
            when += rng.randrange(3, 40)
            describe(self.sim, when, caller, zone, "DescribeVolumes", [volume.id])
            snapshot_id = resource_id("snap", rng)
            if snapshot_volume(
                self.sim,
                when + 1,
                caller,
                zone,
                volume,
                snapshot_id,
                "This snapshot is created by the AWS Backup service.",
                tags={"aws:backup:source-resource": f"{volume.id}:{rng.getrandbits(32):08x}"},
                only_if_recorded=True,
                backup=True,
            ):
                taken.append(snapshot_id)
        when += rng.randrange(60, 600)
        self._expire(when, zone, caller, lambda s: not s.attrs.get("copy"))
        if self.target is not None and taken:
            self.sim.at(when + rng.randrange(20 * MINUTE, 60 * MINUTE), self.copy, taken)

    def _expire(self, t: int, zone: Zone, caller: Caller, test: Callable[[Resource], bool]) -> None:
        cutoff = t - BACKUP_RETENTION_DAYS * DAY + HOUR
        expired = zone.usable(
            zone.snapshots,
            t,
            lambda s: (
                bool(s.attrs.get("backup"))
                and s.created < cutoff
                and not s.attrs.get("shared")
                and test(s)
            ),
        )
        if expired:
            describe(self.sim, t, caller, zone, "DescribeSnapshots")
        for snapshot in sorted(expired, key=lambda s: s.created):
            t += self.rng.randrange(2, 20)
            request, response = calls.delete_snapshot(snapshot.id)
            if self.sim.call(t, caller, zone, "DeleteSnapshot", request, response):
                del zone.snapshots[snapshot.id]

    def copy(self, t: int, snapshot_ids: list[str]) -> None:
        """Copy the night's snapshots to the target, then expire the target's old copies."""
        target, zone, rng = self.target, self.zone, self.rng
        assert target is not None
        source = self._caller(zone, t)
        destination = self._caller(target, t)
        cross_account = target.account.id != zone.account.id
        when = t
        for snapshot_id in snapshot_ids:
            snapshot = zone.snapshots.get(snapshot_id)
            if snapshot is None or snapshot.last > when:
                continue
            when += rng.randrange(5, 60)
            if cross_account:
                request, response = calls.modify_snapshot_share(snapshot_id, target.account.id)
                self.sim.call(when, source, zone, "ModifySnapshotAttribute", request, response)
            copy_id = resource_id("snap", rng)
            request, response = images.copy_snapshot(
                copy_id, zone.region, snapshot_id, f"copy of {snapshot_id} by AWS Backup"
            )
            self.sim.call(when + 2, destination, target, "CopySnapshot", request, response)
            target.snapshots[copy_id] = Resource(
                copy_id,
                when + 2,
                when + 2,
                "completed",
                {"size": snapshot.attrs.get("size", 100), "backup": True, "copy": True},
            )
            snapshot.last = when + 2
            if cross_account:
                request, response = images.unshare_snapshot(snapshot_id, target.account.id)
                self.sim.call(
                    when + rng.randrange(300, 900),
                    source,
                    zone,
                    "ModifySnapshotAttribute",
                    request,
                    response,
                )
        self._expire(when + rng.randrange(60, 300), target, destination, lambda s: True)


def restore_test(sim: Simulation, t: int, rng: random.Random, caller: Caller, zone: Zone) -> int:
    """Restore the latest backup snapshot onto a new test instance, check it, clean up.

    ``DescribeSnapshots``, ``RunInstances`` (a ``t3.small`` tagged
    ``Purpose=restore-test``), ``DescribeInstances``, ``CreateVolume`` from the
    snapshot, ``DescribeVolumes``, ``AttachVolume``, then 10-25 minutes later
    ``DetachVolume``, ``DeleteVolume`` and ``TerminateInstances``. Returns the time
    of the last call.
    """
    describe(sim, t, caller, zone, "DescribeSnapshots")
    backups = zone.usable(zone.snapshots, t, lambda s: bool(s.attrs.get("backup")))
    snapshot = require(
        max(backups, key=lambda s: (s.created, s.id)) if backups else None,
        "a backup snapshot to restore",
        t,
    )
    subnet, az = zone.subnet(rng)
    instance_id = resource_id("i", rng)
    request, response = launch_request(
        rng,
        zone,
        [instance_id],
        "t3.small",
        (subnet, az),
        t + 20,
        tags={"Name": "restore-test", "Purpose": "restore-test"},
    )
    sim.call(t + 20, caller, zone, "RunInstances", request, response)
    describe(sim, t + 80, caller, zone, "DescribeInstances", [instance_id])
    volume_id = resource_id("vol", rng)
    size = int(snapshot.attrs.get("size", 100))
    request, response = calls.create_volume(
        volume_id,
        zone=az,
        size=size,
        created=t + 90,
        snapshot=snapshot.id,
        tags={"Purpose": "restore-test"},
    )
    sim.call(t + 90, caller, zone, "CreateVolume", request, response)
    describe(sim, t + 110, caller, zone, "DescribeVolumes", [volume_id])
    request, response = calls.attach_volume(volume_id, instance_id, "/dev/sdf", t + 130)
    sim.call(t + 130, caller, zone, "AttachVolume", request, response)
    snapshot.last = max(snapshot.last, t + 90)
    done = t + 130 + rng.randrange(10 * MINUTE, 25 * MINUTE)
    request, response = calls.detach_volume(volume_id, instance_id, "/dev/sdf", done)
    sim.call(done, caller, zone, "DetachVolume", request, response)
    request, response = calls.delete_volume(volume_id)
    sim.call(done + 40, caller, zone, "DeleteVolume", request, response)
    request, response = calls.state_change(
        "TerminateInstances", [instance_id], "running", "shutting-down"
    )
    sim.call(done + 50, caller, zone, "TerminateInstances", request, response)
    return done + 50
