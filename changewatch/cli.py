"""The ``changewatch`` command line.

Each subcommand is a thin layer over a package function: it parses options, shows
progress on a terminal, and prints a JSON summary as its last line so scripts can
read it. Errors are one line on standard error and exit status 1; ``--debug``
shows the traceback as well.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, NoReturn

import click

from changewatch import __version__
from changewatch.commands.data import data as data_command
from changewatch.commands.demo import demo as demo_command
from changewatch.commands.ingest import ingest as ingest_command
from changewatch.commands.score import score as score_command
from changewatch.commands.serve import serve as serve_command
from changewatch.commands.simulate import simulate as simulate_command
from changewatch.commands.train import evaluate as evaluate_command
from changewatch.commands.train import promote as promote_command
from changewatch.commands.train import retrain as retrain_command
from changewatch.commands.train import train as train_command
from changewatch.errors import ChangewatchError

__all__ = ["main"]

logger = logging.getLogger(__name__)


def _fail(message: str) -> NoReturn:
    click.echo(f"changewatch: error: {message}", err=True)
    sys.exit(1)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ChangewatchError as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            _fail(str(error))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="changewatch")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", is_flag=True, help="Log progress at INFO level.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: bool) -> None:
    """Score cloud infrastructure changes for anomalies (AWS CloudTrail first).

    \b
    Typical flow:
      changewatch demo                                    # everything, on a simulated org
      changewatch ingest AWSLogs/ --out events.parquet
      changewatch train --events events.parquet --until 2026-03-23 \\
          --labels labels.parquet --register changewatch
      changewatch promote --name changewatch
      changewatch score --model models:/changewatch@champion --events events.parquet \\
          --windows policy.yaml --out findings.jsonl
      changewatch serve --model models:/changewatch@champion --windows policy.yaml
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# One line per subcommand; each lives in changewatch/commands/<name>.py.
cli.add_command(data_command)
cli.add_command(demo_command)
cli.add_command(ingest_command)
cli.add_command(score_command)
cli.add_command(serve_command)
cli.add_command(simulate_command)
cli.add_command(train_command)
cli.add_command(evaluate_command)
cli.add_command(promote_command)
cli.add_command(retrain_command)


def main() -> None:
    """Entry point of the ``changewatch`` console script."""
    cli(prog_name="changewatch")
