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
from training.simulation._allow_list import DECLARED, automation_allow_list, automation_patterns
from training.simulation._behaviour import start_behaviour
from training.simulation._engine import Simulation
from training.simulation._geo import write_mmdb
from training.simulation._inventory import seed_zones
from training.simulation._manifest import build_manifest
from training.simulation._org import ACCOUNT_ROLES, build_organisation
from training.simulation._presets import preset
from training.simulation._render import CLOUDS, CloudSink
from training.simulation._render_policy import render_manifest, render_policy
from training.simulation._scenarios import SCENARIOS
from training.simulation._time import iso
from training.simulation._windows import POLICIES, change_windows, plan_freezes, write_yaml
from training.simulation._writer import S3Writer, write_labels

__all__ = ["DEFAULT_ORG", "DEFAULT_REGIONS", "DEFAULT_START", "SimulationResult", "simulate"]

logger = logging.getLogger(__name__)

DEFAULT_START: Final = date(2026, 3, 2)
"""First simulated day when none is given (a Monday)."""
DEFAULT_REGIONS: Final = ("eu-central-1", "eu-west-1", "us-east-1")
"""Regions of the default (small) organisation."""
DEFAULT_ORG: Final = "small"
"""The organisation simulated when none is named."""
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


def _validate(
    days: int, test_days: int, accounts: int, regions: list[str], scale: float, policy: str
) -> None:
    if days < 2:
        raise ConfigurationError(f"days must be at least 2, got {days}")
    if not 1 <= test_days < days:
        raise ConfigurationError(
            f"test_days must be in [1, days), got {test_days} with days={days}"
        )
    if not 1 <= accounts <= len(ACCOUNT_ROLES):
        raise ConfigurationError(f"accounts must be in [1, {len(ACCOUNT_ROLES)}], got {accounts}")
    if not regions:
        raise ConfigurationError("regions must name at least one region")
    for region in regions:
        if not region.startswith(_KNOWN_REGION_PREFIXES) or not region[-1].isdigit():
            raise ConfigurationError(f"not an AWS region name: {region!r}")
    if len(set(regions)) != len(regions):
        raise ConfigurationError(f"regions repeat: {regions}")
    if not 0.01 <= scale <= 100:
        raise ConfigurationError(f"scale must be in [0.01, 100], got {scale}")
    if policy not in POLICIES:
        raise ConfigurationError(
            f"unknown policy {policy!r}; expected one of: {', '.join(POLICIES)}"
        )


def _schedule(
    sim: Simulation, chosen: list[str], at: dict[str, datetime], seed: int
) -> tuple[dict[str, int], dict[str, str]]:
    """Place every chosen scenario on the clock; return injection times and skipped ones."""
    org = sim.org
    injected: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for name in chosen:
        scenario = SCENARIOS[name]
        rng = random.Random(f"scenario:{seed}:{name}")
        if name in at:
            moment = at[name]
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            when = int(moment.timestamp())
            if not org.test_start <= when < org.end - 5 * 3600:
                raise ConfigurationError(
                    f"injection time of {name} must be in the test period "
                    f"[{iso(org.test_start)}, {iso(org.end - 5 * 3600)}), got {iso(when)}"
                )
        elif scenario.placer is not None:
            found = scenario.placer(sim, rng)
            if found is None:
                skipped[name] = f"no time for it in the test period ({scenario.placer.__doc__})"
                logger.warning("skipping %s: no time for it in the test period", name)
                continue
            when = found
        else:
            when = scenario.default_time(org.test_start, org.end)
        injected[name] = when
        sim.at(when, _inject, sim, name, rng)
    return injected, skipped


