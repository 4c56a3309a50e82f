"""What the rules and features ask of one event, declared once: the *rule inputs*.

"An attempted compute change", "an EBS direct read", "a step of the snapshot chain":
each is a :class:`RuleInput`, a named predicate over the columns of one canonical event
written as a small expression (:class:`Col` compared with values, joined with ``&``,
``|`` and ``~``). Every engine evaluates the same declaration its own way:

* :meth:`RuleInput.mask` over a frame (NumPy: the rules, the batch summary, the history);
* :meth:`RuleInput.test` on one row as a dict (the service classifies each event once, when
  it stores it, and keeps the bits of :func:`row_flags` beside it);
* :meth:`RuleInput.spark` as a Spark column expression (``pyspark.sql.functions`` is passed
  in, so this module never imports Spark).

``tests/features/test_predicates.py`` holds each evaluation to the others on every real
recording and on random rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from features._expressions import BoolArray, Col, Columns, Expr
from features._parameters import LAUNCHES

__all__ = [
    "ACCESS_REMOVED",
    "ADMIN_INGRESS",
    "ATTACH",
    "ATTEMPTED_CHANGE",
    "BOOT_CODE",
    "CHAIN_SOURCES",
    "CHAIN_STEP",
    "CHAIN_STEP_DONE",
    "CHANGE",
    "COMPUTE_INPUTS",
    "DELETION",
    "DISK_ATTACH",
    "DRY_RUN",
    "EBS_CALL",
    "EBS_DIRECT_READ",
    "EBS_DIRECT_READS",
    "EVERY",
    "EXPORT_TASK",
    "EXPORT_TASKS",
    "INSTANCE_CALL",
    "INSTANCE_LAUNCH",
    "INSTANCE_SESSION",
    "KEY_PAIR",
    "KEY_PAIR_CREATES",
    "LAUNCH_NAMES",
    "OWN_CALL",
    "PASSWORD_READ",
    "PERSON_CALL",
    "PERSON_TYPES",
    "REMOVED_PERMISSIONS",
    "RESTART_CHANGES",
    "RESTART_STEP",
    "RULE_INPUTS",
    "RUN_CODE",
    "SERIAL_CONSOLE",
    "SHARE",
    "SHARED_TYPES",
    "SHARE_GRANT",
    "SNAPSHOT_MADE",
    "SSH_KEY_PUSH",
    "SSH_KEY_PUSHES",
    "UNUSUAL_LAUNCH",
    "UNUSUAL_TYPES",
    "USER_DATA",
    "USER_DATA_CHANGE",
    "USER_DATA_READ",
    "VOLUME_MADE",
    "Col",
    "Expr",
    "RuleInput",
    "flags_of",
    "row_flags",
]

DRY_RUN: Final = "Client.DryRunOperation"
"""The error code of a dry run: the call was only checked, nothing changed."""
EBS_SOURCE: Final = "ebs.amazonaws.com"
EC2_SOURCE: Final = "ec2.amazonaws.com"
EBS_DIRECT_READS: Final = frozenset({"GetSnapshotBlock", "ListSnapshotBlocks", "ListChangedBlocks"})
"""EBS direct API calls that read a snapshot's blocks (``ebs.amazonaws.com``)."""
CHAIN_SOURCES: Final = frozenset({EC2_SOURCE, "Microsoft.Compute", "compute.googleapis.com"})
"""The compute services whose calls the snapshot chain follows: EC2, Azure Compute, Compute
Engine (not the EBS direct APIs, whose ``StartSnapshot`` writes blocks, nor RDS)."""
BOOT_CODE: Final = frozenset({"userData", "customData", "startup-script"})
"""``attribute`` values of code an instance runs when it boots: AWS user data, Azure custom
data and user data, Google Cloud startup scripts (ADR 0048)."""
RUN_CODE: Final = frozenset({*BOOT_CODE, "runCommand", "customScript"})
"""``attribute`` values of code run on an instance, at boot or now: :data:`BOOT_CODE`, Azure
run commands and Custom Script extensions."""
RESTART_CHANGES: Final = frozenset({*BOOT_CODE, "instanceType"})
"""``attribute`` values of a change that takes effect when a stopped instance starts again."""
SHARED_TYPES: Final = ("snapshot", "image", "db_snapshot", "volume")
"""Resource types whose sharing the sharing rules judge (EBS, AMI, RDS and Aurora; disks,
which AWS never shares but Azure hands out by download link and Google Cloud by IAM policy)."""
USER_DATA: Final = "userData"
"""The ``attribute`` of a call that sets or reads an instance's user data."""
EXPORT_TASKS: Final = frozenset(
    {"CreateInstanceExportTask", "ExportImage", "CreateStoreImageTask", "StartExportTask"}
)
"""Calls that copy an instance, an image or an RDS snapshot out to S3."""
KEY_PAIR_CREATES: Final = frozenset({"CreateKeyPair", "ImportKeyPair"})
"""Calls that make an EC2 key pair (a way into instances launched with it)."""
SSH_KEY_PUSHES: Final = frozenset(
    {
        "SendSSHPublicKey",
        "SendSerialConsoleSSHPublicKey",
        "Microsoft.SerialConsole/serialPorts/connect/action",
    }
)
"""Ways into one instance's shell: EC2 Instance Connect calls that push an SSH key onto an
instance for 60 seconds, and Azure serial console connections (ADR 0056)."""
LAUNCH_NAMES: Final = LAUNCHES
UNUSUAL_TYPES: Final = (
    r"^instanceType=(?:.*,)?(?:"
    r"(?:p|g|gr|inf|trn|dl|f|vt)[0-9][a-z0-9-]*\.[a-z0-9-]+"  # accelerated: GPU, ML, FPGA, video
    r"|[a-z0-9-]+\.(?:(?:2[4-9]|[3-9][0-9]|[0-9]{3,})xlarge|metal[a-z0-9-]*)"  # 96+ vCPU, metal
    r"|u-[a-z0-9-]+\.[a-z0-9-]+"  # high memory
    r")(?:,|$)"
)
"""Pattern of an ``attribute`` naming an accelerated or very large instance type."""
INSTANCE_SESSION: Final = r"^i-[0-9a-fA-F]{8,17}$"
"""A role session named after an instance: the credentials of an instance profile."""
PERSON_TYPES: Final = frozenset(
    {"IAMUser", "Root", "FederatedUser", "SAMLUser", "WebIdentityUser", "IdentityCenterUser"}
)
"""Identity types of people and long-term access keys."""
REMOVED_PERMISSIONS: Final = frozenset({"createVolumePermission=remove", "launchPermission=remove"})
"""``attribute`` of a snapshot or image permission call that only removes accounts."""


