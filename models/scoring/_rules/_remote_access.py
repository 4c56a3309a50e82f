"""Remote-access rules: ways into instances opened by an identity that never opened them.

SSH keys pushed through EC2 Instance Connect or the serial console (Stratus
``ec2-instance-connect``, ``ec2-serial-console-send-ssh-public-key``), serial console
access enabled, a remote-administration port opened to the whole internet (Stratus
``ec2-security-group-open-port-22-ingress``), and key pairs made or imported. Each is
reported at its base severity without history, raised for an identity that never did
it, and lowered or silenced for one that does it routinely.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from features import ADMIN_INGRESS, KEY_PAIR, SERIAL_CONSOLE, SSH_KEY_PUSH
from models.scoring._rules._base import Evidence, Severity, describe_names, ids_named, listed, rule
from models.scoring._rules._context import RuleContext
from models.scoring._rules._novelty import graded_sessions
from models.scoring._rules._reads import Reads
from models.scoring._rules._summary import holds

__all__ = [
    "admin_port_open_to_world",
    "key_pair_created",
    "serial_console_enabled",
    "ssh_key_pushed",
]


def _regions(run: pd.DataFrame) -> str:
    regions = sorted({str(r) for r in run["region"] if isinstance(r, str)})
    return f" in {', '.join(regions)}" if regions else ""


def _pushed(run: pd.DataFrame) -> str:
    instances = ids_named(run, "i-")
    onto = f" onto instance {listed(instances)}" if instances else ""
    return f"SSH key pushed{onto} ({describe_names(run)})"


def _opened(run: pd.DataFrame) -> str:
    ports = sorted(
        {
            port
            for value in run["attribute"]
            if isinstance(value, str)
            for port in value.split("=", 1)[-1].split(",")
        }
    )
    groups = ids_named(run, "sg-")
    which = f"security group {listed(groups)}" if groups else "a security group"
    return f"{which} opened {', '.join(ports)} to the whole internet"


@rule(
    id="RemoteAccess.SSHKeyPushed",
    title="SSH key pushed onto an instance by an identity that never did",
    severity=Severity.MEDIUM,
    technique="T1021.004",
    runbook=(
        "Ask the identity's owner whether they connected to the instance; if not, isolate "
        "the instance and review what ran on it in the minute after the push."
    ),
    applies=holds(SSH_KEY_PUSH),
    reads=Reads(SSH_KEY_PUSH.bit),
)
def ssh_key_pushed(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on ``SendSSHPublicKey`` and ``SendSerialConsoleSSHPublicKey``.

    Medium without history, high for an identity that never pushed keys, silent for
    one that connects this way routinely.
    """
    yield from graded_sessions(
        events,
        context,
        SSH_KEY_PUSH,
        base=Severity.MEDIUM,
        routine=None,
        doing="pushed SSH keys",
        describe=_pushed,
    )


@rule(
    id="RemoteAccess.SerialConsoleEnabled",
    title="Serial console access enabled",
    severity=Severity.MEDIUM,
    technique="T1578.005",
    runbook=(
        "Confirm a break-glass need for the serial console; if there is none, disable it "
        "(DisableSerialConsoleAccess) and look for SendSerialConsoleSSHPublicKey calls."
    ),
    applies=holds(SERIAL_CONSOLE),
    reads=Reads(SERIAL_CONSOLE.bit),
)
def serial_console_enabled(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on ``EnableSerialConsoleAccess``: medium, high if new for the identity, else low."""
    yield from graded_sessions(
        events,
        context,
        SERIAL_CONSOLE,
        base=Severity.MEDIUM,
        routine=Severity.LOW,
        doing="enabled the serial console",
        describe=lambda run: f"serial console access enabled{_regions(run)}",
    )


@rule(
    id="RemoteAccess.AdminPortOpenToWorld",
    title="Remote-administration port opened to the whole internet",
    severity=Severity.MEDIUM,
    technique="T1562.007",
    runbook=(
        "Find the instances behind the security group and remove the rule (or narrow it to "
        "known networks); check the instances' logins since the change."
    ),
    applies=holds(ADMIN_INGRESS),
    reads=Reads(ADMIN_INGRESS.bit),
)
def admin_port_open_to_world(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on ingress rules opening SSH, Telnet, RDP, VNC or WinRM to ``0.0.0.0/0`` or ``::/0``.

    Medium, high when new for the identity, low when it did so before.
    """
    yield from graded_sessions(
        events,
        context,
        ADMIN_INGRESS,
        base=Severity.MEDIUM,
        routine=Severity.LOW,
        doing="opened admin ports to the internet",
        describe=_opened,
    )


@rule(
    id="RemoteAccess.KeyPairCreated",
    title="EC2 key pair made or imported by an identity that never did",
    severity=Severity.LOW,
    technique="T1098",
    runbook=(
        "Check which instances were launched with the key pair and whether its owner "
        "holds the private key legitimately; if not, delete the key pair."
    ),
    applies=holds(KEY_PAIR),
    reads=Reads(KEY_PAIR.bit),
)
def key_pair_created(events: pd.DataFrame, context: RuleContext) -> Iterator[Evidence]:
    """Fire on ``CreateKeyPair`` / ``ImportKeyPair``: low, medium if new, silent if routine."""
    yield from graded_sessions(
        events,
        context,
        KEY_PAIR,
        base=Severity.LOW,
        routine=None,
        doing="made key pairs",
        describe=lambda run: f"key pair made ({describe_names(run)}){_regions(run)}",
    )
