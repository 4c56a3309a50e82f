"""One small simulation per session, ingested once, shared by the simulation tests."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from features import IngestOptions, IngestReport, ingest, read_events
from training.simulation import SimulationResult, simulate

SEED = 11
PARAMS: dict[str, Any] = {"days": 12, "test_days": 7, "scale": 0.1, "accounts": 3}


@dataclass
class Simulated:
    result: SimulationResult
    out: Path
    report: IngestReport
    events: pd.DataFrame
    labels: pd.DataFrame

    @property
    def manifest(self) -> dict[str, Any]:
        return self.result.manifest


def trail_files(out: Path) -> list[Path]:
    return sorted((out / "AWSLogs").rglob("*.json.gz"))


def raw_records(out: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in trail_files(out):
        with gzip.open(path, "rb") as handle:
            for record in orjson.loads(handle.read())["Records"]:
                yield path, record


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    out = tmp_path_factory.mktemp("sim") / "out"
    result = simulate(out, seed=SEED, **PARAMS)
    parquet = out.parent / "events.parquet"
    report = ingest(
        [out / "AWSLogs"], parquet, options=IngestOptions(jobs=1, geoip=str(out / "geo.mmdb"))
    )
    return Simulated(
        result, out, report, read_events(parquet), pd.read_parquet(out / "labels.parquet")
    )


@pytest.fixture(scope="session")
def sim_params() -> tuple[int, dict[str, Any]]:
    return SEED, PARAMS


@pytest.fixture(scope="session")
def trail_paths(simulated: Simulated) -> list[Path]:
    return trail_files(simulated.out)


@pytest.fixture(scope="session")
def records(simulated: Simulated) -> list[dict[str, Any]]:
    found = [record for _, record in raw_records(simulated.out)]
    found.sort(key=lambda r: (r["eventTime"], r["eventID"]))
    return found
