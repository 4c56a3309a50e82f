"""``changewatch train | evaluate | promote | retrain``: the detector's life in MLflow.

MLflow and the detector are imported inside the commands, so the other subcommands
never load them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from changewatch.cli_support import PathsOption, emit, progress

__all__ = ["evaluate", "promote", "retrain", "train"]

_TRACKING_HELP = (
    "MLflow tracking URI (sqlite:///..., postgresql://..., http://...); default "
    "$MLFLOW_TRACKING_URI, else sqlite:///./mlruns.db with artifacts in ./mlartifacts."
)
_EVENTS_HELP = "CloudTrail files/directories (as for ingest) or canonical Parquet tables."

_tracking_option = click.option("--tracking-uri", metavar="URI", help=_TRACKING_HELP)
_experiment_option = click.option(
    "--experiment", default="changewatch", show_default=True, help="MLflow experiment."
)


_F = TypeVar("_F", bound=Callable[..., Any])


def _forest_options(command: _F) -> _F:
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
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run_steps(label: str, run: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Run a training pipeline with a step progress bar and print its JSON summary."""
    from training import TRAIN_STEPS

    update, close = progress(TRAIN_STEPS, label, unit="step")
    try:
        result = run(*args, progress=update, **kwargs)
    finally:
        close()
    emit(result.to_json())


@click.command()
@click.option(
    "--events", "-e", cls=PathsOption, required=True, metavar="PATH...", help=_EVENTS_HELP
)
@click.option("--from", "since", metavar="TIME", help="Training period start (ISO, UTC).")
@click.option("--until", metavar="TIME", help="Training period end, exclusive (ISO, UTC).")
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="Labelled events (labels.parquet: event_id, scenario, kind).",
)
@click.option(
    "--eval-events",
    cls=PathsOption,
    metavar="PATH...",
    help="Separate labelled evaluation events; default the events after --until.",
)
@_experiment_option
@_tracking_option
@click.option("--register", "register_as", metavar="NAME", help="Register as NAME@challenger.")
@_forest_options
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="spark: featurise on Spark (pip install 'changewatch[spark]'), fit on a sample.",
)
@click.option("--master", metavar="URL", help="Spark master (with --engine spark), e.g. local[2].")
@click.option(
    "--out", "bundle_out", metavar="DIR", help="Also save the bundle here (--engine spark)."
)
def train(
    events: tuple[str, ...],
    since: str | None,
    until: str | None,
    labels: str | None,
    eval_events: tuple[str, ...],
    experiment: str,
    tracking_uri: str | None,
    register_as: str | None,
    window: str,
    n_estimators: int,
    threshold: float,
    random_state: int,
    engine: str,
    master: str | None,
    bundle_out: str | None,
) -> None:
    """Fit the detector on a baseline period and log it as one MLflow run.

    Logs parameters, the training data (as a dataset input), metrics, plots, the top
    anomalous windows with explanations, a model card and the scorer as a pyfunc model.
    With --labels the model is evaluated (ROC-AUC, PR-AUC, recall at 1% FPR, alerts per
    day, detection per scenario) on --eval-events, else on the events after --until.
    The last line printed is {"run_id": ..., "model_uri": ...} as JSON.

    \b
    Examples:
      changewatch train --events events.parquet --register changewatch
      changewatch train --events sim/AWSLogs --until 2026-03-23 \\
          --labels sim/labels.parquet --register changewatch
      changewatch train -e events.parquet --tracking-uri http://mlflow:5000
      changewatch train -e s3a://lake/events/ --engine spark --register changewatch
    """
    from features import FeatureConfig

    if engine == "spark":
        from training.spark import train_with_spark

        emit(
            train_with_spark(
                list(events),
                since=since,
                until=until,
                master=master,
                out=bundle_out,
                experiment=experiment,
                tracking_uri=tracking_uri,
                register_as=register_as,
                feature_config=FeatureConfig(window=window),
                n_estimators=n_estimators,
                random_state=random_state,
                threshold=threshold,
            )
        )
        return
    from training import train as run_train

    _run_steps(
        "train",
        run_train,
        list(events),
        since=since,
        until=until,
        labels=labels,
        evaluation_events=list(eval_events) or None,
        experiment=experiment,
        tracking_uri=tracking_uri,
        register_as=register_as,
        feature_config=FeatureConfig(window=window),
        n_estimators=n_estimators,
        threshold=threshold,
        random_state=random_state,
    )