@dataclass(frozen=True, slots=True)
class RuleInput:
    """A named predicate over one canonical event, and its bit in the stored row classes.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"attempted_change"``.
    bit : int
        Its bit in :func:`row_flags` (stored with each event by the service: changing a
        bit changes the state schema).
    doc : str
        What it means, in one sentence.
    expr : Expr
        The predicate.
    """

    name: str
    bit: int
    doc: str
    expr: Expr

    def mask(self, columns: Columns) -> BoolArray:
        """Rows of a frame that hold it."""
        if not len(columns[next(iter(sorted(self.expr.columns())))]):
            return np.zeros(0, dtype=bool)
        return self.expr.mask(columns)

    def test(self, row: Mapping[str, Any]) -> bool:
        """Whether one row (a dict of canonical values) holds it."""
        return self.expr.test(row)

    def spark(self, functions: Any) -> Any:
        """Return the predicate as a Spark column (``functions``: ``pyspark.sql.functions``)."""
        return self.expr.spark(functions)


def _declare(name: str, bit: int, doc: str, expr: Expr) -> RuleInput:
    return RuleInput(name, 1 << bit, doc, expr)


_NOT_DRY: Final = Col("error_code") != DRY_RUN
_OWN: Final = ~Col("by_service").true

EVERY: Final = _declare("every", 0, "Every event.", Col("event_name") != "\x00")
CHANGE: Final = _declare(
    "change",
    1,
    "A compute change (``is_compute_change``), whatever the outcome, dry runs and AWS "
    "services included.",
    Col("is_compute_change").true,
)
SHARE: Final = _declare("share", 2, "The action is ``share``.", Col("action") == "share")
EBS_CALL: Final = _declare(
    "ebs_call", 3, "A call to the EBS direct APIs' service.", Col("event_source") == EBS_SOURCE
)
_TYPE: Final = Col("resource_type")
_ACTION: Final = Col("action")
SNAPSHOT_MADE: Final[Expr] = (_TYPE == "snapshot") & _ACTION.isin(("create", "copy"))
"""A snapshot made or copied: its snapshot ids start a chain (AWS ``CreateSnapshot(s)``,
``CopySnapshot``; Azure ``snapshots/write`` *Created*; Google ``disks.createSnapshot``,
``snapshots.insert``)."""
VOLUME_MADE: Final[Expr] = _TYPE.isin(("volume", "instance")) & (_ACTION == "create")
"""A volume made, from the snapshots the call names (``CreateVolume``, Azure ``disks/write``
with ``creationData.sourceResourceId``, Google ``disks.insert`` with ``sourceSnapshot``, or
``instances.insert`` whose boot disk is made from a snapshot)."""
INSTANCE_LAUNCH: Final[Expr] = (_TYPE == "instance") & (_ACTION == "create")
"""An instance launched: ``RunInstances``, Azure ``virtualMachines/write`` *Created*, Google
``instances.insert``."""
DISK_ATTACH: Final[Expr] = ((_TYPE == "volume") & (_ACTION == "attach")) | (
    (_TYPE == "instance") & _ACTION.isin(("create", "modify"))
)
"""A call that may attach the volumes it names to the instances it names: ``AttachVolume``,
Azure ``attachDetachDataDisks/action``, Google ``instances.attachDisk``, and an instance made
or changed with its disks named (Azure ``virtualMachines/write``, Google ``instances.insert``)."""
CHAIN_STEP: Final = _declare(
    "chain_step",
    4,
    "A call that may be a step of the snapshot -> volume -> attach chain in any cloud, "
    "whatever the outcome or source.",
    SNAPSHOT_MADE | VOLUME_MADE | DISK_ATTACH,
)
_DONE: Final[Expr] = Col("error_code").missing() & Col("is_compute_change").true
CHAIN_STEP_DONE: Final[Expr] = CHAIN_STEP.expr & _DONE & Col("event_source").isin(CHAIN_SOURCES)
"""A chain step that succeeded on a compute service, counted once (not Azure's ``Started``
record nor Google's ``operation.last`` completion): the rows the chain finder reads."""
RESTART_STEP: Final[Expr] = (
    (_TYPE == "instance")
    & _DONE
    & (
        _ACTION.isin(("stop", "start"))
        | ((_ACTION == "modify") & Col("attribute").isin(RESTART_CHANGES))
    )
)
"""A successful stop, start, or boot-time change (:data:`RESTART_CHANGES`) of an instance."""
OWN_CALL: Final = _declare(
    "own_call", 5, "Not made by an AWS service on the identity's behalf.", _OWN
)
ATTEMPTED_CHANGE: Final = _declare(
    "attempted_change",
    6,
    "A compute change the identity itself attempted: failed calls count, dry runs and calls "
    "AWS services make on their own (Auto Scaling launching instances) do not.",
    Col("is_compute_change").true & _NOT_DRY & _OWN,
)
DELETION: Final = _declare(
    "deletion",
    7,
    "An attempted compute change whose action is ``delete``.",
    ATTEMPTED_CHANGE.expr & (Col("action") == "delete"),
)
SHARE_GRANT: Final = _declare(
    "share_grant",
    8,
    "A snapshot, image or disk permission grant (or download link) that was not a dry run, "
    "counted once (not Azure's ``Started`` record of it).",
    (Col("action") == "share")
    & Col("resource_type").isin(SHARED_TYPES)
    & _NOT_DRY
    & Col("is_compute_change").true,
)
EBS_DIRECT_READ: Final = _declare(
    "ebs_direct_read",
    9,
    "A read of a snapshot's blocks through the EBS direct APIs.",
    (Col("event_source") == EBS_SOURCE) & Col("event_name").isin(EBS_DIRECT_READS),
)
ATTACH: Final = _declare(
    "attach",
    10,
    "A successful call that may attach a volume (the last step of the snapshot chain).",
    CHAIN_STEP_DONE & DISK_ATTACH,
)

