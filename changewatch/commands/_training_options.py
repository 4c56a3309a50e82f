"""Options and helpers shared by ``train``, ``evaluate``, ``promote`` and ``retrain``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from changewatch.cli_support import PathsOption, emit, progress

__all__ = [
    "EVENTS_HELP",
    "experiment_option",
    "floor_option",
    "forest_options",
    "labels_option",
    "metric_option",
    "parse_max_samples",
    "parse_tags",
    "run_options",
    "run_steps",
    "tolerance_option",
    "tracking_option",
    "windows_option",
]

TRACKING_HELP = (
    "MLflow tracking URI (sqlite:///..., postgresql://..., http://...); default "
    "$MLFLOW_TRACKING_URI, else sqlite:///./mlruns.db with artifacts in ./mlartifacts."
)
EVENTS_HELP = "CloudTrail files/directories (as for ingest) or canonical Parquet tables."

tracking_option = click.option("--tracking-uri", metavar="URI", help=TRACKING_HELP)
experiment_option = click.option(
    "--experiment", default="changewatch", show_default=True, help="MLflow experiment."
)
metric_option = click.option(
    "--metric",
    default="eval_pr_auc",
    show_default=True,
    metavar="NAME",
    help="Figure compared: eval_pr_auc, eval_roc_auc, eval_recall_at_1pct_fpr, "
    "eval_scenarios_detected, eval_scenario_recall, eval_benign_alerts_per_day or "
    "eval_median_hours_to_detect (docs/metrics.md says which way is better).",
)
tolerance_option = click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    help="Band around the champion's value that counts as a tie (a tie promotes); "
    "default per metric (0.02 for eval_pr_auc).",
)
floor_option = click.option(
    "--floor",
    type=float,
    help="Least value of the metric the challenger needs (default: the metric's floor, "
    "docs/metrics.md).",
)
windows_option = click.option(
    "--windows",
    "-w",
    "windows",
    cls=PathsOption,
    metavar="FILE...",
    help="The organisation's change policy (as for score): the evaluation's findings, and "
    "its alert budget (eval_benign_medium_plus_per_day ...), are judged with it.",
)
labels_option = click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="Labelled events (labels.parquet or CSV: event_id, scenario, kind).",
)


_F = TypeVar("_F", bound=Callable[..., Any])


def parse_tags(values: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for value in values:
        for item in filter(None, (part.strip() for part in value.split(","))):
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--tags")
            tags[key.strip()] = text.strip()
    return tags


def parse_max_samples(value: str) -> int | float | str:
    if value == "auto":
        return value
    try:
        number = float(value)
    except ValueError:
        raise click.BadParameter(
            f"expected 'auto', a count or a share in (0, 1], got {value!r}",
            param_hint="--max-samples",
        ) from None
    return int(number) if number > 1 else number


def run_options(command: _F) -> _F:
    options = [
        click.option("--run-name", metavar="NAME", help="Name of the MLflow run."),
        click.option(
            "--tags",
            "tags",
            multiple=True,
            metavar="KEY=VALUE[,...]",
            help="Extra run tags (repeatable).",
        ),
        click.option(
            "--exclude-labelled",
            is_flag=True,
            help="Leave events labelled as attacks out of the training period (they are "
            "always counted and warned about).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def forest_options(command: _F) -> _F:
    options = [
        click.option("--window", default="1h", show_default=True, help="Window per identity."),
        click.option(
            "--trees",
            "n_estimators",
            type=click.IntRange(min=1),
            default=100,
            show_default=True,
            help="Trees in the isolation forest.",
        ),
        click.option(
            "--threshold",
            type=click.FloatRange(0, 100),
            default=99.0,
            show_default=True,
            help="Alert percentile.",
        ),
        click.option("--seed", "random_state", type=int, default=0, show_default=True),
        click.option(
            "--max-samples",
            default="auto",
            show_default=True,
            help="Windows per tree: 'auto' (256), a count, or a share in (0, 1].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def run_steps(label: str, run: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Run a training pipeline with a step progress bar and print its JSON summary."""
    from training import TRAIN_STEPS

    update, close = progress(TRAIN_STEPS, label, unit="step")
    try:
        result = run(*args, progress=update, **kwargs)
    finally:
        close()
    emit(result.to_json())
