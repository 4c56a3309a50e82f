"""retrain: the scheduled job (newest days, profile merge, train, drift report, promote)."""

# MLflow is imported where used, so that importing training stays light.

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from training._drift import MAJOR_PSI, drift_report
from training._promote import PromotionResult, promote
from training._registry import CHAMPION, alias_version, load_model_bundle
from training._runs import TRAINING_VECTORS, EventsArg, LabelsArg, Progress, _events, _run_frame
from training._tracking import DEFAULT_EXPERIMENT, tracking
from training._train import TrainResult, train

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["RetrainResult", "retrain"]


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


def retrain(
    events: EventsArg,
    *,
    name: str,
    days: float = 30.0,
    labels: LabelsArg = None,
    evaluation_events: EventsArg | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    tracking_uri: str | None = None,
    metric: str = "pr_auc",
    progress: Progress = None,
    **settings: Any,
) -> RetrainResult:
    """Run the scheduled job: train on the newest ``days``, report drift, register, promote.

    Steps: newest ``days`` of events, profile merge, train, evaluate, register, drift
    report against the champion's training data, promote.

    The previous champion's profiles carry history older than ``days`` (identities
    quiet lately keep their baseline). ``settings`` go to ``models.ChangeDetector``
    (``n_estimators``, ``threshold``, ...). Without labels the new version becomes
    champion only when there is none yet.
    """
    import mlflow
    from mlflow import MlflowClient

    from models import load_bundle

    all_events, _ = _events(events)
    end = pd.Timestamp(all_events["event_time"].max())
    since = end - pd.Timedelta(days=days)
    previous = None
    reference = None
    with tracking(tracking_uri) as uri:
        client = MlflowClient()
        champion = alias_version(client, name, CHAMPION) if _registered(client, name) else None
        if champion is not None:
            previous = load_bundle(
                load_model_bundle(f"models:/{name}/{champion.version}", tracking_uri=uri)
            )
            reference = _run_frame(client, str(champion.run_id), TRAINING_VECTORS)
    result = train(
        all_events,
        since=since,
        labels=labels,
        evaluation_events=evaluation_events,
        experiment=experiment,
        tracking_uri=tracking_uri,
        register_as=name,
        history=getattr(previous, "profiles_", None),
        run_name=f"retrain {end:%Y-%m-%d}",
        tags={"changewatch.job": "retrain"},
        progress=progress,
        **settings,
    )
    max_psi = None
    with tracking(tracking_uri) as uri:
        client = MlflowClient()
        if reference is not None:
            current = _run_frame(client, result.run_id, TRAINING_VECTORS)
            assert current is not None
            features = [
                c
                for c in current.columns
                if c not in ("identity_key", "window_start", "window_end")
            ]
            report = drift_report(reference, current, features)
            finite = report["psi"].dropna()
            max_psi = float(finite.max()) if len(finite) else None
            with mlflow.start_run(run_id=result.run_id):
                mlflow.log_table(report, "drift/psi.json")
                if max_psi is not None:
                    mlflow.log_metric("drift_max_psi", max_psi)
                mlflow.log_metric("drift_major_features", float((report["psi"] > MAJOR_PSI).sum()))
                mlflow.set_tag(
                    "drift.reference", f"models:/{name}/{champion.version if champion else '-'}"
                )
        has_eval = labels is not None
        if champion is not None and not has_eval:
            return RetrainResult(result, None, max_psi, skipped="no labelled evaluation set")
    promotion = promote(name, metric=metric, tracking_uri=tracking_uri)
    return RetrainResult(result, promotion, max_psi)


def _registered(client: MlflowClient, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        return False
    return True
