"""``changewatch train | evaluate | promote | retrain``: the detector's life in MLflow.

MLflow and the detector are imported inside the commands, so the other subcommands
never load them.
"""

from __future__ import annotations

import click

from changewatch.cli_support import PathsOption, emit
from changewatch.commands._training_options import (
    EVENTS_HELP,
    experiment_option,
    floor_option,
    forest_options,
    labels_option,
    metric_option,
    parse_max_samples,
    parse_tags,
    run_options,
    run_steps,
    tolerance_option,
    tracking_option,
    windows_option,
)

__all__ = ["evaluate", "promote", "retrain", "train"]


@click.command()
@click.option("--events", "-e", cls=PathsOption, required=True, metavar="PATH...", help=EVENTS_HELP)
@click.option("--from", "since", metavar="TIME", help="Training period start (ISO, UTC).")
@click.option("--until", metavar="TIME", help="Training period end, exclusive (ISO, UTC).")
@labels_option
@windows_option
@click.option(
    "--eval-events",
    cls=PathsOption,
    metavar="PATH...",
    help="Separate labelled evaluation events; default the events after --until.",
)
@experiment_option
@tracking_option
@click.option("--register", "register_as", metavar="NAME", help="Register as NAME@challenger.")
@forest_options
@run_options
@click.option(
    "--log-eval-events/--no-log-eval-events",
    default=True,
    show_default=True,
    help="Store the labelled evaluation set with the run (promote can re-score it).",
)
@click.option(
    "--vector-scorer/--no-vector-scorer",
    default=True,
    show_default=True,
    help="Also log the vector scorer (needed by score --engine spark).",
)
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
    max_samples: str,
    run_name: str | None,
    tags: tuple[str, ...],
    exclude_labelled: bool,
    log_eval_events: bool,
    vector_scorer: bool,
    engine: str,
    master: str | None,
    bundle_out: str | None,
    windows: tuple[str, ...],
) -> None:
    """Fit the detector on a baseline period and log it as one MLflow run.

    Logs parameters, the training data (as a dataset input), metrics, plots, the top
    anomalous windows with explanations, a model card and the scorer as a pyfunc model.
    With --labels the model is evaluated on --eval-events, else on the events after
    --until, with its state carried to their start; the run gets the reviewer's pack
    (confusion matrix, PR and ROC curves, threshold table, false positives per identity,
    bootstrap intervals). With --register and a NAME@champion, the champion is scored on
    the same windows for promote. A short baseline is warned about and tagged. The last
    line printed is {"run_id": ..., "model_uri": ...} as JSON.

    \b
    Examples:
      changewatch train --events events.parquet --register changewatch
      changewatch train --events sim/AWSLogs --until 2026-03-23 \\
          --labels sim/labels.parquet --register changewatch
      changewatch train -e events.parquet --until 2026-03-23 --labels labels.parquet \\
          --trees 200 --max-samples 512 --run-name wider --tags sweep=1
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

    run_steps(
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
        max_samples=parse_max_samples(max_samples),
        threshold=threshold,
        random_state=random_state,
        exclude_labelled=exclude_labelled,
        run_name=run_name,
        tags=parse_tags(tags),
        log_evaluation_events=log_eval_events,
        log_vector_scorer=vector_scorer,
        policy=list(windows) or None,
    )


@click.command()
@click.option("--model", "-m", "model_uri", required=True, metavar="URI", help="Model to evaluate.")
@click.option("--events", "-e", cls=PathsOption, required=True, metavar="PATH...", help=EVENTS_HELP)
@click.option("--labels", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--from",
    "since",
    metavar="TIME",
    help="Score the windows from TIME on; earlier events carry the model's state to TIME.",
)
@tracking_option
@windows_option
def evaluate(
    model_uri: str,
    events: tuple[str, ...],
    labels: str,
    since: str | None,
    tracking_uri: str | None,
    windows: tuple[str, ...],
) -> None:
    """Report a model's metrics on labelled events (JSON, per scenario too).

    The model's state is carried up to the evaluated period from the earlier events
    given. Events inside the model's training period are refused (in-sample); an
    evaluation that scores no window (every identity in cold start) is an error that
    says so. Metric names are those of the runs (docs/metrics.md).

    \b
    Examples:
      changewatch evaluate -m models:/changewatch@champion -e sim/AWSLogs \\
          --labels sim/labels.parquet --from 2026-03-23
      changewatch evaluate -m models:/changewatch/3 -e test.parquet --labels labels.parquet
    """
    from training import evaluate as run_evaluate

    result = run_evaluate(
        model_uri,
        list(events),
        labels,
        since=since,
        tracking_uri=tracking_uri,
        policy=list(windows) or None,
    )
    emit({"model_uri": model_uri, **result.to_json()})


@click.command()
@click.option("--name", required=True, help="Registered model name.")
@click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    help="Version to judge (default @challenger).",
)
@click.option("--events", "-e", cls=PathsOption, metavar="PATH...", help=EVENTS_HELP)
@labels_option
@click.option(
    "--from", "since", metavar="TIME", help="With --events: compare on the windows from TIME on."
)
@metric_option
@tolerance_option
@floor_option
@tracking_option
@windows_option
def promote(
    name: str,
    version: int | None,
    events: tuple[str, ...],
    labels: str | None,
    since: str | None,
    metric: str,
    tolerance: float | None,
    floor: float | None,
    tracking_uri: str | None,
    windows: tuple[str, ...],
) -> None:
    """Move NAME@champion to the challenger unless it is worse on the same windows.

    The challenger is NAME@challenger or --version. Both are compared on the same
    windows: those its training run scored both on, else --events/--labels scored now,
    else the evaluation set stored with its run. It must reach the metric's floor (the
    first model too, on a held-out evaluation); within --tolerance of the champion is a
    tie, and a tie promotes. Each decision is appended: a JSON record in the run
    (promotion/NNNN.json), promotion.* tags on the version and a line in its description.

    \b
    Examples:
      changewatch promote --name changewatch
      changewatch promote --name changewatch --version 4 --metric eval_roc_auc
      changewatch promote --name changewatch -e events.parquet --labels labels.parquet \\
          --from 2026-03-23
    """
    from training import promote as run_promote

    result = run_promote(
        name,
        version=version,
        events=list(events) or None,
        labels=labels,
        since=since,
        metric=metric,
        tolerance=tolerance,
        floor=floor,
        tracking_uri=tracking_uri,
        policy=list(windows) or None,
    )
    emit(result.to_json())


@click.command()
@click.option("--events", "-e", cls=PathsOption, required=True, metavar="PATH...", help=EVENTS_HELP)
@click.option("--name", required=True, help="Registered model name.")
@click.option(
    "--days",
    type=click.FloatRange(min=1, min_open=False),
    default=30.0,
    show_default=True,
    help="Window read: the newest DAYS of events (training and held-out period).",
)
@click.option(
    "--holdout-days",
    type=click.FloatRange(min=0, min_open=True),
    default=7.0,
    show_default=True,
    help="With --labels: the newest days of the window held out to compare on.",
)
@labels_option
@windows_option
@click.option(
    "--eval-events",
    cls=PathsOption,
    metavar="PATH...",
    help="A separate labelled set to compare on instead of the held-out days.",
)
@metric_option
@tolerance_option
@floor_option
@experiment_option
@tracking_option
@forest_options
@run_options
def retrain(
    events: tuple[str, ...],
    name: str,
    days: float,
    holdout_days: float,
    labels: str | None,
    eval_events: tuple[str, ...],
    metric: str,
    tolerance: float | None,
    floor: float | None,
    experiment: str,
    tracking_uri: str | None,
    window: str,
    n_estimators: int,
    threshold: float,
    random_state: int,
    max_samples: str,
    run_name: str | None,
    tags: tuple[str, ...],
    exclude_labelled: bool,
    windows: tuple[str, ...],
) -> None:
    """Run the scheduled job: hold out the newest days, train, compare, report drift, promote.

    With --labels the newest --holdout-days of the window are held out; the challenger
    is fitted on the days before them, continuing the champion's profiles, and champion
    and challenger are scored on the same held-out windows. The run logs a drift report
    against the champion's training vectors; the new version is registered as challenger
    (or an identical one reused) and promoted if it is not worse (see promote). An
    evaluation that scores no window is an error (exit 1), not a decision.

    \b
    Examples (cron, nightly at 03:00):
      0 3 * * * changewatch retrain -e /data/events/ --name changewatch \\
          --days 30 --labels /data/labels.parquet
    """
    from features import FeatureConfig
    from training import retrain as run_retrain

    run_steps(
        "retrain",
        run_retrain,
        list(events),
        name=name,
        days=days,
        holdout_days=holdout_days,
        labels=labels,
        evaluation_events=list(eval_events) or None,
        experiment=experiment,
        tracking_uri=tracking_uri,
        metric=metric,
        tolerance=tolerance,
        floor=floor,
        exclude_labelled=exclude_labelled,
        run_name=run_name,
        tags=parse_tags(tags),
        policy=list(windows) or None,
        feature_config=FeatureConfig(window=window),
        n_estimators=n_estimators,
        max_samples=parse_max_samples(max_samples),
        threshold=threshold,
        random_state=random_state,
    )
