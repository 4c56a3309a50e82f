"""A training run says which clouds its training events cover (the ``cloud`` column)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import features
from tests.cloud_steps import ZONE, az, gc
from tests.training.conftest import FAST, Labelled


def _moved(record: dict[str, Any], key: str, when: pd.Timestamp) -> dict[str, Any]:
    return {**record, key: when.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _other_clouds(start: pd.Timestamp) -> pd.DataFrame:
    """A few days of Azure and Google Cloud changes inside the baseline, through the readers."""
    records = []
    for day in range(1, 6):
        when = start + pd.Timedelta(days=day, hours=10)
        records.append(
            _moved(az(day, "virtualMachines/write", "virtualMachines/web-1"), "time", when)
        )
        entry = gc(day, "instances.setLabels", f"{ZONE}/instances/web-1")
        records.append(_moved(entry, "timestamp", when + pd.Timedelta(minutes=5)))
    result = features.records_to_table(records)
    assert not result.rejections, result.rejections
    return result.table.to_pandas()


@pytest.mark.slow
def test_a_run_over_three_clouds_says_so(labelled: Labelled, tracking_uri: str) -> None:
    from mlflow import MlflowClient

    from training import train

    start = labelled.events["event_time"].min()
    events = pd.concat([labelled.events, _other_clouds(start)], ignore_index=True)
    result = train(events, until=labelled.test_start, tracking_uri=tracking_uri, **FAST)
    run = MlflowClient(tracking_uri=tracking_uri).get_run(result.run_id)
    assert run.data.tags["changewatch.clouds"] == "aws,azure,gcp"
