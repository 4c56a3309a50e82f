"""``changewatch labels export``: analysts' verdicts as the labels train, evaluate, retrain take."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from changewatch.cli_support import emit

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["labels", "verdict_labels_of"]


def verdict_labels_of(state: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return the labels the verdicts of a state database make, and the verdicts by kind.

    Raises
    ------
    InputError
        When the database holds no verdict that gives labels (benign or malicious).
    """
    from features import InputError
    from serving import FindingsBook, verdict_labels

    if not Path(state).is_file():
        raise InputError(f"{state}: no state database there")
    book = FindingsBook(state)
    try:
        verdicts = book.verdicts()
    finally:
        book.close()
    counts = Counter(str(v.resolution) for v in verdicts)
    frame = verdict_labels(verdicts)
    if frame.empty:
        raise InputError(
            f"{state}: no benign or malicious verdict yet ({sum(counts.values())} verdicts); "
            "give some with POST /v1/findings/{id}/verdict"
        )
    return frame, {kind: counts.get(kind, 0) for kind in ("benign", "malicious", "duplicate")}


@click.group()
def labels() -> None:
    """Labels from analysts' verdicts (the findings book of a state database)."""


@labels.command("export")
@click.option(
    "--state",
    required=True,
    type=click.Path(dir_okay=False),
    help="State database of `serve --state` or `score --state`.",
)
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="Labels file: Parquet, or CSV when it ends in .csv.",
)
def export(state: str, out: str) -> None:
    """Write the verdicts as event labels: malicious -> attack, benign -> hard_negative.

    Every event of a finding gets its verdict's label (scenario `verdict:<finding_id>`);
    duplicates give none. The file is what `train`, `evaluate` and `retrain` read with
    --labels.

    \b
    Example:
      changewatch labels export --state state.db --out labels.parquet
      changewatch evaluate -m models:/changewatch@champion -e events.parquet \\
          --labels labels.parquet
    """
    frame, verdicts = verdict_labels_of(state)
    if out.endswith(".csv"):
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    emit(
        {
            "verdicts": verdicts,
            "labels": len(frame),
            "labels_by_kind": {k: int(n) for k, n in frame["kind"].value_counts().items()},
            "out": out,
        }
    )
