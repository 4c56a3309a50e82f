"""Scoring a model on a period with the state it would have had at the period's start."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from changewatch.errors import InputError
from features import FEATURE_NAMES, FeatureConfig, behaviour_vectors
from models import ChangeDetector
from tests.training.conftest import FAST, Labelled
from training._periods import ceil_to, floor_to, model_state, period_grid, score_period

DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def early(labelled: Labelled) -> ChangeDetector:
    """A detector trained on the first 8 days only."""
    cut = labelled.events["event_time"].min().floor("D") + 8 * DAY
    baseline = labelled.events[labelled.events["event_time"] < cut]
    return ChangeDetector(**FAST).fit(baseline)


@pytest.fixture(scope="module")
def full(labelled: Labelled) -> ChangeDetector:
    return ChangeDetector(**FAST).fit(labelled.baseline)


def _vectors_from(vectors: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    chosen = vectors[vectors["window_start"] >= start]
    columns = ["identity_key", "window_start", *FEATURE_NAMES]
    return chosen[columns].sort_values(["identity_key", "window_start"]).reset_index(drop=True)


def test_a_continued_state_measures_windows_as_featurising_everything_at_once(
    labelled: Labelled, early: ChangeDetector
) -> None:
    start = labelled.test_start
    assert early.profiles_.until < start  # a gap of days the state is carried through
    state, origin = model_state(early, labelled.baseline, start)
    assert origin == "continued"
    assert state.profiles.until == start
    carried = _vectors_from(state.vectors(labelled.test), start)
    at_once = _vectors_from(behaviour_vectors(labelled.events), start)
    pd.testing.assert_frame_equal(carried, at_once, check_dtype=False)


def test_a_state_that_knows_the_period_is_rebuilt_from_earlier_events_only(
    labelled: Labelled, full: ChangeDetector
) -> None:
    start = labelled.test_start - 3 * DAY  # inside the model's training period
    before = labelled.events[labelled.events["event_time"] < start]
    state, origin = model_state(full, before, start)
    assert origin == "rebuilt"
    assert state.profiles.until == start
    later = labelled.events[labelled.events["event_time"] >= start]
    rebuilt = _vectors_from(state.vectors(later), start)
    at_once = _vectors_from(behaviour_vectors(labelled.events), start)
    pd.testing.assert_frame_equal(rebuilt, at_once, check_dtype=False)


def test_score_period_scores_every_event_of_the_period_and_flags_in_sample(
    labelled: Labelled, full: ChangeDetector
) -> None:
    held_out = score_period(full, labelled.events, labelled.test_start)
    assert held_out.state == "continued"
    assert not held_out.in_sample
    assert held_out.events == len(labelled.test)
    ids = {i for ids in held_out.windows["event_ids"] for i in ids}
    assert set(labelled.test["event_id"]) <= ids  # nothing dropped
    inside = score_period(full, labelled.events, labelled.test_start - 3 * DAY)
    assert inside.state == "rebuilt"
    assert inside.in_sample


def test_an_empty_period_is_an_error(labelled: Labelled, full: ChangeDetector) -> None:
    after = labelled.events["event_time"].max() + DAY
    with pytest.raises(InputError, match="no events in the evaluation period"):
        score_period(full, labelled.events, ceil_to(after, DAY))


def test_a_period_where_every_identity_is_new_is_an_error_that_says_why(
    labelled: Labelled, full: ChangeDetector
) -> None:
    start = labelled.events["event_time"].min().floor("D")  # before the model, no history
    first_day = labelled.events[labelled.events["event_time"] < start + DAY]
    with pytest.raises(InputError, match="cold start") as error:
        score_period(full, first_day, start)
    assert "rebuilt" in str(error.value)


@pytest.mark.parametrize(
    ("windows", "day", "expected"),
    [
        (["1h"], False, pd.Timedelta("1h")),
        (["1h", "2h"], False, pd.Timedelta("2h")),
        (["90min", "1h"], False, pd.Timedelta("3h")),
        (["90min", "1h"], True, DAY),
        (["7min"], True, pd.Timedelta("7min")),
    ],
)
def test_period_grid_is_the_lcm_of_the_windows(
    windows: list[str], day: bool, expected: pd.Timedelta
) -> None:
    configs = [FeatureConfig(window=w) for w in windows]
    assert period_grid(configs, day=day) == expected


def test_rounding_to_the_grid() -> None:
    moment = pd.Timestamp("2026-03-02T10:20:00Z")
    assert ceil_to(moment, pd.Timedelta("1h")) == pd.Timestamp("2026-03-02T11:00:00Z")
    assert floor_to(moment, pd.Timedelta("2h")) == pd.Timestamp("2026-03-02T10:00:00Z")
    assert ceil_to(pd.Timestamp("2026-03-02T00:00:00Z"), DAY) == pd.Timestamp(
        "2026-03-02", tz="UTC"
    )
    assert np.int64(floor_to(moment, DAY).value) % DAY.value == 0
