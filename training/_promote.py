"""evaluate and promote: score registered models on labelled events, move ``champion``.

:func:`promote` decides with :mod:`training._decision` on figures of the challenger and
the champion *on the same windows*: the comparison its run made at training time
(``evaluation/comparison.json``, when made against today's champion), else both scored
now on the labelled events given (``events``/``labels``, earlier events as context
before ``since``), else both scored on the run's stored evaluation set. Each decision
is appended to the registry (:mod:`training._record`).
"""

# MLflow is imported where used, so that importing training stays light.

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from features import ConfigurationError
from training._compare import compare_on_period, evaluate_on_period
from training._data import to_timestamp
from training._decision import Decision, criteria, decide
from training._evaluate import Evaluation
from training._metrics import PROMOTION_METRICS, canonical_metric, metric_spec
from training._periods import ceil_to, floor_to, period_grid
from training._record import append_decision
from training._registry import CHALLENGER, CHAMPION, alias_version, load_model_bundle
from training._runs import (
    _EVAL_EVENTS,
    _EVAL_LABELS,
    EventsArg,
    LabelsArg,
    _events,
    _labels,
    _run_frame,
)
from training._tracking import require_store, tracking
from training._train_data import read_policy

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

__all__ = ["PROMOTION_METRICS", "PromotionResult", "evaluate", "promote"]

logger = logging.getLogger(__name__)

_COMPARED: tuple[str, ...] = (*PROMOTION_METRICS, "eval_windows", "eval_scored_windows")


def _load(name: str, version: str, uri: str) -> Any:
    from models import load_bundle

    return load_bundle(load_model_bundle(f"models:/{name}/{version}", tracking_uri=uri))


def _start(detectors: list[Any], events: pd.DataFrame, since: Any) -> pd.Timestamp:
    step = period_grid(detectors)
    chosen = to_timestamp(since, name="since")
    if chosen is not None:
        return ceil_to(chosen, step)
    return floor_to(pd.Timestamp(events["event_time"].min()), step)


def evaluate(
    model_uri: str,
    events: EventsArg,
    labels: LabelsArg,
    *,
    since: str | pd.Timestamp | None = None,
    tracking_uri: str | None = None,
    policy: Any = None,
) -> Evaluation:
    """Report the evaluation metrics of any model on any labelled events.

    ``model_uri`` is anything :func:`training.load_model_bundle` resolves. The windows
    from ``since`` on are scored (default: all); earlier events carry the model's state
    up to ``since`` (:mod:`training._periods`). Events older than the model's profiles
    are scored against a state rebuilt from the earlier events given.

    Raises
    ------
    ConfigurationError
        When there are no labels, or the events overlap the model's training period
        (an in-sample evaluation; the message says how to evaluate instead).
    InputError
        When no window of the period is scored (every identity in cold start).
    """
    label_table = _labels(labels)
    if label_table is None:
        raise ConfigurationError("evaluate needs labels")
    detector = _load_any(model_uri, tracking_uri)  # a missing model fails before reading events
    table, _ = _events(events)
    start = _start([detector], table, since)
    context = table[table["event_time"] < start]
    result = evaluate_on_period(
        detector, table, label_table, start, context=context, policy=read_policy(policy)
    )
    logger.info("evaluated %s on %s", model_uri, result.facts())
    return result.evaluation


def _load_any(model_uri: str, tracking_uri: str | None) -> Any:
    from models import load_bundle

    return load_bundle(load_model_bundle(model_uri, tracking_uri=tracking_uri))


@dataclass(frozen=True, slots=True)
class PromotionResult:
    """The decision of :func:`promote` and the figures it rests on."""

    name: str
    decision: str
    champion_version: str | None
    challenger_version: str
    previous_champion: str | None
    metric: str
    challenger_value: float | None
    champion_value: float | None
    evaluated_on: str
    reason: str = ""
    record: str = "-"
    details: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Return the CLI's summary line."""
        return {
            "name": self.name,
            "decision": self.decision,
            "reason": self.reason,
            "champion": self.champion_version,
            "challenger": self.challenger_version,
            "previous_champion": self.previous_champion,
            "metric": self.metric,
            "challenger_value": self.challenger_value,
            "champion_value": self.champion_value,
            "evaluated_on": self.evaluated_on,
            "record": self.record,
            **self.details,
        }


