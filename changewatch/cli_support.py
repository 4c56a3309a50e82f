"""Helpers shared by the subcommands: the JSON summary line and progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

__all__ = ["emit", "progress"]


def emit(summary: dict[str, Any]) -> None:
    """Print the machine-readable summary as the last line of standard output."""
    click.echo(json.dumps(summary))


def progress(
    total: int, label: str, unit: str = "file"
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """Return ``(update, close)`` of a tqdm bar on a terminal; silent when not a terminal."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit=unit, disable=None, file=sys.stderr, leave=False)

    def update(count: int) -> None:
        bar.update(count)

    return update, bar.close
