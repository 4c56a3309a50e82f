"""The registry of hard negatives and the placers that find their default times.

Hard negatives are ordinary behaviour that looks unusual; a detector should leave
them unflagged. Those that belong to a calendar (a window, a weekly job) have a
placer that finds their time in the test period.
"""

from __future__ import annotations

import random
from typing import Final

from training.simulation import _calls as calls
from training.simulation._actors import window_starts
from training.simulation._engine import Simulation
from training.simulation._hard_negatives import (
    emergency_change_in_ticket,
    large_in_window_deploy,
    new_employee_first_days,
)
from training.simulation._hard_negatives_automation import (
    ami_share_to_org,
    backup_restore_test,
    deploy_new_run_session,
    new_irsa_controller,
    new_region_enabled,
    oncall_fix_outside_window,
    place_in_release,
    place_new_region,
    place_oncall,
)
from training.simulation._pipeline import Pipeline
from training.simulation._scenario_record import HARD_NEGATIVE, Scenario, weekday_time
from training.simulation._time import HOUR, MINUTE

__all__ = ["DESCRIBES", "HARD_NEGATIVES", "window_time"]

DESCRIBES: Final = frozenset(calls.READS) | {"DescribeAutoScalingGroups"}
_DESCRIBES: Final = DESCRIBES


def place_restore_test(sim: Simulation, rng: random.Random) -> int | None:
    """Wednesday 03:00 UTC of the test period, when the restore test runs every week."""
    return weekday_time(sim, 2, 3.0, "UTC")


def place_ami_build(sim: Simulation, rng: random.Random) -> int | None:
    """Monday 04:00 UTC of the test period, when the golden-AMI workflow is scheduled."""
    return weekday_time(sim, 0, 4.0, "UTC")


def window_time(sim: Simulation, rng: random.Random) -> int | None:
    """Return a time 30-90 minutes into the test period's first unfrozen window, or ``None``."""
    pipeline: Pipeline = sim.registry["pipeline"]
    for start in window_starts(sim.org):
        if (
            start >= sim.org.test_start
            and not pipeline.frozen(start)
            and start + 4 * HOUR <= sim.org.end
        ):
            return start + rng.randrange(30, 90) * MINUTE
    return None


HARD_NEGATIVES: Final = (
    Scenario(
        "emergency_change_in_ticket",
        HARD_NEGATIVE,
        (),
        frozenset(
            {
                "DescribeInstances",
                "CreateSnapshot",
                "StopInstances",
                "ModifyInstanceAttribute",
                "StartInstances",
            }
        ),
        "late-night production change inside an approved emergency ticket",
        2,
        22.5,
        "Europe/Berlin",
        emergency_change_in_ticket,
    ),
    Scenario(
        "new_employee_first_days",
        HARD_NEGATIVE,
        (),
        _DESCRIBES
        | {
            "GetCallerIdentity",
            "RunInstances",
            "TerminateInstances",
            "StopInstances",
            "StartInstances",
            "CreateTags",
            "CreateSnapshot",
        },
        "a new engineer's first three days",
        0,
        9.0,
        "Europe/Berlin",
        new_employee_first_days,
    ),
    Scenario(
        "large_in_window_deploy",
        HARD_NEGATIVE,
        (),
        _DESCRIBES
        | {
            "CreateLaunchTemplateVersion",
            "ModifyLaunchTemplate",
            "UpdateAutoScalingGroup",
            "StartInstanceRefresh",
            "AuthorizeSecurityGroupIngress",
            "RunInstances",
            "TerminateInstances",
            "CreateVolume",
            "AttachVolume",
            "DetachVolume",
            "DeleteVolume",
            "CreateTags",
        },
        "an in-window Terraform apply five times larger than usual",
        0,
        10.5,
        "Europe/Berlin",
        large_in_window_deploy,
        window_time,
    ),
    Scenario(
        "oncall_fix_outside_window",
        HARD_NEGATIVE,
        (),
        _DESCRIBES
        | {
            "GetCallerIdentity",
            "RebootInstances",
            "StopInstances",
            "StartInstances",
            "ModifyInstanceAttribute",
            "CreateSnapshot",
        },
        "the on-call administrator's small production fix at night, as in the baseline",
        5,
        3 + 20 / 60,
        "Europe/Berlin",
        oncall_fix_outside_window,
        place_oncall,
    ),
    Scenario(
        "new_irsa_controller",
        HARD_NEGATIVE,
        (),
        frozenset(
            {
                "AssumeRoleWithWebIdentity",
                "DescribeAvailabilityZones",
                "DescribeVolumes",
                "CreateVolume",
                "AttachVolume",
                "DetachVolume",
                "DeleteVolume",
            }
        ),
        "the EBS CSI driver installed in another cluster: a new IRSA role's routine",
        1,
        14.0,
        "Europe/Berlin",
        new_irsa_controller,
    ),
    Scenario(
        "backup_restore_test",
        HARD_NEGATIVE,
        (),
        frozenset(
            {
                "DescribeSnapshots",
                "RunInstances",
                "DescribeInstances",
                "CreateVolume",
                "DescribeVolumes",
                "AttachVolume",
                "DetachVolume",
                "DeleteVolume",
                "TerminateInstances",
            }
        ),
        "the weekly backup restore test: snapshot -> volume -> attach by automation",
        2,
        3.0,
        "UTC",
        backup_restore_test,
        place_restore_test,
    ),
    Scenario(
        "ami_share_to_org",
        HARD_NEGATIVE,
        (),
        frozenset(
            {
                "AssumeRoleWithWebIdentity",
                "DescribeImages",
                "CreateKeyPair",
                "CreateSecurityGroup",
                "AuthorizeSecurityGroupIngress",
                "RunInstances",
                "DescribeInstances",
                "StopInstances",
                "CreateImage",
                "CopyImage",
                "ModifyImageAttribute",
                "CreateTags",
                "TerminateInstances",
                "DeleteKeyPair",
                "DeleteSecurityGroup",
            }
        ),
        "the weekly golden-AMI build, copied to every region, shared with own accounts",
        0,
        4.0,
        "UTC",
        ami_share_to_org,
        place_ami_build,
    ),
    Scenario(
        "deploy_new_run_session",
        HARD_NEGATIVE,
        (),
        frozenset(
            {
                "AssumeRoleWithWebIdentity",
                "GetCallerIdentity",
                "DescribeLaunchTemplates",
                "DescribeLaunchTemplateVersions",
                "CreateLaunchTemplateVersion",
                "ModifyLaunchTemplate",
                "UpdateAutoScalingGroup",
                "StartInstanceRefresh",
                "DescribeInstanceRefreshes",
            }
        ),
        "a production deploy in its window under a new GitHub run id (a new session)",
        3,
        14.5,
        "Europe/Berlin",
        deploy_new_run_session,
        place_in_release,
    ),
    Scenario(
        "new_region_enabled",
        HARD_NEGATIVE,
        (),
        _DESCRIBES
        | {
            "CreateSecurityGroup",
            "AuthorizeSecurityGroupIngress",
            "RunInstances",
            "CreateTags",
            "CreateVolume",
            "AttachVolume",
        },
        "the platform team enables a new region under a ticket",
        2,
        15.0,
        "Europe/Berlin",
        new_region_enabled,
        place_new_region,
    ),
)
"""The hard negatives, in the order of the documentation."""
