"""The scenario registry: every attack and hard negative by name, and when to inject them.

Each scenario is a function ``run(sim, t, rng)`` that emits its events from ``t`` on,
through callers that carry the scenario's label, so every event it leaves is in
``labels.parquet`` with ``kind`` ``attack`` or ``hard_negative``. :data:`SCENARIOS`
holds them with their ATT&CK techniques, the event names each leaves, and a default
injection time (a day of the test period and a local hour).

For attacks the event names are exact: the scenario leaves those and no others. For
hard negatives, which are ordinary behaviour by construction, they are the set the
scenario may leave.

The scenarios themselves live by what they do: :mod:`._attacks_exfiltration`,
:mod:`._attacks_credentials`, :mod:`._attacks_compute`, :mod:`._attacks_impact` and
:mod:`._hard_negatives` and :mod:`._hard_negatives_automation` (registered in
:mod:`._scenarios_hard`); what they share is in :mod:`._scenario_helpers`.
"""

from __future__ import annotations

from typing import Final

from training.simulation._attacks_compute import snapshot_volume_attach, user_data_change
from training.simulation._attacks_credentials import (
    automation_off_window,
    dormant_account_burst,
    stolen_credentials_new_geo,
)
from training.simulation._attacks_exfiltration import (
    ebs_direct_read,
    public_ami_share,
    snapshot_share_exfil,
)
from training.simulation._attacks_impact import gpu_mining, mass_deletion
from training.simulation._attacks_stratus import STRATUS_SCENARIOS
from training.simulation._scenario_record import ATTACK, HARD_NEGATIVE, Scenario
from training.simulation._scenarios_hard import HARD_NEGATIVES

__all__ = ["ATTACK", "HARD_NEGATIVE", "SCENARIOS", "Scenario"]

SCENARIOS: Final[dict[str, Scenario]] = {
    s.name: s
    for s in (
        Scenario(
            "snapshot_share_exfil",
            ATTACK,
            ("T1537",),
            frozenset(
                {
                    "DescribeVolumes",
                    "CreateSnapshot",
                    "DescribeSnapshots",
                    "ModifySnapshotAttribute",
                }
            ),
            "snapshot a production volume and share it with a foreign account",
            1,
            3.2,
            "Europe/Berlin",
            snapshot_share_exfil,
        ),
        Scenario(
            "snapshot_volume_attach",
            ATTACK,
            ("T1578.001", "T1578.002", "AN0861"),
            frozenset(
                {
                    "CreateSnapshot",
                    "DescribeSnapshots",
                    "CreateVolume",
                    "RunInstances",
                    "DescribeInstances",
                    "AttachVolume",
                }
            ),
            "snapshot -> volume from snapshot -> new instance -> attach, within minutes",
            2,
            19.75,
            "UTC",
            snapshot_volume_attach,
        ),
        Scenario(
            "dormant_account_burst",
            ATTACK,
            ("T1078.004",),
            frozenset(
                {
                    "DescribeInstances",
                    "DescribeSecurityGroups",
                    "DescribeKeyPairs",
                    "ImportKeyPair",
                    "AuthorizeSecurityGroupIngress",
                    "RunInstances",
                    "CreateTags",
                    "StopInstances",
                }
            ),
            "a departed administrator's SSO access reactivated for a burst of changes",
            3,
            11.0,
            "Europe/Berlin",
            dormant_account_burst,
        ),
        Scenario(
            "automation_off_window",
            ATTACK,
            ("T1078.004", "T1578.002"),
            frozenset(
                {
                    "DescribeInstances",
                    "DescribeSecurityGroups",
                    "AuthorizeSecurityGroupIngress",
                    "RunInstances",
                    "CreateTags",
                }
            ),
            "deploy-role credentials used outside their windows from a new network and client",
            4,
            2.66,
            "UTC",
            automation_off_window,
        ),
        Scenario(
            "stolen_credentials_new_geo",
            ATTACK,
            ("T1078.004", "T1580"),
            frozenset(
                {
                    "GetCallerIdentity",
                    "DescribeRegions",
                    "DescribeInstances",
                    "DescribeInstanceAttribute",
                    "DescribeSnapshots",
                    "DescribeSecurityGroups",
                    "ImportKeyPair",
                }
            ),
            "an administrator's session from a new country, ASN and user agent",
            1,
            16.3,
            "Europe/Berlin",
            stolen_credentials_new_geo,
        ),
        Scenario(
            "mass_deletion",
            ATTACK,
            ("T1485", "T1490", "T1578.003"),
            frozenset(
                {"DescribeSnapshots", "DeleteSnapshot", "DescribeInstances", "TerminateInstances"}
            ),
            "mass deletion of snapshots and instances",
            6,
            3.0,
            "America/New_York",
            mass_deletion,
        ),
        Scenario(
            "public_ami_share",
            ATTACK,
            ("T1537",),
            frozenset({"CreateImage", "DescribeImages", "ModifyImageAttribute"}),
            "image a production host and make the image public",
            4,
            20.0,
            "America/New_York",
            public_ami_share,
        ),
        Scenario(
            "user_data_change",
            ATTACK,
            ("T1578.005", "T1059.009"),
            frozenset(
                {"DescribeInstances", "StopInstances", "ModifyInstanceAttribute", "StartInstances"}
            ),
            "stop -> user-data change -> start",
            3,
            1.5,
            "Europe/Berlin",
            user_data_change,
        ),
        Scenario(
            "gpu_mining",
            ATTACK,
            ("T1496.001",),
            frozenset(
                {
                    "DescribeRegions",
                    "DescribeInstanceTypeOfferings",
                    "DescribeImages",
                    "RunInstances",
                }
            ),
            "GPU instance launches for mining in an unused region",
            5,
            23.0,
            "UTC",
            gpu_mining,
        ),
        Scenario(
            "ebs_direct_read",
            ATTACK,
            ("T1530", "T1552.005"),
            frozenset({"DescribeSnapshots", "ListSnapshotBlocks", "GetSnapshotBlock"}),
            "EBS direct-API reads of a snapshot with stolen instance credentials",
            5,
            4.0,
            "UTC",
            ebs_direct_read,
        ),
        *STRATUS_SCENARIOS,
        *HARD_NEGATIVES,
    )
}
"""Every scenario by name: fifteen attacks (five of them Stratus techniques), then nine hard
negatives."""
