"""The change policy and the manifest in the names of each simulated cloud.

The simulator writes its policy (windows, tickets, freezes, automation) and manifest in
AWS names; for other clouds every scope names the same things in that cloud's names as
well (:mod:`._render_names`): accounts become subscriptions and projects, regions become
locations and regions, identity patterns become the keys the Azure and Google Cloud
readers give the same actors, and the organisation gains its tenant and domain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from training.simulation._render_azure import TENANT, azure_key
from training.simulation._render_gcp import gcp_key
from training.simulation._render_names import (
    DOMAIN,
    actor_of_key,
    azure_location,
    gcp_region,
    project_of,
    subscription_of,
)
from training.simulation._render_ops import ABSENT

__all__ = ["render_manifest", "render_policy"]

# client families a cloud's calls carry, for the AWS families the policy names
_GCP_CLIENTS: Final[Mapping[str, str]] = {
    "terraform": "terraform",
    "aws-cli": "gcloud",
    "console": "console",
}
_AZURE_CLIENT: Final = "unknown"
"""The Activity Log records no user agent: a workload identity's calls have no client."""


def _keys(key: str, clouds: Iterable[str], names: Mapping[str, str]) -> list[str]:
    actor = actor_of_key(key)
    out: list[str] = []
    for cloud in clouds:
        if cloud == "aws" or actor is None:
            out.append(key)
        elif cloud == "azure":
            out.append(azure_key(actor))
        else:
            out.append(gcp_key(actor, project_of(actor.account, names)))
    return list(dict.fromkeys(out))


def _each(values: list[str], mapper: Callable[[str], list[str]]) -> list[str]:
    return list(dict.fromkeys(v for value in values for v in mapper(value)))


def _clients(values: list[str], clouds: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        family = value.partition("/")[0]
        for cloud in clouds:
            if cloud == "aws":
                out.append(value)
            elif cloud == "azure":
                out.append(_AZURE_CLIENT)
            else:
                out.append(_GCP_CLIENTS.get(family, "google-sdk"))
    return list(dict.fromkeys(out))


def _scope(scope: dict[str, Any], clouds: tuple[str, ...], names: Mapping[str, str]) -> None:
    def accounts(account: str) -> list[str]:
        mapped = {"aws": account, "azure": subscription_of(account)}
        return [mapped.get(c) or project_of(account, names) for c in clouds]

    def regions(region: str) -> list[str]:
        mapped = {"aws": region, "azure": azure_location(region), "gcp": gcp_region(region)}
        return [mapped[c] for c in clouds]

    if "accounts" in scope:
        scope["accounts"] = _each(scope["accounts"], accounts)
    if "regions" in scope:
        scope["regions"] = _each(scope["regions"], regions)
    if "identities" in scope:
        scope["identities"] = _each(scope["identities"], lambda k: _keys(k, clouds, names))


def render_policy(
    doc: dict[str, Any], clouds: tuple[str, ...], names: Mapping[str, str]
) -> dict[str, Any]:
    """Return a policy document (``change_windows.yaml`` or ``automation.yaml``) for ``clouds``.

    Unchanged for AWS alone. ``names`` maps account ids to account names.
    """
    if clouds == ("aws",):
        return doc
    organization = doc.get("organization")
    if isinstance(organization, dict):
        _scope(organization, clouds, names)
        if "azure" in clouds:
            organization["tenants"] = [TENANT]
        if "gcp" in clouds:
            organization["domains"] = [DOMAIN]
    for section in ("windows", "tickets", "freezes", "suppressions"):
        for entry in doc.get(section) or ():
            if isinstance(entry.get("scope"), dict):
                _scope(entry["scope"], clouds, names)
    for entry in doc.get("automation") or ():
        entry["identities"] = _each(entry["identities"], lambda k: _keys(k, clouds, names))
        if "clients" in entry:
            entry["clients"] = _clients(entry["clients"], clouds)
    return doc


def render_manifest(
    manifest: dict[str, Any],
    clouds: tuple[str, ...],
    names: Mapping[str, str],
    roots: Mapping[str, str],
    counts: Mapping[str, Any],
) -> dict[str, Any]:
    """Add each cloud's names to a manifest: accounts, identity keys, files, record counts."""
    if clouds == ("aws",):
        return manifest
    manifest["clouds"] = list(clouds)
    manifest["accounts"] = [
        account
        | {"azure_subscription": subscription_of(account["id"])}
        | {"gcp_project": project_of(account["id"], names)}
        for account in manifest["accounts"]
    ]
    for entry in manifest["identities"].values():
        entry["keys"] = sorted(_each(entry["keys"], lambda k: _keys(k, clouds, names)))
    actors = manifest.get("actors", {})
    manifest["actors"] = {
        native: facts for key, facts in actors.items() for native in _keys(key, clouds, names)
    }
    manifest["files"] = {k: v for k, v in manifest["files"].items() if k != "trail"}
    manifest["files"]["logs"] = dict(roots)
    manifest["rendered"] = dict(counts)
    manifest["scenarios_absent"] = {
        cloud: {name: why for name, why in ABSENT[cloud].items() if name in manifest["scenarios"]}
        for cloud in clouds
        if cloud in ABSENT
    }
    return manifest
