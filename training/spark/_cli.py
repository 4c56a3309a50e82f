"""What ``changewatch train --engine spark`` and ``changewatch score --engine spark`` run.

The commands keep their options; with ``--engine spark`` they hand them to
:func:`train_with_spark` / :func:`score_with_spark`, which return the JSON summary
the command prints.
"""

# ruff: noqa: PLC0415 - pyspark and MLflow are optional: imported where they are used

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from features import CANONICAL_SCHEMA, ConfigurationError, FeatureConfig
from models.scoring import PolicyFile, Scorer

__all__ = ["score_windows_with_spark", "score_with_spark", "train_with_spark"]

logger = logging.getLogger(__name__)

_SEVERITIES = ("info", "low", "medium", "high", "critical")
_COUNTS = ("events", "hits", "windows", "suppressed", "below")


def _period(events: Any, since: str | None, until: str | None) -> Any:
    from pyspark.sql import functions as F  # noqa: N812

    from training._data import to_timestamp

    start, end = to_timestamp(since, name="since"), to_timestamp(until, name="until")
    if start is not None:
        events = events.where(F.col("event_time") >= F.lit(start.to_pydatetime()))
    if end is not None:
        events = events.where(F.col("event_time") < F.lit(end.to_pydatetime()))
    return events


def train_with_spark(
    events: Sequence[str],
    *,
    since: str | None = None,
    until: str | None = None,
    master: str | None = None,
    out: str | None = None,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    register_as: str | None = None,
    feature_config: FeatureConfig | None = None,
    n_estimators: int = 100,
    max_samples: int | float | str = "auto",
    random_state: int = 0,
    threshold: float = 99.0,
    exclude_cold_start: bool = True,
    max_windows: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Read, featurise and fit on Spark; save the bundle and/or log it to MLflow.

    Parameters
    ----------
    events : sequence of str
        CloudTrail files/directories or canonical Parquet, local or Hadoop URIs.
    since, until : str, optional
        Training period ``[since, until)``.
    master : str, optional
        Spark master; the active session (spark-submit, Databricks) by default.
    out : str, optional
        Bundle directory to write (``models.save_bundle``).
    experiment, tracking_uri, register_as : str, optional
        When ``experiment`` or ``register_as`` is given the scorer is logged as an
        MLflow run (and registered as ``register_as@challenger``).
    feature_config, n_estimators, max_samples, random_state, threshold, exclude_cold_start
        Settings of ``models.ChangeDetector``.
    max_windows : int, optional
        Windows collected for the forest (default :data:`MAX_TRAINING_WINDOWS`).
    progress : callable, optional
        Receives a short message after each stage.

    Returns
    -------
    dict
        The JSON summary: counts, period, where the model went.
    """
    from models import ChangeDetector, save_bundle
    from training.spark._io import read_events_spark
    from training.spark._session import spark_session
    from training.spark._train import MAX_TRAINING_WINDOWS, fit_detector_spark

    if out is None and experiment is None and register_as is None:
        raise ConfigurationError(
            "give --out, --experiment or --register-as: the model must go somewhere"
        )
    spark = spark_session(master)
    frame = _period(read_events_spark(spark, list(events)), since, until)
    estimator = ChangeDetector(
        feature_config=feature_config,
        n_estimators=n_estimators,
        max_samples=max_samples,
        random_state=random_state,
        threshold=threshold,
        exclude_cold_start=exclude_cold_start,
    )
    fit = fit_detector_spark(
        frame,
        estimator,
        max_windows=max_windows or MAX_TRAINING_WINDOWS,
        seed=random_state,
        progress=progress,
    )
    summary: dict[str, Any] = {
        "engine": "spark",
        "master": spark.sparkContext.master,
        "events": fit.n_events,
        "windows": fit.n_windows,
        "eligible_windows": fit.n_eligible,
        "training_windows": fit.n_sampled,
        "identity_groups": fit.buckets,
        "training_period": [str(t) for t in fit.detector.training_period_],
    }
    if out is not None:
        save_bundle(fit.detector, out)
        summary["bundle"] = str(out)
    if experiment is not None or register_as is not None:
        summary.update(_log(fit.detector, experiment, tracking_uri, register_as, summary))
    return summary


def _log(
    detector: Any,
    experiment: str | None,
    tracking_uri: str | None,
    register_as: str | None,
    summary: dict[str, Any],
) -> dict[str, Any]:
    import mlflow
    from mlflow import MlflowClient

    from models import save_bundle
    from training._registry import log_scorer, register
    from training._tracking import (
        DEFAULT_EXPERIMENT,
        artifact_root_for,
        ensure_experiment,
        tracking,
    )

    with tracking(tracking_uri) as uri:
        name = experiment or DEFAULT_EXPERIMENT
        experiment_id = ensure_experiment(
            MlflowClient(), name, artifact_location=artifact_root_for(uri)
        )
        example = detector.recent_[list(CANONICAL_SCHEMA.names)].tail(20).reset_index(drop=True)
        with (
            mlflow.start_run(experiment_id=experiment_id) as run,
            tempfile.TemporaryDirectory() as tmp,
        ):
            mlflow.set_tags({"changewatch.engine": "spark"})
            mlflow.log_params({k: v for k, v in summary.items() if not isinstance(v, list)})
            bundle = Path(tmp) / "bundle"
            save_bundle(detector, bundle)
            info = log_scorer(
                bundle,
                input_example=example,
                output_example=detector.score_windows(example),
                vector_example=detector.vectors(example),
            )
        logged: dict[str, Any] = {"run_id": run.info.run_id, "model_uri": info.model_uri}
        if register_as is not None:
            version = register(info.model_uri, register_as)
            logged["registered"] = f"{register_as}/{version.version}"
    return logged


def score_with_spark(
    scorer: Scorer | None,
    events: Sequence[str],
    *,
    out: str,
    policy: Sequence[PolicyFile] = (),
    output: str = "json",
    min_severity: str = "info",
    master: str | None = None,
) -> dict[str, Any]:
    """Score events on Spark into findings and write them as JSON lines (a folder of parts).

    The findings are those ``changewatch score`` gives on one machine: each identity group
    runs the scoring core (:func:`spark_findings`, ADR 0033).

    Parameters
    ----------
    scorer : Scorer or None
        The model (``models.scoring.load_scorer``, as the command line loads it), or
        ``None`` for the rules only.
    events : sequence of str
        CloudTrail or canonical Parquet, local or Hadoop URIs.
    out : str
        Output folder: Spark writes one ``part-*`` text file per task, each holding
        findings as JSON lines (or OCSF); the files together are the findings.
    policy : sequence of PolicyFile
        The change policy, resolved.
    output : {"json", "ocsf"}
        The findings' format.
    min_severity : str
        Findings below it are left out.
    master : str, optional
        Spark master; the active session by default.

    Returns
    -------
    dict
        The JSON summary, with the counts ``changewatch score`` prints.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F  # noqa: N812

    from training.spark._findings import spark_findings
    from training.spark._io import read_events_spark
    from training.spark._session import spark_session

    spark = spark_session(master)
    frame = read_events_spark(spark, list(events))
    rows = spark_findings(frame, scorer, policy, output=output, min_severity=min_severity).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        rows.where(F.col("line").isNotNull()).select("line").write.mode("overwrite").text(out)
        totals = (
            rows.where(F.col("line").isNull())
            .agg(
                *(F.sum(name).alias(name) for name in _COUNTS),
                F.collect_set("failed").alias("failed"),
            )
            .first()
        )
        severities = {
            str(r["severity"]): int(r["count"])
            for r in rows.where(F.col("line").isNotNull()).groupBy("severity").count().collect()
        }
    finally:
        rows.unpersist()
    if totals is None:  # pragma: no cover - an aggregate always has a row
        raise ConfigurationError("Spark returned no totals")
    failed = sorted({name for joined in (totals["failed"] or []) for name in joined.split(",")})
    return {
        "engine": "spark",
        "master": spark.sparkContext.master,
        "events": int(totals["events"] or 0),
        "model": str(scorer.info()) if scorer is not None else None,
        "windows_scored": int(totals["windows"] or 0),
        "hits": int(totals["hits"] or 0),
        "suppressed": int(totals["suppressed"] or 0),
        "rules_failed": failed,
        "findings": sum(severities.values()),
        "findings_below_min_severity": int(totals["below"] or 0),
        "findings_by_severity": {s: severities.get(s, 0) for s in _SEVERITIES},
        "format": output,
        "out": out,
    }


def score_windows_with_spark(
    model_uri: str,
    events: Sequence[str],
    *,
    out: str,
    master: str | None = None,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Score new events' windows on Spark with a registered model, and write them as Parquet.

    Window scores only (no rules, no findings: :func:`score_with_spark` gives those), by
    the model's *vector scorer* through ``mlflow.pyfunc.spark_udf``, for pipelines that
    score with MLflow's serving on Spark.

    The vectors are computed against the model's history per identity group
    (:func:`spark_scoring_vectors`), then scored row-wise by the model's vector scorer
    through ``mlflow.pyfunc.spark_udf`` (:func:`spark_udf_scores`). For an MLflow URI
    the vector scorer logged in the same run is used (``training.vector_scorer_uri``);
    for a bundle directory, or a model logged before vector scorers existed, one is
    written from the bundle into a temporary directory (the same code and bundle).

    Parameters
    ----------
    model_uri : str
        A bundle directory or an MLflow URI (``models:/NAME@alias``).
    events : sequence of str
        CloudTrail or canonical Parquet, local or Hadoop URIs.
    out : str
        Output directory (Parquet, written by Spark): ``identity``, ``window_start``,
        ``window_end``, ``score``, ``percentile``, ``cold_start``, ``explanation``,
        ``explanations`` (JSON text), then the vector columns; one row per window, as
        ``ChangeDetector.score_windows`` without ``event_ids``.
    master : str, optional
        Spark master; the active session by default.
    tracking_uri : str, optional
        See ``training.resolve_tracking_uri``.

    Returns
    -------
    dict
        The JSON summary: the model, the vector scorer used, windows written and scored.
    """
    from pyspark.sql import functions as F  # noqa: N812

    from models import load_bundle
    from training._registry import load_model_bundle, save_vector_scorer, vector_scorer_uri
    from training._tracking import resolve_tracking_uri, tracking
    from training.spark._io import read_events_spark
    from training.spark._score import spark_scoring_vectors, spark_udf_scores
    from training.spark._session import spark_session

    registry = model_uri.startswith(("models:/", "runs:/")) or "://" in model_uri
    resolved = resolve_tracking_uri(tracking_uri) if registry else None
    bundle = load_model_bundle(model_uri, tracking_uri=resolved)
    detector = load_bundle(bundle)
    scorer = vector_scorer_uri(model_uri, tracking_uri=resolved) if registry else None
    spark = spark_session(master)
    frame = read_events_spark(spark, list(events))
    vectors = spark_scoring_vectors(frame, detector.profiles_, detector.recent_)
    with tempfile.TemporaryDirectory(prefix="changewatch-vector-scorer-") as scratch:
        if scorer is None:
            if registry:
                logger.warning(
                    "model %s has no vector scorer (logged before it existed): "
                    "scoring with one written from its bundle",
                    model_uri,
                )
            scorer = save_vector_scorer(bundle, Path(scratch) / "vector_scorer")
            used = "bundle"
        else:
            used = scorer
        with tracking(resolved):  # spark_udf downloads the model here, on the driver
            scored = spark_udf_scores(vectors, scorer)
        scored.write.mode("overwrite").parquet(out)
    written = spark.read.parquet(out)
    scored_rows = F.when(F.col("score").isNotNull() & ~F.isnan("score"), 1)
    counts = written.agg(
        F.count(F.lit(1)).alias("windows"), F.count(scored_rows).alias("scored")
    ).first()
    return {
        "engine": "spark",
        "model": model_uri,
        "vector_scorer": used,
        "written": "scores",
        "windows": int(counts["windows"]) if counts else 0,
        "scored": int(counts["scored"]) if counts else 0,
        "out": out,
    }
