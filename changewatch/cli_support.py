"""Helpers shared by the subcommands: the JSON summary line and progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

__all__ = ["PathsOption", "emit", "nothing_usable", "progress"]


def emit(summary: dict[str, Any]) -> None:
    """Print the machine-readable summary as the last line of standard output."""
    click.echo(json.dumps(summary))


def nothing_usable(records: int, files: int, rejects: str | None) -> NoReturn:
    """Say that no input gave anything usable, and exit with status 1.

    Called after the summary is printed, for ``ingest`` and ``score`` without
    ``--allow-empty``: every file and record was rejected, or nothing was found.
    """
    why = f"see {rejects}" if rejects else "--rejects PATH keeps the reasons"
    click.echo(
        f"changewatch: error: nothing usable was read ({files} files, {records} records, "
        f"none kept; {why}); --allow-empty accepts this",
        err=True,
    )
    sys.exit(1)


def progress(
    total: int, label: str, unit: str = "file"
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """Return ``(update, close)`` of a tqdm bar on a terminal; silent when not a terminal."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit=unit, disable=None, file=sys.stderr, leave=False)

    def update(count: int) -> None:
        bar.update(count)

    return update, bar.close


class PathsOption(click.Option):
    """An option that takes every following argument up to the next option.

    ``--events a.json b.parquet --model none`` gives ``("a.json", "b.parquet")``;
    repeating the option adds to the list. ``-`` (standard input) counts as a path.
    Hooks into click's parser (``_OptionParser``), which click has kept stable
    through 8.x; ``tests/serving/test_score_cli.py`` checks the behaviour.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("multiple", True)
        super().__init__(*args, **kwargs)

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:  # noqa: D102 - click hook
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:  # pragma: no cover - every name was just registered
                continue
            original = option.process

            def process(value: Any, state: Any, original: Any = original) -> None:
                original(value, state)
                while state.rargs and (state.rargs[0] == "-" or not state.rargs[0].startswith("-")):
                    original(state.rargs.pop(0), state)

            option.process = process
