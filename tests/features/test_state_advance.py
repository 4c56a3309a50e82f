"""FeatureState.advance keeps the open events and the look-back the sequence features read."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features import FeatureConfig, FeatureState, to_ns
from features._sequences import lookback_mask

CONFIG = FeatureConfig(window="1h", horizon="6h", forget_days=1)


def _rule(frame: pd.DataFrame, boundary: int, config: FeatureConfig) -> pd.DataFrame:
    """The keeping rule, over the whole frame at once: open rows, look-back in the horizon."""
    time = to_ns(frame["event_time"])
    keep = (time >= boundary) | ((time >= boundary - config.horizon_ns) & lookback_mask(frame))
    return frame[keep].reset_index(drop=True)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 3), cuts=st.lists(st.integers(1, 299), max_size=6), lag=st.booleans())
def test_each_advance_keeps_what_the_rule_keeps_over_the_whole_frame(
    random_table: Callable[..., pd.DataFrame], seed: int, cuts: list[int], lag: bool
) -> None:
    events = random_table(seed, n=300, days=6)
    state = FeatureState.start(config=CONFIG)
    for a, b in itertools.pairwise([0, *sorted(set(cuts)), len(events)]):
        part = events.iloc[a:b]
        latest = int(part["event_time"].max().value)
        until = latest - 3 * 3_600 * 10**9 if lag else None
        frame = pd.concat([state.recent, part], ignore_index=True) if len(state.recent) else part
        state = state.advance(part, until=until)
        assert state.until_ns is not None
        expected = _rule(frame.reset_index(drop=True), state.until_ns, CONFIG)
        pd.testing.assert_frame_equal(state.recent, expected)


def test_a_batch_that_drops_nothing_is_kept_as_given(
    random_table: Callable[..., pd.DataFrame],
) -> None:
    events = random_table(0, n=120, days=2)
    state = FeatureState.start(config=CONFIG).advance(events)
    latest = to_ns(state.recent["event_time"]).max()
    later = events.iloc[:2].assign(
        event_id=["later-1", "later-2"],
        event_time=pd.Timestamp(int(latest), tz="UTC") + pd.Timedelta("1min"),
    )
    after = state.advance(later, until=state.until_ns)
    assert after.profiles is state.profiles  # no fold: the boundary stays
    assert list(after.recent["event_id"]) == [*state.recent["event_id"], "later-1", "later-2"]


def test_events_sent_again_replace_their_kept_copies(
    random_table: Callable[..., pd.DataFrame],
) -> None:
    events = random_table(1, n=80, days=1)
    state = FeatureState.start(config=CONFIG).advance(events.iloc[:40])
    again = state.recent.iloc[-3:]
    after = state.advance(again, until=state.until_ns)
    ids = list(after.recent["event_id"])
    assert len(ids) == len(set(ids)) == len(state.recent)
    assert ids[-3:] == list(again["event_id"])


@pytest.mark.parametrize("closed", [True, False], ids=["look-back rows", "no look-back rows"])
def test_the_look_back_rule_is_asked_about_closed_rows_only(
    random_table: Callable[..., pd.DataFrame], closed: bool
) -> None:
    events = random_table(2, n=200, days=3)
    if not closed:  # none of the earlier rows is a chain or restart step
        events = events[~lookback_mask(events)].reset_index(drop=True)
    state = FeatureState.start(config=CONFIG).advance(events)
    until = state.until_ns
    assert until is not None
    time = to_ns(state.recent["event_time"])
    looked_back = time < until
    assert bool(looked_back.any()) is closed
    assert lookback_mask(state.recent)[looked_back].all()
    assert (time[~looked_back] >= until).all()
    assert np.all(time >= until - CONFIG.horizon_ns)
