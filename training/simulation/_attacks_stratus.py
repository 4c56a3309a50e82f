"""Stratus Red Team's compute techniques the other scenarios lacked (issue #15).

Each follows the real detonation recorded in ``tests/data/stratus/`` (the calls, their
order, the failures), played by an attacker the organisation has never seen: a stolen
administrator session or the legacy key, from an attacker network, with an attacker's
client.
"""

from __future__ import annotations

import random
from typing import Any

from training.simulation._ec2_actions import describe
from training.simulation._engine import Caller, Simulation, Zone
from training.simulation._geo import NETWORKS
from training.simulation._ids import resource_id
from training.simulation._scenario_helpers import (
    ATTACKER_CLI,
    ATTACKER_GO,
    any_host,
    require,
    stolen_sso,
    zone_of,
)
from training.simulation._scenario_record import ATTACK, Scenario
from training.simulation._time import HOUR

__all__ = [
    "STRATUS_SCENARIOS",
    "instance_connect_push",
    "instance_credentials_exfil",
    "rds_snapshot_share",
    "secrets_sweep",
    "serial_console_backdoor",
]

_DENIED = (
    "Client.UnauthorizedOperation",
    "You are not authorized to perform this operation.",
)


def _running(zone: Zone, t: int, count: int) -> list[str]:
    """Up to ``count`` instances running at ``t``, by id."""
    ids = sorted(r.id for r in zone.instances.values() if r.created <= t and r.state == "running")
    return ids[:count]


def rds_snapshot_share(sim: Simulation, t: int, rng: random.Random) -> None:
    """Snapshot a database and let a foreign account restore it (T1537).

    Stratus ``rds-share-snapshot``: a stolen administrator session from a VPN exit with
    the aws-cli: RDS ``CreateDBSnapshot``, ``DescribeDBSnapshots`` until available,
    ``ModifyDBSnapshotAttribute`` adding the foreign account to ``restore``.
    """
    zone = zone_of(sim, "prod")
    caller = stolen_sso(
        sim, "sarah.kim", zone, t, rng, "attacker-vpn-nl", ATTACKER_CLI, "rds_snapshot_share"
    )
    name = f"exfil-{rng.randrange(10**6):06d}"
    source = "rds.amazonaws.com"
    database = "northwind-orders"
    request = {"dBSnapshotIdentifier": name, "dBInstanceIdentifier": database}
    response = {
        "dBSnapshotIdentifier": name,
        "dBInstanceIdentifier": database,
        "status": "creating",
    }
    sim.call(t, caller, zone, "CreateDBSnapshot", request, response, source=source)
    for poll in range(2):
        sim.call(
            t + 60 + 60 * poll,
            caller,
            zone,
            "DescribeDBSnapshots",
            {"dBSnapshotIdentifier": name},
            None,
            source=source,
        )
    foreign = sim.org.foreign_accounts[0]
    grant: dict[str, Any] = {
        "dBSnapshotIdentifier": name,
        "attributeName": "restore",
        "valuesToAdd": [foreign],
    }
    granted: dict[str, Any] = {
        "dBSnapshotIdentifier": name,
        "dBSnapshotAttributes": [{"attributeName": "restore", "attributeValues": [foreign]}],
    }
    sim.call(t + 200, caller, zone, "ModifyDBSnapshotAttribute", grant, granted, source=source)


def instance_credentials_exfil(sim: Simulation, t: int, rng: random.Random) -> None:
    """Read an instance's role credentials with SSM and use them elsewhere (T1552.005).

    Stratus ``ec2-steal-instance-credentials``: a stolen administrator session from a US
    hosting provider sends an SSM ``SendCommand`` to a web instance (the command reads the
    metadata service), then the instance profile's session is used from the attacker's
    own address: ``GetCallerIdentity``, ``DescribeInstances``.
    """
    zone = zone_of(sim, "prod")
    label = "instance_credentials_exfil"
    caller = stolen_sso(sim, "tom.harris", zone, t, rng, "attacker-hosting-us", ATTACKER_GO, label)
    host = require(any_host(zone, t, rng), "a running production host", t)
    request = {
        "documentName": "AWS-RunShellScript",
        "instanceIds": [host.id],
        "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
    }
    command = {"command": {"commandId": resource_id("x", rng)[2:], "instanceIds": [host.id]}}
    sim.call(t, caller, zone, "SendCommand", request, command, source="ssm.amazonaws.com")
    role = sim.org.role(zone.account, "app-web")
    stolen = Caller(
        role.session(host.id, t - HOUR, rng, ec2=True),
        caller.source_ip,
        ATTACKER_GO,
        "instance-profile",
        role.key,
        label=(label, ATTACK),
    )
    sim.call(t + 30, stolen, zone, "GetCallerIdentity", None, None, source="sts.amazonaws.com")
    describe(sim, t + 32, stolen, zone, "DescribeInstances")


def _pushes(
    sim: Simulation, t: int, caller: Caller, zone: Zone, name: str, instances: list[str]
) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtAlK45MAEWZ7MUY2QEmi3M6W+peGL3VCrc0qH54xRu"
    for step, instance in enumerate(instances):
        request: dict[str, Any] = {
            "instanceId": instance,
            "instanceOSUser": "ec2-user",
            "sSHPublicKey": key,
        }
        if name == "SendSerialConsoleSSHPublicKey":
            request = {"instanceId": instance, "serialPort": 0, "sSHPublicKey": key}
        sim.call(
            t + 5 * step,
            caller,
            zone,
            name,
            request,
            {"success": True},
            source="ec2-instance-connect.amazonaws.com",
        )


