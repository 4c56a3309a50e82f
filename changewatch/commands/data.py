"""``changewatch data``: the reference data the rules use (AWS's published IP ranges).

``refresh`` downloads AWS's ``ip-ranges.json`` (or reads a copy given with ``--from``),
checks it, and keeps it in the data directory, where the rules find it before the
snapshot packaged with changewatch; ``show`` says which snapshot is in use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from changewatch.cli_support import emit

__all__ = ["data"]


def _facts(ranges: Any) -> dict[str, Any]:
    return {
        "created": ranges.created.isoformat(),
        "sync_token": ranges.sync_token,
        "prefixes": ranges.prefixes,
        "source": ranges.source,
    }


@click.group()
def data() -> None:
    """Keep the reference data the rules use: AWS's published IP ranges."""


@data.command()
@click.option(
    "--from",
    "source",
    default=None,
    metavar="URL|FILE",
    help="Where to read ip-ranges.json  [default: AWS's published URL]",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory to keep it in  [default: $CHANGEWATCH_DATA_DIR, else "
    "$XDG_DATA_HOME/changewatch, else ~/.local/share/changewatch]",
)
@click.option(
    "--timeout", type=click.FloatRange(min=1), default=30.0, show_default=True, help="Seconds."
)
def refresh(source: str | None, data_dir: Path | None, timeout: float) -> None:
    """Download AWS's IP ranges, check them and keep them for the rules.

    An older snapshot than the one kept is refused (AWS's createDate only grows).
    """
    from features import (
        AWS_RANGES_URL,
        AwsRanges,
        InputError,
        fetch_ranges,
        refreshed_path,
        write_ranges,
    )

    content, ranges = fetch_ranges(source or AWS_RANGES_URL, timeout=timeout)
    target = refreshed_path() if data_dir is None else data_dir / refreshed_path().name
    previous = AwsRanges.load(target) if target.is_file() else None
    if previous is not None and ranges.created < previous.created:
        raise InputError(
            f"{ranges.source}: snapshot of {ranges.created:%Y-%m-%d %H:%M} is older than the "
            f"one kept in {target} ({previous.created:%Y-%m-%d %H:%M}); not replaced"
        )
    write_ranges(content, target)
    emit({**_facts(ranges), "source": ranges.source, "written": str(target)})


@data.command()
def show() -> None:
    """Say which AWS IP ranges snapshot the rules use, and how old it is."""
    from datetime import UTC, datetime

    from features import PACKAGED_AWS_RANGES, default_ranges, refreshed_path

    ranges = default_ranges()
    if ranges is None:
        emit(
            {"aws_ip_ranges": None, "looked_in": [str(refreshed_path()), str(PACKAGED_AWS_RANGES)]}
        )
        return
    age = (datetime.now(UTC) - ranges.created).days
    emit({"aws_ip_ranges": _facts(ranges), "age_days": age})
