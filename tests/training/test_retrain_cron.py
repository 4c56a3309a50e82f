"""The documented cron form of `retrain`, run night after night over a rolling window."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from changewatch.cli import cli
from tests.training.conftest import Labelled, write_events

NAME = "changewatch"
WEAK = ["--trees", "1", "--max-samples", "2"]


def _nightly(events: Path, labels: Path, uri: str, *extra: str) -> dict:
    # docs/training.md: MLFLOW_TRACKING_URI=... changewatch retrain -e /srv/events/ \
    #   --name changewatch --days 30 --labels /srv/labelled/labels.parquet
    args = ["retrain", "-e", str(events), "--name", NAME, "--days", "13", "--holdout-days", "3"]
    args += ["--labels", str(labels), "--trees", "40", *extra]
    done = CliRunner().invoke(cli, args, env={"MLFLOW_TRACKING_URI": uri})
    assert done.exit_code == 0, done.output
    summary: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def _equal_windows(promotion: dict) -> None:
    periods = promotion["periods"]
    assert periods["challenger"]["windows"] == periods["champion"]["windows"] > 0
    for key in ("start", "end", "events", "window"):
        assert periods["challenger"][key] == periods["champion"][key]


@pytest.mark.slow
def test_the_cron_job_promotes_a_better_challenger_and_rejects_a_worse_one(
    labelled: Labelled, tracking_uri: str, tmp_path: Path
) -> None:
    events = labelled.events
    yesterday = write_events(
        events[events["event_time"] < labelled.test_start + pd.Timedelta(days=2)],
        tmp_path / "yesterday.parquet",
    )
    today = write_events(events, tmp_path / "today.parquet")

    # night 1: the first model (a weak one, let in with --floor 0) becomes champion
    first = _nightly(yesterday, labelled.labels_path, tracking_uri, *WEAK, "--floor", "0")
    assert first["promotion"]["decision"] == "first"
    assert first["metrics"]["eval_windows"] > 0

    # night 2: the window rolls on a day; a better challenger is promoted
    better = _nightly(today, labelled.labels_path, tracking_uri)
    promotion = better["promotion"]
    assert promotion["decision"] == "promoted", promotion["reason"]
    assert promotion["challenger_value"] > promotion["champion_value"] + 0.02
    assert promotion["previous_champion"] == first["version"]
    assert promotion["champion"] == better["version"]
    _equal_windows(promotion)
    assert better["max_psi"] is not None

    # the same night, a worse challenger on the same windows is rejected
    worse = _nightly(today, labelled.labels_path, tracking_uri, *WEAK)
    promotion = worse["promotion"]
    assert promotion["decision"] == "rejected", promotion["reason"]
    assert promotion["challenger_value"] < promotion["champion_value"]
    assert promotion["champion"] == better["version"]
    _equal_windows(promotion)
