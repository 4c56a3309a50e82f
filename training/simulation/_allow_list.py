"""The automation allow-list: ``automation.yaml``.

A change-policy file of its own (``version``, ``automation``; see
``docs/change-windows.md``), loaded together with ``change_windows.yaml``. An entry
names identities with their expected clients and networks (when they are fixed) and
an owner; when each may write is said in ``description``.

The realistic policy declares what an organisation usually writes down: the
Terraform pipeline, the application's deploy workflow and the monitoring vendor.
The complete policy declares every machine identity of the simulation. Identity
patterns end in ``*`` where the identity key may carry a session name
(web-identity roles keyed per session).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from training.simulation._actors import DEPLOY_TZ, MONITOR_UA
from training.simulation._engine import Simulation
from training.simulation._geo import NETWORKS
from training.simulation._windows import DEPLOY_ROLE, GITHUB_ROLE

__all__ = ["DECLARED", "automation_allow_list", "automation_patterns"]

OWNER: Final = "platform@northwind.example"

DECLARED: Final = (DEPLOY_ROLE, GITHUB_ROLE, "arn:aws:iam::*:role/DatadogIntegrationRole")
"""Identity patterns the realistic ``automation.yaml`` declares."""


def _declared(sim: Simulation) -> list[dict[str, Any]]:
    return [
        {
            "name": "terraform-pipeline",
            "identities": [DEPLOY_ROLE],
            "clients": ["terraform"],
            "networks": [NETWORKS["ci-runners"].cidr],
            "owner": OWNER,
            "description": "plans at any business hour; applies only in window weekly-deploy",
        },
        {
            "name": "web-app-deploy",
            "identities": [GITHUB_ROLE],
            "clients": ["aws-cli", "aws-sdk-js"],
            "owner": "web-team@northwind.example",
            "description": "GitHub Actions, one session per run; production in window "
            "app-release; GitHub-hosted runners have no fixed addresses",
        },
        {
            "name": "monitoring-vendor",
            "identities": ["arn:aws:iam::*:role/DatadogIntegrationRole"],
            "clients": ["aws-sdk-go"],
            "networks": [NETWORKS["vendor-monitoring"].cidr],
            "owner": "sre@northwind.example",
            "description": f"reads only; user agent {MONITOR_UA}",
        },
    ]


def _roles(sim: Simulation, kinds: tuple[str, ...]) -> dict[str, set[str]]:
    """Role patterns of the identities of ``kinds`` that acted, by actor name."""
    found: dict[str, set[str]] = defaultdict(set)
    for kind in kinds:
        for key in sim.identities.get(kind, ()):
            if not key.startswith("arn:aws:iam::") or ":role/" not in key:
                continue
            role = key.split(":role/", 1)[1].split("/", 1)[0]
            name = str(sim.actors.get(key, {}).get("name", role))
            found[name].add(f"arn:aws:iam::*:role/{role}*")
    return found


def automation_patterns(sim: Simulation) -> list[str]:
    """Identity patterns of every automation and service role that acted.

    The deploy roles (which have their windows) are left out.
    """
    patterns = set().union(*_roles(sim, ("automation", "service")).values())
    return sorted(p for p in patterns if p not in (DEPLOY_ROLE, GITHUB_ROLE))


def _everything(sim: Simulation) -> list[dict[str, Any]]:
    """One entry per named machine actor of the simulation (the complete allow-list)."""
    return [
        {
            "name": name,
            "identities": sorted(patterns),
            "owner": OWNER,
            "description": "declared by the complete policy; clients and networks learned",
        }
        for name, patterns in sorted(
            _roles(sim, ("automation", "service", "instance-profile")).items()
        )
        if not patterns & set(DECLARED)
    ]


def automation_allow_list(sim: Simulation, policy: str = "realistic") -> dict[str, Any]:
    """Return ``automation.yaml`` for ``policy`` (``realistic`` or ``complete``)."""
    entries = _declared(sim)
    if policy == "complete":
        legacy = sim.org.legacy_user
        entries.append(
            {
                "name": "ops-legacy-script",
                "identities": [legacy.arn],
                "clients": ["boto3", "aws-cli"],
                "networks": [NETWORKS["office-berlin"].cidr],
                "owner": "ops@northwind.example",
                "description": "daily report 05:30 UTC; Sunday delete of old manual snapshots",
            }
        )
        entries.extend(_everything(sim))
    return {"version": 1, "timezone": DEPLOY_TZ, "automation": entries}
