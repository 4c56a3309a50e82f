"""The organisation's change policy: ``change_windows.yaml`` and ``automation.yaml``.

Both are change-policy files in the format of ``docs/change-windows.md`` (version 1,
read by ``serving.load_policy``): the first holds the organisation, recurring
``windows``, one-off ``tickets`` and ``freezes``; the second the automation allow-list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from training.simulation._actors import (
    DEPLOY_DAYS,
    DEPLOY_HOUR,
    DEPLOY_HOURS,
    DEPLOY_TZ,
    MONITOR_UA,
)
from training.simulation._geo import NETWORKS
from training.simulation._org import Organisation
from training.simulation._time import DAY, to_date

__all__ = ["automation_allow_list", "change_windows", "plan_freezes", "write_yaml"]

WRITE_ACTIONS = ["create", "delete", "modify", "start", "stop", "attach", "detach", "share", "copy"]
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _time(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def plan_freezes(org: Organisation) -> list[dict[str, Any]]:
    """Return the freezes: a three-day close in the baseline, and year end if covered."""
    baseline_days = (org.test_start - org.start) // DAY
    scope = {
        "accounts": [org.account("prod").id],
        "identities": [
            "arn:aws:iam::*:role/deploy-terraform",
            "arn:aws:iam::*:role/AWSReservedSSO_*",
        ],
    }
    freezes: list[dict[str, Any]] = []
    if baseline_days >= 5:
        first = org.start + int(baseline_days * 0.55) * DAY
        freezes.append(
            {
                "name": "quarter-close-freeze",
                "start_epoch": first,
                "end_epoch": first + 3 * DAY,
                "reason": "financial quarter close: no production changes",
                "scope": scope,
            }
        )
    for year in range(to_date(org.start).year - 1, to_date(org.end).year + 1):
        start = int(datetime(year, 12, 20, tzinfo=UTC).timestamp())
        end = int(datetime(year + 1, 1, 3, tzinfo=UTC).timestamp())
        if start < org.end and end > org.start:
            freezes.append(
                {
                    "name": f"year-end-freeze-{year}",
                    "start_epoch": start,
                    "end_epoch": end,
                    "reason": "year-end freeze",
                    "scope": scope,
                }
            )
    return freezes


def change_windows(
    org: Organisation, tickets: list[dict[str, Any]], freezes: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return the ``change_windows.yaml`` document of the organisation."""
    days = ",".join(_BYDAY[d] for d in DEPLOY_DAYS)
    accounts = [a.id for a in org.accounts]
    backed_up = [a.id for a in org.accounts if a.role in ("prod", "staging", "shared", "analytics")]
    others = [a.id for a in org.accounts if a.role != "prod"]
    non_production: list[dict[str, Any]] = []
    if others:
        non_production.append(
            {
                "name": "non-production",
                "rrule": "FREQ=DAILY;BYHOUR=0;BYMINUTE=0;BYSECOND=0",
                "duration": "P1D",
                "timezone": "UTC",
                "description": "changes outside production need no approval",
                "scope": {"accounts": others},
            }
        )
    return {
        "version": 1,
        "timezone": DEPLOY_TZ,
        "organization": {"accounts": accounts},
        "windows": [
            {
                "name": "weekly-deploy",
                "rrule": f"FREQ=WEEKLY;BYDAY={days};BYHOUR={DEPLOY_HOUR};BYMINUTE=0;BYSECOND=0",
                "duration": f"PT{DEPLOY_HOURS}H",
                "timezone": DEPLOY_TZ,
                "description": "Terraform applies, Tuesday and Thursday mornings",
                "scope": {
                    "accounts": accounts,
                    "identities": ["arn:aws:iam::*:role/deploy-terraform"],
                    "actions": WRITE_ACTIONS,
                },
            },
            {
                "name": "nightly-backup",
                "cron": "0 1 * * *",
                "duration": "PT3H",
                "timezone": "UTC",
                "description": "AWS Backup plan",
                "scope": {
                    "accounts": backed_up,
                    "identities": ["arn:aws:iam::*:role/AWSBackupDefaultServiceRole"],
                    "resources": ["snap-*", "vol-*"],
                    "actions": ["create", "delete"],
                },
            },
            {
                "name": "fleet-automation",
                "rrule": "FREQ=DAILY;BYHOUR=0;BYMINUTE=0;BYSECOND=0",
                "duration": "P1D",
                "timezone": "UTC",
                "description": "Auto Scaling and Karpenter change capacity at any time",
                "scope": {
                    "identities": [
                        "arn:aws:iam::*:role/AWSServiceRoleForAutoScaling",
                        "arn:aws:iam::*:role/KarpenterControllerRole-*",
                    ],
                },
            },
            {
                "name": "legacy-cleanup",
                "cron": "0 6 * * 0",
                "duration": "PT1H",
                "timezone": "UTC",
                "description": "ops-legacy deletes old manual snapshots on Sunday mornings",
                "scope": {"identities": [org.legacy_user.arn], "actions": ["delete"]},
            },
            *non_production,
        ],
        "tickets": [
            {
                "id": ticket["id"],
                "start": _time(ticket["start_epoch"]),
                "end": _time(ticket["end_epoch"]),
                "owner": ticket["owner"],
                "reason": ticket["reason"],
                "scope": ticket["scope"],
            }
            for ticket in sorted(tickets, key=lambda t: (t["start_epoch"], t["id"]))
        ],
        "freezes": [
            {
                "name": freeze["name"],
                "start": _time(freeze["start_epoch"]),
                "end": _time(freeze["end_epoch"]),
                "reason": freeze["reason"],
                "scope": freeze["scope"],
            }
            for freeze in freezes
        ],
    }


