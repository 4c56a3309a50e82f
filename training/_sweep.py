"""sweep: many settings on the same data, as child runs of one parent run.

Events, labels and the evaluation set are read once; each setting is one
:func:`training.train` call logged as a child run (without the stored evaluation set
and the vector scorer, which a comparison of settings does not need). The parent run
holds ``sweep.json``, a table of every child's settings and headline metrics.
"""

# MLflow is imported where used, so that importing training stays light.

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import pandas as pd

from training._runs import EventsArg, LabelsArg, _events, _labels, _start_run_args
from training._tracking import DEFAULT_EXPERIMENT, tracking
from training._train import TrainResult, train

__all__ = ["sweep"]

logger = logging.getLogger(__name__)

_SUMMARY: Final = (
    "eval_pr_auc",
    "eval_roc_auc",
    "eval_alerts_per_day",
    "eval_scenarios_detected",
    "eval_median_hours_to_detect",
    "fit_seconds",
)


def _label(setting: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={getattr(v, 'window', v)}" for k, v in setting.items()) or "defaults"


def sweep(
    events: EventsArg,
    settings: Sequence[Mapping[str, Any]],
    *,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    labels: LabelsArg = None,
    evaluation_events: EventsArg | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    tracking_uri: str | None = None,
    run_name: str = "sweep",
) -> list[TrainResult]:
    """Train once per setting, each as a child run of one parent run.

    Parameters
    ----------
    events, since, until, labels, evaluation_events, experiment, tracking_uri
        As for :func:`training.train` (read once).
    settings : sequence of mappings
        Keyword arguments of :func:`training.train` per child, e.g.
        ``[{"n_estimators": 50}, {"n_estimators": 200, "max_samples": 512}]``.
    run_name : str
        Name of the parent run; children are named by their settings.

    Returns
    -------
    list of TrainResult
        One per setting, in order.

    Examples
    --------
    >>> from features import FeatureConfig                             # doctest: +SKIP
    >>> results = training.sweep(                                      # doctest: +SKIP
    ...     ["events.parquet"],
    ...     [{"feature_config": FeatureConfig(window=w)} for w in ("30min", "1h", "2h")],
    ...     until="2026-03-23", labels="labels.parquet")
    """
    import mlflow

    frame, _ = _events(events)
    label_table = _labels(labels)
    given = _events(evaluation_events)[0] if evaluation_events is not None else None
    results: list[TrainResult] = []
    with tracking(tracking_uri) as uri:
        experiment_id = _start_run_args(experiment, uri)
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as parent:
            for setting in settings:
                result = train(
                    frame,
                    since=since,
                    until=until,
                    labels=label_table,
                    evaluation_events=given,
                    experiment=experiment,
                    tracking_uri=uri,
                    run_name=_label(setting),
                    tags={"changewatch.sweep": parent.info.run_id},
                    nested=True,
                    log_evaluation_events=False,
                    log_vector_scorer=False,
                    **setting,
                )
                results.append(result)
            rows = [
                {
                    "run_id": r.run_id,
                    "settings": _label(s),
                    **{m: _plain(r.metrics.get(m)) for m in _SUMMARY},
                }
                for r, s in zip(results, settings, strict=True)
            ]
            mlflow.log_table(pd.DataFrame(rows), "sweep.json")
            mlflow.log_param("settings", len(settings))
    return results


def _plain(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)