_ATTEMPTED: Final = ATTEMPTED_CHANGE.expr
_OWN_TRY: Final = _OWN & _NOT_DRY

USER_DATA_CHANGE: Final = _declare(
    "user_data_change",
    11,
    "An attempted change of the code an instance runs (:data:`RUN_CODE`: user data, custom "
    "data, a startup script, a run command, a Custom Script extension), or a launch template "
    "(version) carrying user data.",
    _ATTEMPTED & Col("attribute").isin(RUN_CODE),
)
USER_DATA_READ: Final = _declare(
    "user_data_read",
    12,
    "A read of an instance's boot code, failed ones too: AWS ``DescribeInstanceAttribute "
    "userData``, Google ``instances.get`` (the instance with its startup scripts; ADR 0056).",
    (Col("resource_type") == "instance")
    & (Col("action") == "read")
    & Col("attribute").isin(BOOT_CODE)
    & _OWN_TRY,
)
PASSWORD_READ: Final = _declare(
    "password_read",
    13,
    "A ``GetPasswordData`` call (a Windows instance's administrator password), failed ones too.",
    (Col("event_name") == "GetPasswordData") & (Col("event_source") == EC2_SOURCE) & _OWN_TRY,
)
UNUSUAL_LAUNCH: Final = _declare(
    "unusual_launch",
    14,
    "An attempted launch of accelerated (GPU, ML, FPGA) or very large instances.",
    _ATTEMPTED & Col("event_name").isin(LAUNCH_NAMES) & Col("attribute").matches(UNUSUAL_TYPES),
)
ADMIN_INGRESS: Final = _declare(
    "admin_ingress",
    15,
    "An attempted security-group change opening a remote-administration port to the internet.",
    _ATTEMPTED & Col("attribute").matches(r"^worldAdminIngress="),
)
SSH_KEY_PUSH: Final = _declare(
    "ssh_key_push",
    16,
    "An SSH key pushed onto an instance through EC2 Instance Connect or its serial console, "
    "or an Azure serial console connection, counted once (not Azure's ``Started`` record).",
    Col("event_name").isin(SSH_KEY_PUSHES) & Col("is_compute_change").true & _OWN_TRY,
)
SERIAL_CONSOLE: Final = _declare(
    "serial_console",
    17,
    "Serial console access enabled for the account and region.",
    (Col("event_name") == "EnableSerialConsoleAccess") & _OWN_TRY,
)
INSTANCE_CALL: Final = _declare(
    "instance_call",
    18,
    "A call with an instance profile's credentials (a role session named after an instance).",
    (Col("identity_type") == "AssumedRole") & Col("session_name").matches(INSTANCE_SESSION) & _OWN,
)
PERSON_CALL: Final = _declare(
    "person_call",
    19,
    "A call by a person or with a long-term access key: IAM users, root, federation, "
    "Identity Center sessions, the console.",
    _OWN
    & (
        Col("identity_type").isin(PERSON_TYPES)
        | (Col("client_family") == "console")
        | Col("principal_arn").matches(r":assumed-role/AWSReservedSSO")
    ),
)
EXPORT_TASK: Final = _declare(
    "export_task",
    20,
    "An attempted export of an instance, an image or an RDS snapshot to S3.",
    _ATTEMPTED & Col("event_name").isin(EXPORT_TASKS),
)
KEY_PAIR: Final = _declare(
    "key_pair",
    21,
    "An attempted creation or import of an EC2 key pair.",
    _ATTEMPTED & Col("event_name").isin(KEY_PAIR_CREATES),
)
ACCESS_REMOVED: Final = _declare(
    "access_removed",
    22,
    "An attempted removal of accounts from a snapshot's or image's permissions.",
    _ATTEMPTED & Col("attribute").isin(REMOVED_PERMISSIONS),
)

