"""evaluate and promote: score registered models on labelled events, move ``champion``.

:func:`promote` compares ``@challenger`` with ``@champion``, decides, and records the
decision and both figures as ``promotion.*`` tags.
"""

# MLflow is imported where used, so that importing training stays light.

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from features import ConfigurationError
from training._evaluate import Evaluation
from training._registry import CHALLENGER, CHAMPION, alias_version, load_model_bundle
from training._runs import (
    _EVAL_EVENTS,
    _EVAL_LABELS,
    EventsArg,
    LabelsArg,
    _evaluate_detector,
    _events,
    _labels,
    _run_frame,
)
from training._tracking import tracking

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["PROMOTION_METRICS", "PromotionResult", "evaluate", "promote"]

logger = logging.getLogger(__name__)

PROMOTION_METRICS: Final = ("pr_auc", "roc_auc", "recall_at_1pct_fpr", "scenarios_detected")
"""Metrics promotion may compare on (higher is better for each)."""


def evaluate(
    model_uri: str,
    events: EventsArg,
    labels: LabelsArg,
    *,
    tracking_uri: str | None = None,
) -> Evaluation:
    """Report the evaluation metrics of any model on any labelled events.

    ``model_uri`` is anything :func:`training.load_model_bundle` resolves
    (``models:/NAME@champion``, ``models:/NAME/3``, ``runs:/...``, a local directory).
    """
    from models import load_bundle

    table, _ = _events(events)
    label_table = _labels(labels)
    if label_table is None:
        raise ConfigurationError("evaluate needs labels")
    detector = load_bundle(load_model_bundle(model_uri, tracking_uri=tracking_uri))
    return _evaluate_detector(detector, table, label_table)


@dataclass(frozen=True, slots=True)
class PromotionResult:
    """The decision of :func:`promote` and the figures it rests on."""

    name: str
    decision: str
    champion_version: str
    challenger_version: str
    previous_champion: str | None
    metric: str
    challenger_value: float | None
    champion_value: float | None
    evaluated_on: str

    def to_json(self) -> dict[str, Any]:
        """Return the CLI's summary line."""
        return {
            "name": self.name,
            "decision": self.decision,
            "champion": self.champion_version,
            "challenger": self.challenger_version,
            "previous_champion": self.previous_champion,
            "metric": self.metric,
            "challenger_value": self.challenger_value,
            "champion_value": self.champion_value,
            "evaluated_on": self.evaluated_on,
        }


def _value(evaluation: Evaluation, metric: str) -> float | None:
    value = evaluation.metrics.get(metric, math.nan)
    return None if math.isnan(value) else float(value)


def promote(
    name: str,
    *,
    events: EventsArg | None = None,
    labels: LabelsArg = None,
    metric: str = "pr_auc",
    tracking_uri: str | None = None,
) -> PromotionResult:
    """Compare ``name@challenger`` with ``name@champion`` and move ``champion`` if not worse.

    Both are scored on the same labelled events: ``events`` and ``labels`` when given,
    else the evaluation set recorded with the challenger's run. The first model becomes
    champion without a comparison. The decision, the metric and both figures are set as
    tags on the challenger's model version (``promotion.*``).

    Raises
    ------
    ConfigurationError
        When there is no challenger, the metric is unknown, or a comparison is needed
        and no labelled set is available.
    """
    from mlflow import MlflowClient

    if metric not in PROMOTION_METRICS:
        raise ConfigurationError(
            f"metric must be one of {', '.join(PROMOTION_METRICS)}, got {metric!r}"
        )
    if (events is None) != (labels is None):
        raise ConfigurationError("give both --events and --labels, or neither")
    with tracking(tracking_uri) as uri:
        client = MlflowClient()
        challenger = alias_version(client, name, CHALLENGER)
        if challenger is None:
            raise ConfigurationError(
                f"model {name!r} has no @{CHALLENGER} version; train one first"
            )
        champion = alias_version(client, name, CHAMPION)
        version = str(challenger.version)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        if champion is None or str(champion.version) == version:
            decision = "first" if champion is None else "unchanged"
            client.set_registered_model_alias(name, CHAMPION, version)
            _tag(client, name, version, {"decision": decision, "metric": metric, "time": now})
            return PromotionResult(name, decision, version, version, None, metric, None, None, "-")
        table: pd.DataFrame | None
        if events is not None:
            table, evaluated_on = _events(events)
            label_table = _labels(labels)
        else:
            run = str(challenger.run_id)
            table = _run_frame(client, run, _EVAL_EVENTS)
            label_table = _run_frame(client, run, _EVAL_LABELS)
            evaluated_on = f"runs:/{run}/evaluation"
        if table is None or label_table is None:
            raise ConfigurationError(
                f"the run of {name} version {version} recorded no labelled evaluation set; "
                "pass --events and --labels"
            )
        from models import load_bundle

        figures = {}
        for role, mv in ((CHALLENGER, challenger), (CHAMPION, champion)):
            bundle = load_model_bundle(f"models:/{name}/{mv.version}", tracking_uri=uri)
            figures[role] = _evaluate_detector(load_bundle(bundle), table, label_table)
        ours, theirs = _value(figures[CHALLENGER], metric), _value(figures[CHAMPION], metric)
        if ours is None:
            decision = "rejected"
        elif theirs is None:
            decision = "promoted"
        else:
            decision = "promoted" if ours >= theirs - 1e-12 else "rejected"
        if decision == "promoted":
            client.set_registered_model_alias(name, CHAMPION, version)
        tags: dict[str, Any] = {
            "decision": decision,
            "metric": metric,
            "time": now,
            "evaluated_on": evaluated_on[:4000],
            "champion_version": str(champion.version),
        }
        for role, evaluation in figures.items():
            for key in PROMOTION_METRICS:
                tags[f"{role}.{key}"] = _value(evaluation, key)
        _tag(client, name, version, tags)
        logger.info("%s version %s %s (%s %s vs %s)", name, version, decision, metric, ours, theirs)
        return PromotionResult(
            name,
            decision,
            version if decision == "promoted" else str(champion.version),
            version,
            str(champion.version),
            metric,
            ours,
            theirs,
            evaluated_on,
        )


def _tag(client: MlflowClient, name: str, version: str, tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(
            name, version, f"promotion.{key}", "none" if value is None else str(value)
        )
    client.set_registered_model_tag(
        name, "promotion.last", json.dumps({"version": version, **tags}, default=str)
    )
