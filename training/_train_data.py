"""What :func:`training.train` reads: the training period, the labelled evaluation set.

The evaluation set is, with labels: ``evaluation_events`` when given ("given"), else
the events read after ``until`` ("held-out"), else the training events themselves
("in-sample", warned and tagged: promotion does not accept it as a floor).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features import ConfigurationError
from training._baseline import LabelledInTraining, labelled_in_training
from training._data import period, to_timestamp
from training._periods import ceil_to, floor_to
from training._runs import EventsArg, LabelsArg, _events, _labels

__all__ = ["TrainingData", "evaluation_period", "read_training_data"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainingData:
    """The inputs of one training run.

    Attributes
    ----------
    events : pandas.DataFrame
        Every event read (the context that carries models' state up to an evaluation).
    sources : str
        Where they came from.
    origin : object
        The events argument (for the datasets' source).
    training : pandas.DataFrame
        The events fitted on (labelled attacks removed with ``exclude_labelled``).
    until : pandas.Timestamp or None
        End of the training period as given.
    labels : pandas.DataFrame or None
        Labelled events.
    evaluation : pandas.DataFrame or None
        The events whose windows are evaluated; ``None`` without labels.
    evaluation_kind : str
        ``none``, ``given``, ``held-out`` or ``in-sample``.
    evaluation_origin : object
        The evaluation events argument (for the dataset's source).
    leakage : LabelledInTraining
        Labelled attack events found in the training period.
    policy : models.scoring.Policy or None
        The change policy findings are judged with in the evaluation (``--windows``).
    """

    events: pd.DataFrame
    sources: str
    origin: Any
    training: pd.DataFrame
    until: pd.Timestamp | None
    labels: pd.DataFrame | None
    evaluation: pd.DataFrame | None
    evaluation_kind: str
    evaluation_origin: Any
    leakage: LabelledInTraining
    policy: Any = None


def read_training_data(
    events: EventsArg,
    *,
    since: str | pd.Timestamp | None,
    until: str | pd.Timestamp | None,
    labels: LabelsArg,
    evaluation_events: EventsArg | None,
    exclude_labelled: bool,
    policy: Any = None,
) -> TrainingData:
    """Read the events and labels and choose the training and evaluation sets.

    Raises
    ------
    ConfigurationError
        When the training period holds no event.
    """
    all_events, sources = _events(events)
    label_table = _labels(labels)
    start, end = to_timestamp(since, name="since"), to_timestamp(until, name="until")
    training = period(all_events, start, end)
    if not len(training):
        raise ConfigurationError(f"no events in the training period [{since}, {until})")
    training, leakage = labelled_in_training(training, label_table, exclude=exclude_labelled)
    evaluation: pd.DataFrame | None = None
    kind, origin = "none", None
    if label_table is not None:
        if evaluation_events is not None:
            evaluation, _ = _events(evaluation_events)
            kind, origin = "given", evaluation_events
        elif end is not None and len(after := period(all_events, end, None)):
            evaluation, kind, origin = after, "held-out", events
        else:
            evaluation, kind, origin = training, "in-sample", events
            logger.warning(
                "no events after the training period: evaluating in-sample (the figures "
                "flatter the model; promotion does not accept them)"
            )
    return TrainingData(
        all_events,
        sources,
        events,
        training,
        end,
        label_table,
        evaluation,
        kind,
        origin,
        leakage,
        read_policy(policy),
    )


def read_policy(policy: Any) -> Any:
    """Return the change policy: ``None``, a ``Policy``, or policy YAML files to load."""
    if policy is None or not isinstance(policy, (str, Path, list, tuple)):
        return policy
    from models.scoring import load_policy

    paths = [policy] if isinstance(policy, (str, Path)) else list(policy)
    return load_policy(*paths) if paths else None


def evaluation_period(data: TrainingData, step: pd.Timedelta) -> tuple[pd.Timestamp, pd.DataFrame]:
    """Return the start of the evaluation period and the events read before it.

    ``step`` is the grid every model's windows align to. Held-out: the first boundary
    at or after ``until`` (events in between carry the state). Given: the boundary at or
    before the set's first event. In-sample: the boundary before the first training
    event, with no earlier events (the state grows from nothing, as in training).
    """
    assert data.evaluation is not None
    first = pd.Timestamp(data.evaluation["event_time"].min())
    if data.evaluation_kind == "held-out" and data.until is not None:
        start = ceil_to(data.until, step)
    elif data.evaluation_kind == "given":
        start = floor_to(first, step)
    else:
        return floor_to(first, step), data.events.iloc[0:0]
    return start, data.events[data.events["event_time"] < start]