RULE_INPUTS: Final[tuple[RuleInput, ...]] = (
    EVERY,
    CHANGE,
    SHARE,
    EBS_CALL,
    CHAIN_STEP,
    OWN_CALL,
    ATTEMPTED_CHANGE,
    DELETION,
    SHARE_GRANT,
    EBS_DIRECT_READ,
    ATTACH,
    USER_DATA_CHANGE,
    USER_DATA_READ,
    PASSWORD_READ,
    UNUSUAL_LAUNCH,
    ADMIN_INGRESS,
    SSH_KEY_PUSH,
    SERIAL_CONSOLE,
    INSTANCE_CALL,
    PERSON_CALL,
    EXPORT_TASK,
    KEY_PAIR,
    ACCESS_REMOVED,
)
"""Every declared rule input, in bit order (bits are unique)."""

COMPUTE_INPUTS: Final[tuple[RuleInput, ...]] = tuple(
    one for one in RULE_INPUTS if one.bit >= USER_DATA_CHANGE.bit and one is not PERSON_CALL
)
"""The inputs the compute rules fire on: counted per batch (``BatchSummary.counts``) and
remembered per identity (``IdentityHistory.actors``: who ever did each)."""


def row_flags(row: Mapping[str, Any]) -> int:
    """Return the bits of every rule input one canonical row (a dict) holds."""
    flags = 0
    for one in RULE_INPUTS:
        if one.test(row):
            flags |= one.bit
    return flags


def flags_of(columns: Columns) -> npt.NDArray[np.int64]:
    """:func:`row_flags` of every row of a frame, vectorised."""
    count = len(columns["event_name"])
    flags = np.zeros(count, dtype=np.int64)
    for one in RULE_INPUTS:
        flags[one.mask(columns)] |= one.bit
    return flags
