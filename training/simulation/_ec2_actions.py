"""EC2 steps that people, machines, the pipeline and scenarios take the same way.

Each helper draws from ``rng`` in the order its callers always did, so moving a caller
onto it changes no event.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from training.simulation import _calls as calls
from training.simulation._engine import Caller, Resource, Simulation, Zone

__all__ = [
    "describe",
    "drain",
    "failed_call",
    "fix_host",
    "launch_request",
    "on_drain",
    "pick_pet",
    "snapshot_volume",
]


def describe(
    sim: Simulation, t: int, caller: Caller, zone: Zone, name: str, ids: list[str] | None = None
) -> str:
    """Emit the read ``name`` of ``ids`` (of everything when ``None``); return its event id."""
    return sim.call(t, caller, zone, name, calls.read_request(name, ids))


def failed_call(
    sim: Simulation,
    t: int,
    caller: Caller,
    zone: Zone,
    name: str,
    request: dict[str, Any] | None,
    error: tuple[str, str],
) -> str:
    """Emit a call of ``name`` refused with ``error`` (code, message); return its event id."""
    return sim.call(t, caller, zone, name, request, None, error=error)


def launch_request(
    rng: random.Random,
    zone: Zone,
    instance_ids: list[str],
    instance_type: str,
    where: tuple[str, str],
    launch: int,
    *,
    group: str = "default",
    image: str | None = None,
    launch_template: str | None = None,
    profile_arn: str | None = None,
    key_name: str | None = None,
    tags: dict[str, str] | None = None,
    user_data: bool = False,
) -> calls.Pair:
    """``RunInstances`` request and response for ``instance_ids`` in ``zone``.

    Parameters
    ----------
    rng : random.Random
        Draws the client token (and the response's private addresses).
    zone : Zone
        Account, region and VPC of the launch.
    instance_ids : list of str
        Ids of the new instances.
    instance_type : str
        Instance type.
    where : tuple of (str, str)
        Subnet id and its availability zone.
    launch : int
        Launch time (epoch seconds).
    group : str, default="default"
        Name of the zone's security group the instances join.
    image : str, optional
        AMI id; the zone's first image when not given.
    launch_template, profile_arn, key_name, tags, user_data
        Passed on to :func:`~training.simulation._calls.run_instances`.
    """
    subnet, az = where
    return calls.run_instances(
        rng,
        account=zone.account.id,
        region=zone.region,
        instance_ids=instance_ids,
        image=image if image is not None else next(iter(zone.images)),
        instance_type=instance_type,
        subnet=subnet,
        zone=az,
        vpc=zone.vpc,
        security_group=zone.groups[group],
        launch=launch,
        launch_template=launch_template,
        profile_arn=profile_arn,
        key_name=key_name,
        tags=tags,
        user_data=user_data,
    )


def snapshot_volume(
    sim: Simulation,
    t: int,
    caller: Caller,
    zone: Zone,
    volume: Resource,
    snapshot_id: str,
    description: str,
    *,
    default_size: int = 100,
    tags: dict[str, str] | None = None,
    only_if_recorded: bool = False,
    **marks: bool,
) -> bool:
    """Emit ``CreateSnapshot`` of ``volume`` at ``t`` and add the snapshot to ``zone``.

    Parameters
    ----------
    sim, t, caller, zone
        Who snapshots, when and where.
    volume : Resource
        The volume; touched at ``t``.
    snapshot_id : str
        Id of the new snapshot.
    description : str
        The snapshot's description.
    default_size : int, default=100
        Size in GiB when the volume does not say.
    tags : dict of str to str, optional
        Tags set on the snapshot.
    only_if_recorded : bool, default=False
        Add the snapshot only when the event falls inside the simulation.
    **marks : bool
        Flags stored on the snapshot (``manual``, ``backup``, ``shared``).

    Returns
    -------
    bool
        Whether the event was recorded (it falls inside the simulation).
    """
    size = volume.attrs.get("size", default_size)
    request, response = calls.create_snapshot(
        snapshot_id,
        volume.id,
        account=zone.account.id,
        size=int(size),
        started=t,
        description=description,
        tags=tags,
    )
    recorded = bool(sim.call(t, caller, zone, "CreateSnapshot", request, response))
    if recorded or not only_if_recorded:
        zone.snapshots[snapshot_id] = Resource(
            snapshot_id, t, t, "completed", {"volume": volume.id, "size": size, **marks}
        )
        volume.last = max(volume.last, t)
    return recorded


def pick_pet(
    zone: Zone,
    t: int,
    rng: random.Random,
    *,
    with_data: bool = True,
    test: Callable[[Resource], bool] | None = None,
) -> Resource | None:
    """Pick a running service host (a "pet"), by default one with data volumes.

    ``test``, when given, must hold too.
    """
    return zone.pick(
        zone.instances,
        t,
        rng,
        lambda r: (
            bool(r.attrs.get("pet"))
            and r.state == "running"
            and (not with_data or bool(r.attrs.get("volumes")))
            and (test is None or test(r))
        ),
    )


def on_drain(sim: Simulation, zone: Zone, listener: Callable[[int, str], None]) -> None:
    """Register ``listener(t, instance_id)``, told before an instance of ``zone`` is terminated."""
    sim.registry.setdefault(f"drain:{zone.account.index}:{zone.region}", []).append(listener)


def drain(sim: Simulation, t: int, zone: Zone, instance_id: str) -> None:
    """Tell the storage drivers of ``zone`` that ``instance_id`` goes at ``t`` (they detach)."""
    for listener in sim.registry.get(f"drain:{zone.account.index}:{zone.region}", ()):
        listener(t, instance_id)


def fix_host(
    sim: Simulation,
    rng: random.Random,
    t: int,
    caller: Caller,
    zone: Zone,
    host: Resource,
    action: str,
) -> int:
    """Reboot, restart or resize ``host`` from ``t``; return the time of the last call.

    ``reboot``: ``RebootInstances``. ``restart``: ``StopInstances`` then
    ``StartInstances``. ``resize``: ``StopInstances``, ``ModifyInstanceAttribute`` of
    the instance type, ``StartInstances``. What people do by hand, planned or on call.
    """
    if action == "reboot":
        request, response = calls.state_change("RebootInstances", [host.id], "running", "running")
        sim.call(t, caller, zone, "RebootInstances", request, response)
        host.last = t
        return t
    request, response = calls.state_change("StopInstances", [host.id], "running", "stopping")
    sim.call(t, caller, zone, "StopInstances", request, response)
    when = t + rng.randrange(60, 180)
    if action == "resize":
        new_type = rng.choice(("m6i.2xlarge", "r6i.2xlarge", "m6i.xlarge"))
        request, response = calls.modify_instance_attribute(host.id, "instanceType", new_type)
        sim.call(when, caller, zone, "ModifyInstanceAttribute", request, response)
        host.attrs["type"] = new_type
        when += rng.randrange(20, 90)
    request, response = calls.state_change("StartInstances", [host.id], "stopped", "pending")
    sim.call(when, caller, zone, "StartInstances", request, response)
    host.last = when
    return when