def automation_allow_list(org: Organisation) -> dict[str, Any]:
    """Return ``automation.yaml``: the machine identities with their expected clients and networks.

    It is a change-policy file of its own (``version``, ``automation``; see
    ``docs/change-windows.md``), to be loaded together with ``change_windows.yaml``.
    Identities that only AWS services act for list no networks (service calls are not
    judged by address). When each may write is said in ``description``.
    """
    nat = sorted({n.cidr for n in org.nat.values()})
    home_nat = sorted(
        {
            org.nat[(a.index, org.regions[0])].cidr
            for a in org.accounts
            if a.role in ("prod", "staging")
        }
    )
    owner = "platform@northwind.example"
    return {
        "version": 1,
        "timezone": DEPLOY_TZ,
        "automation": [
            {
                "name": "terraform-pipeline",
                "identities": ["arn:aws:iam::*:role/deploy-terraform"],
                "clients": ["terraform"],
                "networks": [NETWORKS["ci-runners"].cidr],
                "owner": owner,
                "description": "plans at any business hour; applies only in window weekly-deploy",
            },
            {
                "name": "autoscaling",
                "identities": ["arn:aws:iam::*:role/AWSServiceRoleForAutoScaling"],
                "clients": ["aws-service"],
                "owner": owner,
                "description": "launches and terminates all day",
            },
            {
                "name": "karpenter",
                "identities": ["arn:aws:iam::*:role/KarpenterControllerRole-*"],
                "clients": ["karpenter"],
                "networks": home_nat,
                "owner": owner,
                "description": "CreateFleet and TerminateInstances all day",
            },
            {
                "name": "aws-backup",
                "identities": ["arn:aws:iam::*:role/AWSBackupDefaultServiceRole"],
                "clients": ["aws-service"],
                "owner": owner,
                "description": "snapshots and expiry only in window nightly-backup",
            },
            {
                "name": "aws-config",
                "identities": ["arn:aws:iam::*:role/AWSServiceRoleForConfig"],
                "clients": ["aws-service"],
                "owner": owner,
                "description": "reads only",
            },
            {
                "name": "monitoring-vendor",
                "identities": ["arn:aws:iam::*:role/DatadogIntegrationRole"],
                "clients": ["aws-sdk-go"],
                "networks": [NETWORKS["vendor-monitoring"].cidr],
                "owner": "sre@northwind.example",
                "description": f"reads only; user agent {MONITOR_UA}",
            },
            {
                "name": "instance-profiles",
                "identities": ["arn:aws:iam::*:role/eks-node-*", "arn:aws:iam::*:role/app-*"],
                "clients": ["aws-sdk-go", "aws-sdk-java"],
                "networks": nat,
                "owner": owner,
                "description": "bootstrap reads only",
            },
            {
                "name": "ops-legacy-script",
                "identities": [org.legacy_user.arn],
                "clients": ["boto3", "aws-cli"],
                "networks": [NETWORKS["office-berlin"].cidr],
                "owner": "ops@northwind.example",
                "description": "daily report 05:30 UTC; Sunday delete of old manual snapshots",
            },
        ],
    }


class _Dumper(yaml.SafeDumper):
    pass


def _timestamp(dumper: yaml.SafeDumper, value: datetime) -> yaml.ScalarNode:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:timestamp", value.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


_Dumper.add_representer(datetime, _timestamp)


def write_yaml(document: dict[str, Any], path: Path, header: str) -> None:
    """Write ``document`` as YAML with a comment header; times as ``2026-03-14T22:00:00Z``."""
    text = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    path.write_text(comment + text, encoding="utf-8")