def simulate(
    out: str | Path,
    *,
    days: int = 28,
    seed: int = 0,
    attacks: str | Iterable[str] = "all",
    org: str = DEFAULT_ORG,
    accounts: int | None = None,
    regions: Iterable[str] | None = None,
    scale: float | None = None,
    policy: str = "realistic",
    test_days: int = 7,
    start: date = DEFAULT_START,
    at: Mapping[str, datetime] | None = None,
    progress: Callable[[int], None] | None = None,
    cloud: str = "aws",
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
    org : str
        Organisation preset: ``small`` (two accounts, three regions) or ``large``
        (seven accounts, more teams and automation); see ``docs/simulator.md``.
    accounts : int, optional
        Number of accounts, 1 to 7 (prod, staging, shared, dev, analytics, sandbox,
        backup); the preset's when not given.
    regions : iterable of str, optional
        Regions in use; the first is the home region, the second the disaster-recovery
        region. The preset's when not given.
    scale : float, optional
        Activity multiplier (machines linearly, people by its square root); the
        preset's when not given.
    policy : str
        ``realistic`` (the sparse policy an organisation writes) or ``complete``
        (every benign change approved).
    test_days : int
        Length of the final test period; scenarios happen only there.
    start : date
        First simulated day (UTC midnight).
    at : mapping of str to datetime, optional
        Injection time per scenario name (UTC when naive); must fall in the test period.
    progress : callable, optional
        Called with the number of simulated days completed since the last call.
    cloud : str
        ``aws`` (CloudTrail, the default), ``azure`` (Activity Log), ``gcp`` (Cloud
        Audit Logs) or ``all``: the same organisation written in each cloud's native
        export layout (ADR 0054); labels, policy and manifest follow.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ConfigurationError
        For invalid parameters, unknown organisations, policies or scenarios,
        injection times outside the test period, or a non-empty output directory.
    """
    started = time.perf_counter()
    shape = preset(org)
    n_accounts = shape.accounts if accounts is None else accounts
    region_list = list(shape.regions if regions is None else regions)
    activity = shape.scale if scale is None else scale
    _validate(days, test_days, n_accounts, region_list, activity, policy)
    chosen = _select(attacks)
    clouds = _clouds(cloud)
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
    organisation = build_organisation(
        seed,
        start=first,
        days=days,
        test_days=test_days,
        accounts=n_accounts,
        regions=region_list,
        scale=activity,
        preset=shape,
    )
    sim = Simulation(organisation, lambda *bucket: None)
    sink = CloudSink(out, seed, clouds, organisation, sim.labels)
    sim.sink = sink
    seed_zones(sim, random.Random(f"inventory:{seed}"))
    sim.freezes.extend(plan_freezes(organisation))
    start_behaviour(sim)
    injected, skipped = _schedule(sim, chosen, schedule, seed)
    sim.run(progress)
    writer: S3Writer | _Totals = sink.s3 or _Totals(sink)

    write_labels(sink.labels(sim.labels) if clouds != ("aws",) else sim.labels,
                 out / "labels.parquet")  # fmt: skip
    tickets = _write_policy(sim, out, policy, clouds)
    write_mmdb(organisation.networks, out / "geo.mmdb", build_epoch=first)
    declared = list(DECLARED) if policy == "realistic" else ["*"]
    settings = {
        "seed": seed,
        "org": shape.name,
        "policy": policy,
        "scale": activity,
        "days": days,
        "test_days": test_days,
    }
    manifest = build_manifest(
        sim,
        settings=settings,
        injected=injected,
        skipped=skipped,
        writer=writer,
        declared=declared,
        tickets=tickets,
    )
    names = {a.id: a.name for a in organisation.accounts}
    counts = {c: {"records": sink.records[c], "files": len(sink.files[c]), "bytes": sink.bytes[c]}
              for c in clouds if c != "aws"}  # fmt: skip
    manifest = render_manifest(manifest, clouds, names, sink.roots(), counts)
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


def _clouds(cloud: str) -> tuple[str, ...]:
    if cloud == "all":
        return CLOUDS
    if cloud not in CLOUDS:
        raise ConfigurationError(
            f"unknown cloud {cloud!r}; expected all or one of: {', '.join(CLOUDS)}"
        )
    return (cloud,)


class _Totals:
    """Files and bytes of every cloud's logs, for the manifest's ``events`` section."""

    def __init__(self, sink: CloudSink) -> None:
        self.files = sum(len(f) for f in sink.files.values())
        self.bytes = sum(sink.bytes.values())


def _write_policy(sim: Simulation, out: Path, policy: str, clouds: tuple[str, ...]) -> int:
    """Write ``change_windows.yaml`` and ``automation.yaml``; return the tickets written."""
    names = {a.id: a.name for a in sim.org.accounts}
    windows = change_windows(
        sim.org, sim.tickets, sim.freezes, policy=policy, automation=automation_patterns(sim)
    )
    windows = render_policy(windows, clouds, names)
    write_yaml(
        windows,
        out / "change_windows.yaml",
        f"Change policy ({policy}) of the simulated organisation: windows, tickets, freezes.\n"
        "Format: docs/change-windows.md (version 1).",
    )
    write_yaml(
        render_policy(automation_allow_list(sim, policy), clouds, names),
        out / "automation.yaml",
        f"Declared automation ({policy} policy): expected clients, networks, owners.",
    )
    return len(windows["tickets"])


def _inject(t: int, sim: Simulation, name: str, rng: random.Random) -> None:
    scenario = SCENARIOS[name]
    scenario.run(sim, t, rng)
