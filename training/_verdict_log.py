"""What a retraining on analysts' verdicts logs: the verdicts it saw, both models' precision.

``changewatch retrain --labels-from-state`` evaluates on the labels the findings book's
verdicts make (``serving.verdict_labels``). The run then records how many verdicts of
each kind it rested on (``verdicts_<kind>``) and the precision at the threshold of the
challenger and of the champion on them (``verdicts_challenger_precision``,
``verdicts_champion_precision``), read from the evaluation the run logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from training._tracking import tracking

__all__ = ["log_verdicts"]

logger = logging.getLogger(__name__)

_PRECISION: Final = "eval_precision_at_threshold"


def _comparison(run_id: str) -> dict[str, Any] | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        loaded: dict[str, Any] = mlflow.artifacts.load_dict(
            f"runs:/{run_id}/evaluation/comparison.json"
        )
    except (MlflowException, OSError):
        return None
    return loaded


def log_verdicts(
    run_id: str, verdicts: Mapping[str, int], tracking_uri: str | None
) -> dict[str, float | None]:
    """Log the verdict counts and both models' precision on them to the run; return the latter.

    A model whose precision is not defined (it flagged nothing) logs no value: the
    answer holds ``None`` for it.
    """
    import mlflow
    from mlflow import MlflowClient

    with tracking(tracking_uri):
        comparison = _comparison(run_id)
        run_metrics = MlflowClient().get_run(run_id).data.metrics
        figures: dict[str, float | None] = {"challenger": run_metrics.get(_PRECISION)}
        if comparison is not None and comparison.get("champion") is not None:
            figures["champion"] = comparison["champion"]["metrics"].get(_PRECISION)
        else:
            figures["champion"] = None
        with mlflow.start_run(run_id=run_id):
            for kind, count in sorted(verdicts.items()):
                mlflow.log_metric(f"verdicts_{kind}", float(count))
            for model, value in figures.items():
                if value is not None:
                    mlflow.log_metric(f"verdicts_{model}_precision", float(value))
            mlflow.set_tag("changewatch.labels", "verdicts from the findings book")
    logger.info("retrained on %s verdicts: precision %s", dict(verdicts), figures)
    return figures
