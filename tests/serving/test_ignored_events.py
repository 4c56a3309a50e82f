"""The model says which events of a batch it did not judge, and why (``ScoreResult.ignored``).

The detector measures each identity against profiles that end where its training data (then
the history before the batch) ends; an older event gets no window. The rules judge it all
the same, and the result names it with the reason.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from features import read_events
from models.scoring import ScorerInfo, WindowScore, load_policy, load_scorer, score_events
from tests.conftest import TrainedOrg
from tests.serving.conftest import stratus_records, to_events

SHARE = "aws.exfiltration.ec2-share-ebs-snapshot"


@pytest.fixture(scope="module")
def events(trained_org: TrainedOrg) -> pd.DataFrame:
    return read_events(trained_org.events_path)


def test_a_recording_older_than_the_training_data_is_left_to_the_rules(
    trained_org: TrainedOrg,
) -> None:
    scorer = load_scorer(trained_org.bundle)
    recording = to_events(stratus_records(SHARE))
    result = score_events(recording, load_policy(*trained_org.policy), scorer)
    assert result.windows == []
    assert result.ignored is not None
    assert result.ignored.count == len(recording)
    assert set(result.ignored.event_ids) == set(recording["event_id"])
    assert "older than the model's profiles" in result.ignored.reason
    assert f"{trained_org.test_start:%Y-%m-%dT%H:%M:%SZ}" in result.ignored.reason
    assert "the rules judged these" in result.ignored.reason
    assert result.hits, "the rules judge what the model leaves out"


def test_events_after_the_training_data_are_all_judged(
    trained_org: TrainedOrg, events: pd.DataFrame
) -> None:
    start = trained_org.test_start
    day = events[
        (events["event_time"] >= start) & (events["event_time"] < start + pd.Timedelta("1D"))
    ]
    result = score_events(day, None, load_scorer(trained_org.bundle))
    assert result.windows
    assert result.ignored is None


def test_a_batch_across_the_end_of_training_names_only_the_older_events(
    trained_org: TrainedOrg, events: pd.DataFrame
) -> None:
    start = trained_org.test_start
    hours = pd.Timedelta("3h")
    batch = events[(events["event_time"] >= start - hours) & (events["event_time"] < start + hours)]
    older = batch[batch["event_time"] < start]
    assert 0 < len(older) < len(batch)
    result = score_events(batch, None, load_scorer(trained_org.bundle))
    assert result.ignored is not None
    assert set(result.ignored.event_ids) == set(older["event_id"])
    assert result.windows
    assert all(w.window_start >= start for w in result.windows)


def test_history_moves_where_the_model_starts_judging(
    trained_org: TrainedOrg, events: pd.DataFrame
) -> None:
    start = trained_org.test_start
    later = events[events["event_time"] >= start]
    history = later[later["event_time"] < start + pd.Timedelta("2D")]
    again = history[history["event_time"] < start + pd.Timedelta("1D")]
    result = score_events(again, None, load_scorer(trained_org.bundle), history=history)
    assert result.ignored is not None
    assert result.ignored.count == len(again)
    assert f"{trained_org.test_start:%Y-%m-%d}" not in result.ignored.reason


class _WindowsOnly:
    """A scorer that keeps to the plain protocol (``score_windows``): nothing to report."""

    def info(self) -> ScorerInfo:
        return ScorerInfo("windows-only", "1")

    def score_windows(
        self, events: pd.DataFrame, history: pd.DataFrame | None = None
    ) -> list[WindowScore]:
        moment = datetime.fromisoformat("2026-03-02T10:00:00+00:00")
        return [WindowScore("someone", moment, moment + pd.Timedelta("1h"), 0.5, 50.0)]


def test_a_scorer_without_score_batch_reports_nothing_ignored() -> None:
    result = score_events(to_events(stratus_records(SHARE)), None, _WindowsOnly())
    assert len(result.windows) == 1
    assert result.ignored is None