def instance_connect_push(sim: Simulation, t: int, rng: random.Random) -> None:
    """Push an SSH key onto three instances through EC2 Instance Connect (T1021.004).

    Stratus ``ec2-instance-connect``: the legacy key from a VPN exit with the aws-cli,
    ``SendSSHPublicKey`` to three running instances within a quarter of a minute.
    """
    zone = zone_of(sim, "prod")
    user = sim.org.legacy_user
    caller = Caller(
        user.identity(),
        NETWORKS["attacker-vpn-nl"].host(rng),
        ATTACKER_CLI,
        "iam-user",
        user.arn,
        label=("instance_connect_push", ATTACK),
    )
    instances = _running(zone, t, 3)
    require(instances or None, "a running production instance", t)
    _pushes(sim, t, caller, zone, "SendSSHPublicKey", instances)


def serial_console_backdoor(sim: Simulation, t: int, rng: random.Random) -> None:
    """Enable the serial console and push SSH keys through it (T1578.005, T1021.004).

    Stratus ``ec2-serial-console-send-ssh-public-key``: a stolen administrator session
    from a Chinese hosting provider with the Go SDK: ``EnableSerialConsoleAccess``, then
    ``SendSerialConsoleSSHPublicKey`` to three instances.
    """
    zone = zone_of(sim, "prod")
    label = "serial_console_backdoor"
    caller = stolen_sso(
        sim, "michael.okafor", zone, t, rng, "attacker-hosting-cn", ATTACKER_GO, label
    )
    response = {"EnableSerialConsoleAccessResponse": {"serialConsoleAccessEnabled": True}}
    sim.call(
        t,
        caller,
        zone,
        "EnableSerialConsoleAccess",
        {"EnableSerialConsoleAccessRequest": ""},
        response,
    )
    instances = _running(zone, t, 3)
    require(instances or None, "a running production instance", t)
    _pushes(sim, t + 60, caller, zone, "SendSerialConsoleSSHPublicKey", instances)


def secrets_sweep(sim: Simulation, t: int, rng: random.Random) -> None:
    """Read the user data and Windows passwords of many instances, mostly denied (T1552, T1580).

    Stratus ``ec2-download-user-data`` and ``ec2-get-password-data`` together: a stolen
    developer session from a Russian hosting provider with the Go SDK asks every running
    instance for its user data (``DescribeInstanceAttribute``) and its password data
    (``GetPasswordData``); the session may read neither, and every call is denied.
    """
    zone = zone_of(sim, "prod")
    caller = stolen_sso(
        sim, "lena.hoffmann", zone, t, rng, "attacker-hosting-ru", ATTACKER_GO, "secrets_sweep"
    )
    instances = _running(zone, t, 15)
    require(instances or None, "a running production instance", t)
    when = t
    for instance in instances:
        request = {"instanceId": instance, "attribute": "userData"}
        sim.call(when, caller, zone, "DescribeInstanceAttribute", request, None, error=_DENIED)
        sim.call(
            when + 1, caller, zone, "GetPasswordData", {"instanceId": instance}, None, error=_DENIED
        )
        when += 2


_PUSH = "SendSerialConsoleSSHPublicKey"
STRATUS_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "rds_snapshot_share",
        ATTACK,
        ("T1537",),
        frozenset({"CreateDBSnapshot", "DescribeDBSnapshots", "ModifyDBSnapshotAttribute"}),
        "snapshot a database and let a foreign account restore it (Stratus rds-share-snapshot)",
        5,
        2.5,
        "Europe/Berlin",
        rds_snapshot_share,
    ),
    Scenario(
        "instance_credentials_exfil",
        ATTACK,
        ("T1552.005",),
        frozenset({"SendCommand", "GetCallerIdentity", "DescribeInstances"}),
        "an instance's role credentials read with SSM and used from the attacker's address "
        "(Stratus ec2-steal-instance-credentials)",
        2,
        4.0,
        "America/New_York",
        instance_credentials_exfil,
    ),
    Scenario(
        "instance_connect_push",
        ATTACK,
        ("T1021.004",),
        frozenset({"SendSSHPublicKey"}),
        "SSH keys pushed onto three instances (Stratus ec2-instance-connect)",
        3,
        23.0,
        "Europe/Berlin",
        instance_connect_push,
    ),
    Scenario(
        "serial_console_backdoor",
        ATTACK,
        ("T1578.005", "T1021.004"),
        frozenset({"EnableSerialConsoleAccess", _PUSH}),
        "serial console enabled and SSH keys pushed through it "
        "(Stratus ec2-serial-console-send-ssh-public-key)",
        4,
        3.0,
        "Asia/Shanghai",
        serial_console_backdoor,
    ),
    Scenario(
        "secrets_sweep",
        ATTACK,
        ("T1552", "T1580"),
        frozenset({"DescribeInstanceAttribute", "GetPasswordData"}),
        "user data and password data of every running instance asked for, all denied "
        "(Stratus ec2-download-user-data, ec2-get-password-data)",
        6,
        14.0,
        "Europe/Moscow",
        secrets_sweep,
    ),
)
"""The scenarios of this module, registered in ``SCENARIOS``."""
