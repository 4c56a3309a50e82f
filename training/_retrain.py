"""retrain: the scheduled job (rolling window, held-out period, drift report, promotion).

With labels, the newest ``holdout_days`` of the window read are held out: the
challenger is fitted on the ``days - holdout_days`` before them, and champion and
challenger are scored on the held-out windows with the state each carries up to their
start (:mod:`training._periods`), then compared (:mod:`training._decision`). With
``evaluation_events`` that set is the evaluation period instead: the challenger is fitted
on the window before it when it lies inside the window, else on the whole window. Without
labels the challenger is fitted on the whole window and registered; promotion is skipped.
"""

# MLflow is imported where used, so that importing training stays light.

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from features import ConfigurationError, FeatureConfig
from training._drift import MAJOR_PSI, drift_report
from training._periods import ceil_to, floor_to, period_grid
from training._promote import PromotionResult, promote
from training._registry import CHAMPION, alias_version, load_model_bundle
from training._runs import TRAINING_VECTORS, EventsArg, LabelsArg, Progress, _events, _run_frame
from training._tracking import DEFAULT_EXPERIMENT, tracking
from training._train import TrainResult, train

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["RetrainResult", "retrain"]

logger = logging.getLogger(__name__)

_DAY: Final = pd.Timedelta(days=1)


@dataclass(frozen=True, slots=True)
class RetrainResult:
    """What the scheduled job did."""

    train: TrainResult
    promotion: PromotionResult | None
    max_psi: float | None
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the CLI's summary line."""
        data = self.train.to_json()
        data["promotion"] = self.promotion.to_json() if self.promotion else None
        data["max_psi"] = self.max_psi
        if self.skipped:
            data["promotion_skipped"] = self.skipped
        return data


@dataclass(frozen=True, slots=True)
class _Champion:
    version: str
    detector: Any
    vectors: pd.DataFrame | None


def _champion(name: str, tracking_uri: str | None) -> _Champion | None:
    from mlflow import MlflowClient

    from models import load_bundle

    with tracking(tracking_uri) as uri:
        client = MlflowClient()
        if not _registered(client, name):
            return None
        found = alias_version(client, name, CHAMPION)
        if found is None:
            return None
        bundle = load_model_bundle(f"models:/{name}/{found.version}", tracking_uri=uri)
        vectors = _run_frame(client, str(found.run_id), TRAINING_VECTORS)
    return _Champion(str(found.version), load_bundle(bundle), vectors)


def _periods(
    events: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    *,
    days: float,
    holdout_days: float,
    labelled: bool,
    configs: list[Any],
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return ``(since, until)`` of the challenger's training period."""
    end = ceil_to(pd.Timestamp(events["event_time"].max()), _DAY)
    since = end - pd.Timedelta(days=days)
    if not labelled:
        return since, end
    if evaluation is not None:
        start = floor_to(pd.Timestamp(evaluation["event_time"].min()), period_grid(configs))
        return since, start if since < start < end else end
    if holdout_days >= days:
        raise ConfigurationError(
            f"--holdout-days ({holdout_days:g}) must be shorter than --days ({days:g})"
        )
    start = ceil_to(end - pd.Timedelta(days=holdout_days), period_grid(configs, day=True))
    return since, start


def retrain(
    events: EventsArg,
    *,
    name: str,
    days: float = 30.0,
    holdout_days: float = 7.0,
    labels: LabelsArg = None,
    evaluation_events: EventsArg | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    tracking_uri: str | None = None,
    metric: str = "eval_pr_auc",
    tolerance: float | None = None,
    floor: float | None = None,
    exclude_labelled: bool = False,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    policy: Any = None,
    progress: Progress = None,
    **settings: Any,
) -> RetrainResult:
    """Run the scheduled job: hold out, train, compare with the champion, report drift, promote.

    Parameters
    ----------
    events : sequence of paths or pandas.DataFrame
        Every event available; the window is the newest ``days`` (to the end of the day
        of the newest event), and older events carry the models' state.
    name : str
        Registered model.
    days : float
        Length of the window read (training and held-out period together).
    holdout_days : float
        The newest days of the window held out for evaluation (with ``labels``).
    labels, evaluation_events : optional
        Labelled events; a separate labelled set replaces the held-out period.
    metric, tolerance, floor : optional
        Of :func:`training.promote`.
    exclude_labelled : bool
        Leave labelled attack events out of training.
    settings
        ``models.ChangeDetector`` settings (``feature_config``, ``n_estimators`` ...).

    Raises
    ------
    ConfigurationError, InputError
        When the window, the held-out period or the evaluation cannot be used (an
        evaluation that scores nothing is an error, not a decision).
    """
    all_events, sources = _events(events)
    given = _events(evaluation_events)[0] if evaluation_events is not None else None
    champion = _champion(name, tracking_uri)
    config = settings.get("feature_config") or FeatureConfig()
    configs = [config] + ([champion.detector] if champion else [])
    since, until = _periods(
        all_events, given, days=days, holdout_days=holdout_days,
        labelled=labels is not None, configs=configs,
    )  # fmt: skip
    logger.info(
        "retrain %s: training period [%s, %s), evaluation from %s", name, since, until, until
    )
    result = train(
        all_events,
        since=since,
        until=until,
        labels=labels,
        evaluation_events=given,
        experiment=experiment,
        tracking_uri=tracking_uri,
        register_as=name,
        history=champion.detector if champion else None,
        exclude_labelled=exclude_labelled,
        run_name=run_name or f"retrain {until:%Y-%m-%d}",
        tags={"changewatch.job": "retrain", "changewatch.sources": sources[:5000], **(tags or {})},
        policy=policy,
        progress=progress,
        **settings,
    )
    max_psi = _log_drift(result.run_id, champion, name, tracking_uri)
    if labels is None:
        return RetrainResult(result, None, max_psi, skipped="no labelled evaluation set")
    promotion = promote(
        name,
        version=result.version,
        metric=metric,
        tolerance=tolerance,
        floor=floor,
        tracking_uri=tracking_uri,
    )
    return RetrainResult(result, promotion, max_psi)


def _log_drift(
    run_id: str, champion: _Champion | None, name: str, tracking_uri: str | None
) -> float | None:
    """Log the drift report against the champion's training vectors; return the largest PSI."""
    if champion is None or champion.vectors is None:
        return None
    import mlflow
    from mlflow import MlflowClient

    with tracking(tracking_uri):
        current = _run_frame(MlflowClient(), run_id, TRAINING_VECTORS)
        assert current is not None
        keys = ("identity_key", "window_start", "window_end")
        features = [c for c in current.columns if c not in keys]
        report = drift_report(champion.vectors, current, features)
        finite = report["psi"].dropna()
        max_psi = float(finite.max()) if len(finite) else None
        with mlflow.start_run(run_id=run_id):
            mlflow.log_table(report, "drift/psi.json")
            if max_psi is not None:
                mlflow.log_metric("drift_max_psi", max_psi)
            mlflow.log_metric("drift_major_features", float((report["psi"] > MAJOR_PSI).sum()))
            mlflow.set_tag("drift.reference", f"models:/{name}/{champion.version}")
    return max_psi


def _registered(client: MlflowClient, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        return False
    return True