@dataclass(frozen=True, slots=True)
class _Figures:
    """What the decision compares: both models' values, periods and windows."""

    challenger: dict[str, float | None]
    champion: dict[str, float | None] | None
    evaluated_on: str
    periods: dict[str, Any]
    windows: tuple[str, str | None]


def _values(metrics: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in _COMPARED:
        value = metrics.get(name)
        out[name] = None if value is None or math.isnan(float(value)) else float(value)
    return out


def _stored_dict(run_id: str, path: str) -> dict[str, Any] | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        loaded: dict[str, Any] = mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}")
    except (MlflowException, OSError):
        return None
    return loaded


def _from_comparison(run_id: str, champion: str) -> _Figures | None:
    stored = _stored_dict(run_id, "evaluation/comparison.json")
    if stored is None or str(stored.get("champion_version")) != champion:
        return None
    if stored.get("champion") is None:
        raise ConfigurationError(
            f"the challenger's run could not score champion version {champion} on its "
            f"evaluation period: {stored.get('error')}; pass --events and --labels"
        )
    ours, theirs = stored["challenger"], stored["champion"]
    return _Figures(
        _values(ours["metrics"]),
        _values(theirs["metrics"]),
        f"runs:/{run_id}/evaluation/comparison.json",
        {"challenger": ours["period"], "champion": theirs["period"]},
        (ours["period"]["window"], theirs["period"]["window"]),
    )


def _scored_now(
    detectors: tuple[Any, Any | None],
    champion_version: str | None,
    events: pd.DataFrame,
    labels: pd.DataFrame,
    since: Any,
    evaluated_on: str,
    policy: Any = None,
) -> _Figures:
    challenger, champion = detectors
    start = _start([d for d in detectors if d is not None], events, since)
    context = events[events["event_time"] < start]
    ours = evaluate_on_period(challenger, events, labels, start, context=context, policy=policy)
    if champion is None or champion_version is None:
        return _Figures(
            _values(ours.evaluation.metrics), None, evaluated_on,
            {"challenger": ours.facts()}, (ours.window, None),
        )  # fmt: skip
    compared = compare_on_period(
        ours, champion, champion_version, events, labels, context=context, policy=policy
    )
    if compared.champion is None:
        raise ConfigurationError(
            f"champion version {champion_version} cannot be scored on [{start}, ...): "
            f"{compared.error}"
        )
    return _Figures(
        _values(ours.evaluation.metrics),
        _values(compared.champion.evaluation.metrics),
        evaluated_on,
        {"challenger": ours.facts(), "champion": compared.champion.facts()},
        (ours.window, compared.champion.window),
    )


def _first_model_figures(client: MlflowClient, run_id: str) -> _Figures:
    run = client.get_run(run_id)
    kind = run.data.params.get("evaluation", "none")
    values = _values(run.data.metrics) if kind in ("held-out", "given") else {}
    return _Figures(values, None, f"runs:/{run_id} ({kind} evaluation)", {}, ("", None))


def _gather(
    client: MlflowClient,
    uri: str,
    name: str,
    challenger: ModelVersion,
    champion: ModelVersion | None,
    events: EventsArg | None,
    labels: LabelsArg,
    since: Any,
    policy: Any = None,
) -> _Figures:
    run_id = str(challenger.run_id)
    theirs = str(champion.version) if champion is not None else None
    if events is not None:
        table, sources = _events(events)
        label_table = _labels(labels)
        assert label_table is not None
        models = (
            _load(name, str(challenger.version), uri),
            _load(name, theirs, uri) if theirs else None,
        )
        return _scored_now(models, theirs, table, label_table, since, sources[:4000], policy)
    if theirs is None:
        return _first_model_figures(client, run_id)
    stored = _from_comparison(run_id, theirs)
    if stored is not None:
        return stored
    stored_events = _run_frame(client, run_id, _EVAL_EVENTS)
    stored_labels = _run_frame(client, run_id, _EVAL_LABELS)
    if stored_events is None or stored_labels is None:
        raise ConfigurationError(
            f"the run of {name} version {challenger.version} compared no champion "
            f"version {theirs} and stored no labelled evaluation set; pass --events and --labels"
        )
    models = (_load(name, str(challenger.version), uri), _load(name, theirs, uri))
    return _scored_now(
        models, theirs, stored_events, stored_labels, None,
        f"runs:/{run_id}/evaluation (stored set, no earlier events)", policy,
    )  # fmt: skip


