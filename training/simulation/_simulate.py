"""``simulate()``: one organisation, its benign weeks, the injected scenarios, every output file."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from features import ConfigurationError
from training.simulation._behaviour import start_behaviour
from training.simulation._engine import Simulation
from training.simulation._geo import write_mmdb
from training.simulation._inventory import seed_zones
from training.simulation._org import build_organisation
from training.simulation._scenarios import SCENARIOS, window_time
from training.simulation._time import DAY, iso
from training.simulation._windows import (
    automation_allow_list,
    change_windows,
    plan_freezes,
    write_yaml,
)
from training.simulation._writer import S3Writer, write_labels

__all__ = ["DEFAULT_REGIONS", "DEFAULT_START", "SimulationResult", "simulate"]

logger = logging.getLogger(__name__)

DEFAULT_START: Final = date(2026, 3, 2)
"""First simulated day when none is given (a Monday)."""
DEFAULT_REGIONS: Final = ("eu-central-1", "us-east-1")
_KNOWN_REGION_PREFIXES: Final = ("us-", "eu-", "ap-", "ca-", "sa-", "me-", "af-", "il-", "mx-")


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """What a simulation wrote."""

    out: Path
    events: int
    reads: int
    writes: int
    files: int
    bytes: int
    labelled: int
    seconds: float
    manifest: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """Return the CLI's summary line."""
        rate = self.events / self.seconds if self.seconds > 0 else 0.0
        return {
            "out": str(self.out),
            "events": self.events,
            "reads": self.reads,
            "writes": self.writes,
            "files": self.files,
            "bytes": self.bytes,
            "labelled": self.labelled,
            "scenarios": self.manifest["scenarios_injected"],
            "seconds": round(self.seconds, 3),
            "events_per_second": round(rate, 1),
        }


def _select(attacks: str | Iterable[str]) -> list[str]:
    if isinstance(attacks, str):
        if attacks == "all":
            return list(SCENARIOS)
        if attacks in ("none", ""):
            return []
        names = [name.strip() for name in attacks.split(",") if name.strip()]
    else:
        names = list(attacks)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise ConfigurationError(
            f"unknown scenario {unknown[0]!r}; expected 'all', 'none' or names among: "
            + ", ".join(SCENARIOS)
        )
    return list(dict.fromkeys(names))


def _validate(days: int, test_days: int, accounts: int, regions: list[str], scale: float) -> None:
    if days < 2:
        raise ConfigurationError(f"days must be at least 2, got {days}")
    if not 1 <= test_days < days:
        raise ConfigurationError(
            f"test_days must be in [1, days), got {test_days} with days={days}"
        )
    if not 1 <= accounts <= 6:
        raise ConfigurationError(f"accounts must be in [1, 6], got {accounts}")
    if not regions:
        raise ConfigurationError("regions must name at least one region")
    for region in regions:
        if not region.startswith(_KNOWN_REGION_PREFIXES) or not region[-1].isdigit():
            raise ConfigurationError(f"not an AWS region name: {region!r}")
    if len(set(regions)) != len(regions):
        raise ConfigurationError(f"regions repeat: {regions}")
    if not 0.01 <= scale <= 100:
        raise ConfigurationError(f"scale must be in [0.01, 100], got {scale}")


