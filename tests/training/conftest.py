"""One small labelled simulation per session (ingested once) and a tracking store per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features import CANONICAL_SCHEMA, IngestOptions, ingest, read_events
from training.simulation import simulate

PARAMS = {"days": 14, "test_days": 3, "scale": 0.5, "accounts": 2, "seed": 5}
FAST = {"n_estimators": 40, "random_state": 0}
WEAK = {"n_estimators": 1, "max_samples": 2, "random_state": 0}
"""One tree grown on two windows: too little to isolate anything (a worse challenger)."""


@dataclass(frozen=True)
class Labelled:
    """Simulated events, their labels and where the baseline ends."""

    events: pd.DataFrame
    labels: pd.DataFrame
    events_path: Path
    labels_path: Path
    test_path: Path
    test_start: pd.Timestamp

    @property
    def baseline(self) -> pd.DataFrame:
        return self.events[self.events["event_time"] < self.test_start].reset_index(drop=True)

    @property
    def test(self) -> pd.DataFrame:
        return self.events[self.events["event_time"] >= self.test_start].reset_index(drop=True)


def write_events(events: pd.DataFrame, path: Path) -> Path:
    """Write canonical events as a Parquet table (what `changewatch ingest` writes)."""
    pq.write_table(
        pa.Table.from_pandas(
            events[list(CANONICAL_SCHEMA.names)], schema=CANONICAL_SCHEMA, preserve_index=False
        ),
        path,
    )
    return path


@pytest.fixture(scope="session")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Labelled:
    out = tmp_path_factory.mktemp("sim")
    result = simulate(out / "sim", **PARAMS)
    events_path = out / "events.parquet"
    ingest([out / "sim" / "AWSLogs"], events_path, options=IngestOptions(jobs=1))
    events = read_events(events_path)
    test_start = pd.Timestamp(result.manifest["test"]["start"])
    write_events(events[events["event_time"] >= test_start], out / "test.parquet")
    return Labelled(
        events=events,
        labels=pd.read_parquet(out / "sim" / "labels.parquet"),
        events_path=events_path,
        labels_path=out / "sim" / "labels.parquet",
        test_start=test_start,
        test_path=out / "test.parquet",
    )


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    """A fresh SQLite tracking store (artifacts beside it in mlartifacts/)."""
    return f"sqlite:///{tmp_path / 'mlruns.db'}"


@pytest.fixture(autouse=True)
def _model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANGEWATCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def module_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tracking store shared by a module's read-only tests."""
    folder = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHANGEWATCH_CACHE", str(folder / "cache"))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield f"sqlite:///{folder / 'mlruns.db'}"
