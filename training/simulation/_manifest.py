"""``manifest.json``: what was simulated, and which identity is which kind of actor.

The manifest lists, per kind (``person``, ``automation``, ``service``,
``instance-profile``, ``vendor``, ``iam-user``, ``break-glass``), the *actor keys*:
the identity key of a person's SSO session, the role ARN of a machine role, the
user ARN of an IAM user, ``federated:<principalId>`` of a web-identity token. An
ingestion rule that keys web-identity sessions per session (ADR 0002) writes
``<role ARN>/<session>``; :func:`identity_kind` maps such keys to their actor's kind
as well. ``actors`` describes each machine actor: its name, how its sessions are
named, whether ``automation.yaml`` declares it.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Protocol

from training.simulation._engine import Simulation
from training.simulation._scenarios import SCENARIOS
from training.simulation._time import DAY, iso

__all__ = ["FORMAT_VERSION", "build_manifest", "identity_kind"]

FORMAT_VERSION = 2
"""2: organisation preset and policy, ``actors``, keys are actor keys (see ``identity_kind``)."""


def identity_kind(manifest: dict[str, Any], identity_key: str) -> str | None:
    """Return the manifest kind of ``identity_key``, or ``None`` when no actor has it.

    The key is looked up as given, then without its last ``/`` part while it has one
    (a role session keyed per session belongs to its role's actor).

    Examples
    --------
    >>> manifest = {"identities": {"automation": {"keys": ["arn:aws:iam::1:role/ci"]}}}
    >>> identity_kind(manifest, "arn:aws:iam::1:role/ci/gh-actions-42")
    'automation'
    """
    kinds: dict[str, str] = {
        key: str(kind)
        for kind, entry in manifest.get("identities", {}).items()
        for key in entry.get("keys", ())
    }
    found = kinds.get(identity_key)
    if found is not None:
        return found
    head, sep, _ = identity_key.rpartition("/")
    return kinds.get(head) if sep and ":role/" in head else None


class Written(Protocol):
    """What the writers wrote: files and bytes."""

    files: int
    bytes: int


def _scenarios(sim: Simulation, injected: dict[str, int]) -> dict[str, Any]:
    names_by_scenario: dict[str, set[str]] = {}
    for _, scenario, _, _, event_name, _, _ in sim.labels:
        names_by_scenario.setdefault(scenario, set()).add(event_name)
    scenarios: dict[str, Any] = {}
    for name, when in injected.items():
        chosen = SCENARIOS[name]
        scenarios[name] = {
            "kind": chosen.kind,
            "techniques": list(chosen.techniques),
            "summary": chosen.summary,
            "injected_at": iso(when),
            "events": sim.scenario_counts.get(name, 0),
            "event_names": sorted(names_by_scenario.get(name, ())),
        }
    return scenarios


def _actors(sim: Simulation, declared: list[str]) -> dict[str, Any]:
    """Every machine actor key with its kind, name, session naming and declaration."""
    actors: dict[str, Any] = {}
    for kind, keys in sorted(sim.identities.items()):
        if kind == "person":
            continue
        for key in sorted(keys):
            facts = dict(sim.actors.get(key, {}))
            facts.setdefault("name", key.rsplit("/", 1)[-1])
            facts["kind"] = kind
            facts["declared"] = any(fnmatchcase(key, pattern) for pattern in declared)
            actors[key] = dict(sorted(facts.items()))
    return actors


def build_manifest(
    sim: Simulation,
    *,
    settings: dict[str, Any],
    injected: dict[str, int],
    skipped: dict[str, str],
    writer: Written,
    declared: list[str],
    tickets: int,
) -> dict[str, Any]:
    """Return the manifest of a finished simulation.

    ``settings`` holds the parameters (seed, organisation, policy, scale, days,
    test_days); ``declared`` the identity patterns of ``automation.yaml``;
    ``tickets`` the number of tickets written to ``change_windows.yaml``.
    """
    org = sim.org
    scenarios = _scenarios(sim, injected)
    return {
        "generator": "changewatch simulate",
        "format_version": FORMAT_VERSION,
        **settings,
        "organisation": {"preset": org.preset.name, "summary": org.preset.summary},
        "period": {"start": iso(org.start), "end": iso(org.end)},
        "baseline": {"start": iso(org.start), "end": iso(org.test_start)},
        "test": {"start": iso(org.test_start), "end": iso(org.end)},
        "accounts": [{"id": a.id, "name": a.name, "role": a.role} for a in org.accounts],
        "regions": org.regions,
        "foreign_accounts": org.foreign_accounts,
        "events": {
            "total": sim.events,
            "read_only": sim.reads,
            "writes": sim.writes,
            "files": writer.files,
            "bytes": writer.bytes,
        },
        "identities": {
            kind: {"events": sim.kind_counts[kind], "count": len(keys), "keys": sorted(keys)}
            for kind, keys in sorted(sim.identities.items())
        },
        "actors": _actors(sim, declared),
        "scenarios": scenarios,
        "scenarios_injected": len(scenarios),
        "scenarios_skipped": skipped,
        "labels": {
            "file": "labels.parquet",
            "attack": sum(1 for row in sim.labels if row[2] == "attack"),
            "hard_negative": sum(1 for row in sim.labels if row[2] == "hard_negative"),
        },
        "people": [
            {
                "email": p.email,
                "kind": p.kind,
                "on_call": p.on_call,
                "timezone": p.timezone,
                "country": p.country,
                "permission_set": p.permission_set,
                "office": p.office.name,
                "home": p.home.name,
                "joined": iso(max(p.joined, org.start)) if p.joined >= org.start else None,
                "left": iso(p.left) if p.left is not None else None,
            }
            for p in org.people
        ],
        "networks": [
            {
                "name": n.name,
                "cidr": n.cidr,
                "country": n.country,
                "asn": n.asn,
                "org": n.org,
                "kind": n.kind,
            }
            for n in org.networks
        ],
        "preexisting": {kind: sorted(ids) for kind, ids in sim.preexisting.items()},
        "tickets": tickets,
        "files": {
            "trail": "AWSLogs/",
            "labels": "labels.parquet",
            "change_windows": "change_windows.yaml",
            "automation": "automation.yaml",
            "geoip": "geo.mmdb",
        },
        "days_of_week": {
            "deploy_window": "TU,TH 10:00-14:00 Europe/Berlin",
            "app_release": "MO-TH 14:00-17:00 Europe/Berlin",
        },
        "day_seconds": DAY,
    }