def simulate(
    out: str | Path,
    *,
    days: int = 28,
    seed: int = 0,
    attacks: str | Iterable[str] = "all",
    accounts: int = 3,
    regions: Iterable[str] = DEFAULT_REGIONS,
    scale: float = 1.0,
    test_days: int = 7,
    start: date = DEFAULT_START,
    at: Mapping[str, datetime] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Simulate an organisation's CloudTrail and write it with labels, windows, GeoIP and manifest.

    Parameters
    ----------
    out : str or Path
        Output directory; created if missing, must be empty if present.
    days : int
        Simulated days in total (baseline then test period).
    seed : int
        Seed of everything: the same seed writes the same bytes.
    attacks : str or iterable of str
        ``"all"``, ``"none"``, a comma-separated string or names of :data:`SCENARIOS`
        (hard negatives included).
    accounts : int
        Number of accounts, 1 to 6 (prod, staging, shared, dev, analytics, sandbox).
    regions : iterable of str
        Regions in use; the first is the home region.
    scale : float
        Activity multiplier (machines linearly, people by its square root).
    test_days : int
        Length of the final test period; scenarios happen only there.
    start : date
        First simulated day (UTC midnight).
    at : mapping of str to datetime, optional
        Injection time per scenario name (UTC when naive); must fall in the test period.
    progress : callable, optional
        Called with the number of simulated days completed since the last call.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ConfigurationError
        For invalid parameters, unknown scenarios, injection times outside the test
        period, or a non-empty output directory.
    """
    started = time.perf_counter()
    region_list = list(regions)
    _validate(days, test_days, accounts, region_list, scale)
    chosen = _select(attacks)
    schedule = dict(at or {})
    for name in schedule:
        if name not in SCENARIOS:
            raise ConfigurationError(f"unknown scenario in injection times: {name!r}")
        if name not in chosen:
            chosen.append(name)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ConfigurationError(f"output directory {out} is not empty")
    out.mkdir(parents=True, exist_ok=True)

    first = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
    org = build_organisation(
        seed,
        start=first,
        days=days,
        test_days=test_days,
        accounts=accounts,
        regions=region_list,
        scale=scale,
    )
    writer = S3Writer(out, seed)
    sim = Simulation(org, writer)
    seed_zones(sim, random.Random(f"inventory:{seed}"))
    sim.freezes.extend(plan_freezes(org))
    start_behaviour(sim)

    injected: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for name in chosen:
        scenario = SCENARIOS[name]
        rng = random.Random(f"scenario:{seed}:{name}")
        if name in schedule:
            moment = schedule[name]
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            when = int(moment.timestamp())
            if not org.test_start <= when < org.end - 5 * 3600:
                raise ConfigurationError(
                    f"injection time of {name} must be in the test period "
                    f"[{iso(org.test_start)}, {iso(org.end - 5 * 3600)}), got {iso(when)}"
                )
        elif name == "large_in_window_deploy":
            found = window_time(sim, rng)
            if found is None:
                skipped[name] = "no unfrozen deploy window in the test period"
                logger.warning("skipping %s: no unfrozen deploy window in the test period", name)
                continue
            when = found
        else:
            when = scenario.default_time(org.test_start, org.end)
        injected[name] = when
        sim.at(when, _inject, sim, name, rng)

    sim.run(progress)

    labels_path = out / "labels.parquet"
    write_labels(sim.labels, labels_path)
    windows = change_windows(org, sim.tickets, sim.freezes)
    write_yaml(
        windows,
        out / "change_windows.yaml",
        "Approved change windows, tickets and freezes of the simulated organisation.\n"
        "Format: docs/change-windows.md (version 1).",
    )
    write_yaml(
        automation_allow_list(org),
        out / "automation.yaml",
        "Machine identities of the simulated organisation: expected clients, networks, windows.",
    )
    write_mmdb(org.networks, out / "geo.mmdb", build_epoch=first)
    manifest = _manifest(sim, seed, scale, days, test_days, injected, skipped, writer)
    (out / "manifest.json").write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    )
    seconds = time.perf_counter() - started
    logger.info("simulated %d events into %d files in %.1f s", sim.events, writer.files, seconds)
    return SimulationResult(
        out,
        sim.events,
        sim.reads,
        sim.writes,
        writer.files,
        writer.bytes,
        len(sim.labels),
        seconds,
        manifest,
    )


def _inject(t: int, sim: Simulation, name: str, rng: random.Random) -> None:
    scenario = SCENARIOS[name]
    scenario.run(sim, t, rng)


def _manifest(
    sim: Simulation,
    seed: int,
    scale: float,
    days: int,
    test_days: int,
    injected: dict[str, int],
    skipped: dict[str, str],
    writer: S3Writer,
) -> dict[str, Any]:
    org = sim.org
    scenarios: dict[str, Any] = {}
    names_by_scenario: dict[str, set[str]] = {}
    for _, scenario, _, _, event_name, _, _ in sim.labels:
        names_by_scenario.setdefault(scenario, set()).add(event_name)
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
    return {
        "generator": "changewatch simulate",
        "format_version": 1,
        "seed": seed,
        "scale": scale,
        "days": days,
        "test_days": test_days,
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
        "tickets": len(sim.tickets),
        "files": {
            "trail": "AWSLogs/",
            "labels": "labels.parquet",
            "change_windows": "change_windows.yaml",
            "automation": "automation.yaml",
            "geoip": "geo.mmdb",
        },
        "days_of_week": {"deploy_window": "TU,TH 10:00-14:00 Europe/Berlin"},
        "day_seconds": DAY,
    }
