"""What train, evaluate, promote and retrain share: inputs, runs and a run's stored frames.

Argument types, the artifact names of a run's stored frames, experiment setup, and
writing/reading a Parquet frame as a run artifact.
"""

# MLflow is imported where used, so that importing training stays light.

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pandas as pd

from training._data import describe_sources, load_events, read_labels
from training._tracking import artifact_root_for, ensure_experiment

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "TRAINING_VECTORS",
    "EventsArg",
    "LabelsArg",
    "Progress",
]

EventsArg = Sequence[str | Path] | pd.DataFrame
LabelsArg = str | Path | pd.DataFrame | None
Progress = Callable[[int], None] | None

TRAINING_VECTORS: Final = "training_vectors.parquet"
"""Run artifact holding the training vectors (the next retrain's drift reference)."""
_EVAL_EVENTS: Final = "evaluation/events.parquet"
_EVAL_LABELS: Final = "evaluation/labels.parquet"


def _events(events: EventsArg) -> tuple[pd.DataFrame, str]:
    if isinstance(events, pd.DataFrame):
        return events.reset_index(drop=True), "<dataframe>"
    return load_events(events), describe_sources(events)


def _labels(labels: LabelsArg) -> pd.DataFrame | None:
    if labels is None or isinstance(labels, pd.DataFrame):
        return labels
    return read_labels(labels)


def _step(progress: Progress) -> None:
    if progress is not None:
        progress(1)


def _start_run_args(experiment: str, uri: str) -> str:
    from mlflow import MlflowClient

    return ensure_experiment(MlflowClient(), experiment, artifact_location=artifact_root_for(uri))


def _log_frame(frame: pd.DataFrame, artifact: str) -> None:
    import mlflow

    with tempfile.TemporaryDirectory(prefix="changewatch-artifact-") as scratch:
        path = Path(scratch) / Path(artifact).name
        frame.to_parquet(path, index=False)
        folder = str(Path(artifact).parent)
        mlflow.log_artifact(str(path), artifact_path=None if folder == "." else folder)


def _run_frame(client: MlflowClient, run_id: str, artifact: str) -> pd.DataFrame | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    names = (
        {f.path for f in client.list_artifacts(run_id, str(Path(artifact).parent))}
        if "/" in artifact
        else {f.path for f in client.list_artifacts(run_id)}
    )
    if artifact not in names:
        return None
    with tempfile.TemporaryDirectory(prefix="changewatch-fetch-") as scratch:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=artifact, dst_path=scratch
            )
        except MlflowException:  # pragma: no cover - listed a moment ago
            return None
        return pd.read_parquet(path)
