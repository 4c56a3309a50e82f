"""``changewatch demo``: simulate, train, score and serve, in one folder."""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["demo"]


@click.command()
@click.option(
    "--out",
    default="demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for everything the demo makes.",
)
@click.option(
    "--days",
    default=28,
    show_default=True,
    type=click.IntRange(min=21),
    help="Days to simulate (at least 21); the last 7 are the test week.",
)
@click.option("--seed", default=7, show_default=True, help="Simulation seed.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address of the API and the UI."
)
@click.option("--api-port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--ui-port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="Start the API and the MLflow UI at the end.",
)
def demo(
    out: str, days: int, seed: int, host: str, api_port: int, ui_port: int, serve: bool
) -> None:
    """Run the whole of changewatch on a simulated organisation.

    Simulates DAYS of an organisation's CloudTrail with attacks in the last week,
    ingests it, trains on the baseline weeks and logs the run to MLflow (a SQLite
    store in OUT), registers and promotes the model to champion, scores the last
    week and prints the top findings; then starts the scoring API and the MLflow UI
    and prints their addresses, links to the run and the registered model, the
    tracking store to export, and curl examples. Ctrl-C stops both. A second run
    reuses what the first built. Busy ports are found before anything starts.

    \b
    Examples:
      changewatch demo
      changewatch demo --out /tmp/cw-demo --api-port 8080 --ui-port 5050
      changewatch demo --no-serve
    """
    from changewatch.demo import DemoPlan, findings_table, prepare, serve_until_interrupted
    from changewatch.demo_examples import check_ports

    def say(text: str) -> None:
        click.echo(text)

    plan = DemoPlan(Path(out), days=days, seed=seed, host=host, api_port=api_port, ui_port=ui_port)
    if serve:
        check_ports(host, api_port, ui_port)  # before minutes of work, not after
    findings = prepare(plan, say)
    click.echo("")
    click.echo(findings_table(findings))
    if serve:
        sys.exit(serve_until_interrupted(plan, say))