def _challenger(client: MlflowClient, name: str, version: int | str | None) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    if version is not None:
        try:
            return client.get_model_version(name, str(version))
        except MlflowException as error:
            raise ConfigurationError(f"model {name!r} has no version {version}") from error
    found = alias_version(client, name, CHALLENGER)
    if found is None:
        raise ConfigurationError(f"model {name!r} has no @{CHALLENGER} version; train one first")
    return found


def promote(
    name: str,
    *,
    version: int | str | None = None,
    events: EventsArg | None = None,
    labels: LabelsArg = None,
    since: str | pd.Timestamp | None = None,
    metric: str = "eval_pr_auc",
    tolerance: float | None = None,
    floor: float | None = None,
    tracking_uri: str | None = None,
    policy: Any = None,
) -> PromotionResult:
    """Move ``name@champion`` to the challenger (``@challenger`` or ``version``) unless worse.

    Parameters
    ----------
    name : str
        Registered model.
    version : int or str, optional
        The version to judge; default ``@challenger``.
    events, labels : optional
        Labelled events to compare on now (both or neither); the windows from ``since``
        on are scored, earlier events carry the state.
    metric : str
        A :data:`PROMOTION_METRICS` name (``pr_auc`` is read as ``eval_pr_auc``).
    tolerance : float, optional
        Band around the champion's value that counts as a tie (default per metric).
    floor : float, optional
        Least value the challenger needs (default the metric's floor in the catalogue).
    tracking_uri : str, optional
        The store (never created here).

    Raises
    ------
    ConfigurationError
        When there is no challenger, the metric is unknown, or no comparison on equal
        windows can be made.
    """
    from mlflow import MlflowClient

    metric = canonical_metric(metric)
    if (events is None) != (labels is None):
        raise ConfigurationError("give both --events and --labels, or neither")
    spec = metric_spec(metric)
    floor = floor if floor is not None else (spec.floor if spec is not None else None)
    with tracking(require_store(tracking_uri)) as uri:
        client = MlflowClient()
        challenger = _challenger(client, name, version)
        champion = alias_version(client, name, CHAMPION)
        chosen = str(challenger.version)
        if champion is not None and str(champion.version) == chosen:
            figures = _Figures({}, None, "-", {}, ("", None))
            verdict = Decision("unchanged", f"version {chosen} is already the champion")
        else:
            figures = _gather(
                client, uri, name, challenger, champion, events, labels, since, read_policy(policy)
            )
            rules = criteria(
                metric,
                windows_differ=figures.windows[1] is not None
                and figures.windows[0] != figures.windows[1],
                tolerance=tolerance,
            )
            verdict = decide(rules, figures.challenger, figures.champion, floor=floor)
        if verdict.promotes:
            client.set_registered_model_alias(name, CHAMPION, chosen)
        return _report(client, name, challenger, champion, metric, floor, figures, verdict)


def _report(
    client: MlflowClient,
    name: str,
    challenger: ModelVersion,
    champion: ModelVersion | None,
    metric: str,
    floor: float | None,
    figures: _Figures,
    verdict: Decision,
) -> PromotionResult:
    chosen = str(challenger.version)
    previous = str(champion.version) if champion is not None else None
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "name": name,
        "challenger_version": chosen,
        "previous_champion": previous,
        "decision": verdict.decision,
        "reason": verdict.reason,
        "metric": metric,
        "floor": floor,
        "compared": verdict.compared,
        "evaluated_on": figures.evaluated_on,
        "periods": figures.periods,
        "challenger": figures.challenger,
        "champion": figures.champion,
    }
    where = append_decision(client, name, chosen, challenger.run_id, record)
    logger.info("%s version %s %s: %s", name, chosen, verdict.decision, verdict.reason)
    ours = figures.challenger.get(metric)
    theirs = (figures.champion or {}).get(metric)
    return PromotionResult(
        name,
        verdict.decision,
        chosen if verdict.promotes else previous,
        chosen,
        previous,
        metric,
        ours,
        theirs,
        figures.evaluated_on,
        verdict.reason,
        where,
        {"compared": verdict.compared, "periods": figures.periods, "floor": floor},
    )