@click.command()
@click.option("--model", "-m", "model_uri", required=True, metavar="URI", help="Model to evaluate.")
@click.option(
    "--events", "-e", cls=PathsOption, required=True, metavar="PATH...", help=_EVENTS_HELP
)
@click.option("--labels", required=True, type=click.Path(exists=True, dir_okay=False))
@_tracking_option
def evaluate(
    model_uri: str, events: tuple[str, ...], labels: str, tracking_uri: str | None
) -> None:
    """Report a model's metrics on labelled events (JSON, per scenario too).

    \b
    Examples:
      changewatch evaluate -m models:/changewatch@champion -e sim/AWSLogs \\
          --labels sim/labels.parquet
      changewatch evaluate -m models:/changewatch/3 -e stratus.parquet --labels stratus.csv
    """
    from training import evaluate as run_evaluate

    result = run_evaluate(model_uri, list(events), labels, tracking_uri=tracking_uri)
    emit({"model_uri": model_uri, **result.to_json()})


@click.command()
@click.option("--name", required=True, help="Registered model name.")
@click.option("--events", "-e", cls=PathsOption, metavar="PATH...", help=_EVENTS_HELP)
@click.option("--labels", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--metric",
    type=click.Choice(["pr_auc", "roc_auc", "recall_at_1pct_fpr", "scenarios_detected"]),
    default="pr_auc",
    show_default=True,
    help="Figure compared (higher is better).",
)
@_tracking_option
def promote(
    name: str,
    events: tuple[str, ...],
    labels: str | None,
    metric: str,
    tracking_uri: str | None,
) -> None:
    """Move NAME@champion to NAME@challenger unless the challenger is worse.

    Both are scored on the same labelled events: --events and --labels, else the
    evaluation set recorded with the challenger's run. The first model becomes
    champion. The decision and both figures are tagged on the challenger's version.

    \b
    Examples:
      changewatch promote --name changewatch
      changewatch promote --name changewatch -e stratus.parquet --labels stratus.csv
    """
    from training import promote as run_promote

    result = run_promote(
        name,
        events=list(events) or None,
        labels=labels,
        metric=metric,
        tracking_uri=tracking_uri,
    )
    emit(result.to_json())


@click.command()
@click.option(
    "--events", "-e", cls=PathsOption, required=True, metavar="PATH...", help=_EVENTS_HELP
)
@click.option("--name", required=True, help="Registered model name.")
@click.option(
    "--days",
    type=click.FloatRange(min=1, min_open=False),
    default=30.0,
    show_default=True,
    help="Train on the newest DAYS of events.",
)
@click.option("--labels", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--eval-events", cls=PathsOption, metavar="PATH...", help="Labelled evaluation events."
)
@_experiment_option
@_tracking_option
@_forest_options
def retrain(
    events: tuple[str, ...],
    name: str,
    days: float,
    labels: str | None,
    eval_events: tuple[str, ...],
    experiment: str,
    tracking_uri: str | None,
    window: str,
    n_estimators: int,
    threshold: float,
    random_state: int,
) -> None:
    """Run the scheduled job: train on the newest days, report drift, register, promote.

    Continues the champion's profiles, logs a drift report (population stability per
    feature against the champion's training vectors), registers the new version as
    challenger and promotes it if it is not worse on the labelled set.

    \b
    Examples (cron, nightly at 03:00):
      0 3 * * * changewatch retrain -e /data/events/ --name changewatch \\
          --days 30 --labels /data/labels.parquet --eval-events /data/labelled/
    """
    from features import FeatureConfig
    from training import retrain as run_retrain

    _run_steps(
        "retrain",
        run_retrain,
        list(events),
        name=name,
        days=days,
        labels=labels,
        evaluation_events=list(eval_events) or None,
        experiment=experiment,
        tracking_uri=tracking_uri,
        feature_config=FeatureConfig(window=window),
        n_estimators=n_estimators,
        threshold=threshold,
        random_state=random_state,
    )
