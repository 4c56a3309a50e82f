"""The organisation's change policy: ``change_windows.yaml``.

A change-policy file in the format of ``docs/change-windows.md`` (version 1, read by
``models.scoring.load_policy``): the organisation, recurring ``windows``, one-off
``tickets`` and ``freezes``. Two policies can be written (ADR 0030):

* ``realistic`` (the default), what an organisation writes: the Terraform pipeline's
  ``weekly-deploy`` window, the application's ``app-release`` window in production,
  tickets for planned production work by people (and the emergency and new-region
  tickets), the freezes. Most automation is covered by no window; routine on-call
  fixes and small changes have no ticket.
* ``complete``: every benign change approved, as the simulator wrote before: adds
  windows for the backups, all automation, the legacy clean-up and non-production
  accounts, and a ticket for every change a person made in production.

The automation allow-list (``automation.yaml``) is in :mod:`._allow_list`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import yaml

from training.simulation._actors import DEPLOY_DAYS, DEPLOY_HOUR, DEPLOY_HOURS, DEPLOY_TZ
from training.simulation._cicd import APP_RELEASE
from training.simulation._org import Organisation
from training.simulation._time import DAY, to_date

__all__ = [
    "DEPLOY_ROLE",
    "GITHUB_ROLE",
    "POLICIES",
    "WRITE_ACTIONS",
    "change_windows",
    "plan_freezes",
    "write_yaml",
]

POLICIES: Final = ("realistic", "complete")
"""The change policies the simulator can write."""
DEPLOY_ROLE: Final = "arn:aws:iam::*:role/deploy-terraform*"
"""The Terraform pipeline's role (the ``*`` also matches keys that carry a session)."""
GITHUB_ROLE: Final = "arn:aws:iam::*:role/github-actions-deploy*"
"""The application deploy workflow's role."""
WRITE_ACTIONS = ["create", "delete", "modify", "start", "stop", "attach", "detach", "share", "copy"]
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _time(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def plan_freezes(org: Organisation) -> list[dict[str, Any]]:
    """Return the freezes: a three-day close in the baseline, and year end if covered."""
    baseline_days = (org.test_start - org.start) // DAY
    scope = {
        "accounts": [org.account("prod").id],
        "identities": [DEPLOY_ROLE, GITHUB_ROLE, "arn:aws:iam::*:role/AWSReservedSSO_*"],
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


def _window(
    name: str, rrule: str, duration: str, timezone: str, description: str, scope: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": name,
        "rrule": rrule,
        "duration": duration,
        "timezone": timezone,
        "description": description,
        "scope": scope,
    }


def _recurring(org: Organisation) -> list[dict[str, Any]]:
    """Return the windows of every policy: the Terraform pipeline's and the release."""
    days = ",".join(_BYDAY[d] for d in DEPLOY_DAYS)
    release_days, release_hour, release_hours = APP_RELEASE
    release = ",".join(_BYDAY[d] for d in release_days)
    return [
        _window(
            "weekly-deploy",
            f"FREQ=WEEKLY;BYDAY={days};BYHOUR={DEPLOY_HOUR};BYMINUTE=0;BYSECOND=0",
            f"PT{DEPLOY_HOURS}H",
            DEPLOY_TZ,
            "Terraform applies, Tuesday and Thursday mornings",
            {
                "accounts": [a.id for a in org.accounts],
                "identities": [DEPLOY_ROLE],
                "actions": WRITE_ACTIONS,
            },
        ),
        _window(
            "app-release",
            f"FREQ=WEEKLY;BYDAY={release};BYHOUR={release_hour};BYMINUTE=0;BYSECOND=0",
            f"PT{release_hours}H",
            DEPLOY_TZ,
            "production releases of the web application (GitHub Actions)",
            {"accounts": [org.account("prod").id], "identities": [GITHUB_ROLE]},
        ),
    ]


def _complete(org: Organisation, automation: list[str]) -> list[dict[str, Any]]:
    """Return the windows of the complete policy only: automation, non-production."""
    daily = "FREQ=DAILY;BYHOUR=0;BYMINUTE=0;BYSECOND=0"
    windows = [
        {
            "name": "nightly-backup",
            "cron": "0 1 * * *",
            "duration": "PT3H",
            "timezone": "UTC",
            "description": "AWS Backup plan and copy job",
            "scope": {
                "identities": ["arn:aws:iam::*:role/AWSBackupDefaultServiceRole"],
                "resources": ["snap-*", "vol-*"],
                "actions": ["create", "delete", "share", "copy", "modify"],
            },
        },
        _window(
            "automation-all-day",
            daily,
            "P1D",
            "UTC",
            "Auto Scaling, EKS controllers, Lambda automation and CI change at any time",
            {"identities": automation},
        ),
        {
            "name": "legacy-cleanup",
            "cron": "0 6 * * 0",
            "duration": "PT1H",
            "timezone": "UTC",
            "description": "ops-legacy deletes old manual snapshots on Sunday mornings",
            "scope": {"identities": [org.legacy_user.arn], "actions": ["delete"]},
        },
    ]
    others = [a.id for a in org.accounts if a.role != "prod"]
    if others:
        windows.append(
            _window(
                "non-production",
                daily,
                "P1D",
                "UTC",
                "changes outside production need no approval",
                {"accounts": others},
            )
        )
    return windows


def change_windows(
    org: Organisation,
    tickets: list[dict[str, Any]],
    freezes: list[dict[str, Any]],
    *,
    policy: str = "realistic",
    automation: list[str] | None = None,
) -> dict[str, Any]:
    """Return the ``change_windows.yaml`` document of the organisation.

    Parameters
    ----------
    org : Organisation
        The organisation (its accounts are the policy's ``organization``).
    tickets : list of dict
        Every ticket recorded; the realistic policy keeps the planned ones.
    freezes : list of dict
        The freezes.
    policy : str
        ``realistic`` (what an organisation writes: the two deploy windows, planned
        tickets, freezes) or ``complete`` (every benign change approved).
    automation : list of str, optional
        Identity patterns of the automation the complete policy approves all day.
    """
    windows = _recurring(org)
    if policy == "complete":
        windows.extend(_complete(org, automation or []))
    kept = [t for t in tickets if policy == "complete" or t.get("planned", True)]
    return {
        "version": 1,
        "timezone": DEPLOY_TZ,
        "organization": {"accounts": [a.id for a in org.accounts]},
        "windows": windows,
        "tickets": [
            {
                "id": ticket["id"],
                "start": _time(ticket["start_epoch"]),
                "end": _time(ticket["end_epoch"]),
                "owner": ticket["owner"],
                "reason": ticket["reason"],
                "scope": ticket["scope"],
            }
            for ticket in sorted(kept, key=lambda t: (t["start_epoch"], t["id"]))
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
