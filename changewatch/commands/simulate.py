"""``changewatch simulate``: an organisation's CloudTrail with labelled attacks, windows, GeoIP."""

from __future__ import annotations

from datetime import UTC, date, datetime

import click

from changewatch.cli_support import emit, progress
from changewatch.errors import ConfigurationError

__all__ = ["simulate"]


def _injection(values: tuple[str, ...]) -> dict[str, datetime]:
    times: dict[str, datetime] = {}
    for value in values:
        name, sep, when = value.partition("=")
        if not sep or not name or not when:
            raise ConfigurationError(f"--at expects NAME=TIME, got {value!r}")
        try:
            moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigurationError(f"--at {name}: not an ISO 8601 time: {when!r}") from None
        times[name] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return times


@click.command()
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Output directory (new or empty); required.",
)
@click.option(
    "--days",
    type=click.IntRange(min=2),
    default=28,
    show_default=True,
    help="Days simulated in total.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed: the same seed writes the same bytes.",
)
@click.option(
    "--attacks",
    default="all",
    show_default=True,
    metavar="all|none|NAME,...",
    help="Scenarios to inject (hard negatives included).",
)
@click.option(
    "--org",
    "org",
    type=click.Choice(["small", "large"]),
    default="small",
    show_default=True,
    help="Organisation: small (2 accounts, 3 regions) or large (7 accounts, 3 teams).",
)
@click.option(
    "--policy",
    type=click.Choice(["realistic", "complete"]),
    default="realistic",
    show_default=True,
    help="Change policy written: what an organisation writes, or every benign change approved.",
)
@click.option(
    "--accounts",
    type=click.IntRange(1, 7),
    default=None,
    help="Accounts (prod, staging, shared, dev, analytics, sandbox, backup) [default: the org's].",
)
@click.option(
    "--regions",
    default=None,
    metavar="R,...",
    help="Regions in use; the first is the home region [default: the org's].",
)
@click.option(
    "--scale",
    type=float,
    default=None,
    help="Activity multiplier [default: the org's; 1 for small, 1.5 for large].",
)
@click.option(
    "--test-days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="Final days forming the test period.",
)
@click.option(
    "--start",
    "start",
    default="2026-03-02",
    show_default=True,
    metavar="YYYY-MM-DD",
    help="First simulated day (UTC).",
)
@click.option(
    "--at",
    "at",
    multiple=True,
    metavar="NAME=TIME",
    help="Inject scenario NAME at an ISO time in the test period (repeatable).",
)
@click.option(
    "--cloud",
    type=click.Choice(["aws", "azure", "gcp", "all"]),
    default="aws",
    show_default=True,
    help="Cloud whose native export layout is written: CloudTrail (AWSLogs/), Azure Activity "
    "Log (insights-activity-logs/), Cloud Audit Logs (cloudaudit.googleapis.com/), or all three.",
)
@click.option("--list-scenarios", is_flag=True, help="List the scenarios and exit.")
def simulate(
    out: str | None,
    days: int,
    seed: int,
    attacks: str,
    org: str,
    policy: str,
    accounts: int | None,
    regions: str | None,
    scale: float | None,
    test_days: int,
    start: str,
    at: tuple[str, ...],
    cloud: str,
    list_scenarios: bool,
) -> None:
    """Simulate weeks of an organisation's CloudTrail, with attacks in the test period.

    Writes, under OUT: AWSLogs/ (gzip CloudTrail files in the S3 delivery layout),
    labels.parquet (event id -> scenario, kind attack|hard_negative),
    change_windows.yaml, automation.yaml, geo.mmdb (MaxMind format, the simulated
    networks) and manifest.json (periods, identities by kind, actors, scenarios).
    The last --test-days days are the test period: every scenario happens there, so
    train on the baseline and score the test period. The last line printed is a
    JSON summary.

    \b
    Examples:
      changewatch simulate --out sim/ --days 35 --seed 1
      changewatch simulate --out sim/ --days 21 --org large --seed 2
      changewatch simulate --out sim/ --days 14 --attacks none --scale 0.5
      changewatch simulate --out sim/ --policy complete
      changewatch simulate --out sim/ --attacks gpu_mining,mass_deletion \\
          --at gpu_mining=2026-03-27T02:00:00Z
      changewatch simulate --out sim/ --cloud azure --seed 3
      changewatch ingest sim/AWSLogs --out events.parquet --geoip sim/geo.mmdb
    """
    from training.simulation import SCENARIOS
    from training.simulation import simulate as run_simulation

    if list_scenarios:
        for scenario in SCENARIOS.values():
            techniques = ",".join(scenario.techniques) or "-"
            click.echo(f"{scenario.name:28} {scenario.kind:13} {techniques:30} {scenario.summary}")
        return
    if not out:
        raise ConfigurationError("--out is required")
    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise ConfigurationError(f"--start expects YYYY-MM-DD, got {start!r}") from None
    update, close = progress(days, "simulate", unit="day")
    try:
        result = run_simulation(
            out,
            days=days,
            seed=seed,
            attacks=attacks,
            org=org,
            policy=policy,
            accounts=accounts,
            regions=[r.strip() for r in regions.split(",") if r.strip()] if regions else None,
            scale=scale,
            test_days=test_days,
            start=first,
            at=_injection(at),
            progress=update,
            cloud=cloud,
        )
    finally:
        close()
    emit(result.to_json())
