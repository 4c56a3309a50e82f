"""Correctness: no leakage, incremental == batch, and agreement with the plain baseline."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features import FeatureConfig, FeatureState, behaviour_vectors, build_profiles

CONFIGS = [
    FeatureConfig(
        window="1h", horizon="6h", forget_days=1, cold_start_days=2, cold_start_active_days=2
    ),
    FeatureConfig(window="3h", horizon="2h", forget_days=2.5),
]


def _stream(
    events: pd.DataFrame, config: FeatureConfig, cuts: list[int], lag: str | None = None
) -> pd.DataFrame:
    """Feed ``events`` to the live-service loop in pieces; keep each window's last vector.

    With ``lag``, the state folds no further than that behind the latest event (the
    service keeps a day open, ADR 0032).
    """
    state = FeatureState.start(config=config)
    last: dict[tuple[str, pd.Timestamp], pd.Series] = {}
    bounds = [0, *sorted(set(cuts)), len(events)]
    for a, b in itertools.pairwise(bounds):
        part = events.iloc[a:b]
        for _, row in state.vectors(part).iterrows():
            last[(row["identity_key"], row["window_start"])] = row
        until = None if lag is None else int((part["event_time"].max() - pd.Timedelta(lag)).value)
        state = state.advance(part, until=until)
    out = pd.DataFrame(list(last.values())).sort_values(["identity_key", "window_start"])
    return out.reset_index(drop=True)


@pytest.mark.parametrize("config", CONFIGS, ids=["1h", "3h"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_future_events_do_not_change_past_windows(random_table, seed, config) -> None:
    events = random_table(seed, n=300, days=15)
    cut = pd.Timestamp("2024-03-08T05:00:00Z")
    before = behaviour_vectors(events, config=config)
    future = events["event_time"] >= cut
    rng = np.random.default_rng(seed)
    changed = events.copy()
    # rewrite the future: other regions, networks, clients, actions and many more events
    changed.loc[future, "region"] = "me-south-1"
    changed.loc[future, "network"] = [f"10.9.{i % 7}.0/24" for i in range(int(future.sum()))]
    changed.loc[future, "event_name"] = rng.choice(
        ["RunInstances", "GetPasswordData"], int(future.sum())
    )
    extra = changed[future].assign(event_id=lambda d: d["event_id"] + "-x")
    after = behaviour_vectors(pd.concat([changed, extra], ignore_index=True), config=config)
    past = before[before["window_end"] <= cut].reset_index(drop=True)
    assert len(past) > 50
    pd.testing.assert_frame_equal(after[after["window_end"] <= cut].reset_index(drop=True), past)


@pytest.mark.parametrize("config", CONFIGS, ids=["1h", "3h"])
@pytest.mark.parametrize("seed", [3, 4])
def test_profiles_plus_recent_events_give_the_batch_vectors(random_table, seed, config) -> None:
    events = random_table(seed, n=400, days=20)
    batch = behaviour_vectors(events, config=config)
    until = pd.Timestamp("2024-03-11T06:00:00Z")
    horizon = pd.Timedelta(config.horizon)
    time = events["event_time"]
    profiles = build_profiles(events[time < until], config, until=until)
    recent = events[(time >= until - horizon) & (time < until)]
    live = behaviour_vectors(events[time >= until], profiles, recent=recent)
    expected = batch[batch["window_start"] >= until].reset_index(drop=True)
    assert len(expected) > 50
    pd.testing.assert_frame_equal(live, expected)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    cuts=st.lists(st.integers(1, 249), min_size=1, max_size=8),
    which=st.sampled_from([0, 1]),
)
def test_streaming_in_random_batches_equals_batch(random_table, seed, cuts, which) -> None:
    config = CONFIGS[which]
    events = random_table(seed, n=250, days=12, identities=3)
    batch = behaviour_vectors(events, config=config)
    stream = _stream(events, config, cuts)
    pd.testing.assert_frame_equal(stream, batch, check_dtype=False)


def _baseline():  # type: ignore[no-untyped-def]
    path = Path(__file__).parents[2] / "bench" / "baseline_features.py"
    spec = importlib.util.spec_from_file_location("baseline_features", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.baseline_vectors


@pytest.mark.parametrize("config", CONFIGS, ids=["1h", "3h"])
def test_vectorised_features_equal_the_plain_per_event_baseline(random_table, config) -> None:
    events = random_table(5, n=150, days=8, identities=3)
    ours = behaviour_vectors(events, config=config)
    theirs = _baseline()(events, config)
    assert list(theirs.columns) == list(ours.columns)
    assert list(theirs["identity_key"]) == list(ours["identity_key"])
    for name in ours.columns[4:]:
        np.testing.assert_allclose(ours[name], theirs[name].astype(float), err_msg=name)


@pytest.mark.parametrize("seed", [6, 7])
def test_events_arriving_out_of_order_within_lateness_give_the_batch_vectors(random_table, seed):
    config = FeatureConfig(window="1h", horizon="6h", forget_days=1, lateness="30min")
    events = random_table(seed, n=300, days=10, identities=3)
    rng = np.random.default_rng(seed)
    delay = pd.to_timedelta(rng.integers(0, 30 * 60, len(events)), unit="s")
    arrival = events.assign(_arrival=events["event_time"] + delay).sort_values("_arrival")
    arrival = arrival.drop(columns="_arrival").reset_index(drop=True)
    cuts = sorted(rng.choice(np.arange(1, len(events)), 25, replace=False).tolist())
    stream = _stream(arrival, config, cuts)
    pd.testing.assert_frame_equal(
        stream, behaviour_vectors(events, config=config), check_dtype=False
    )


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    cuts=st.lists(st.integers(1, 249), min_size=1, max_size=8),
    lag=st.sampled_from(["0s", "5h", "30h"]),
)
def test_folding_no_further_than_a_lagging_boundary_equals_batch(random_table, seed, cuts, lag):
    config = CONFIGS[0]
    events = random_table(seed, n=250, days=12, identities=3)
    stream = _stream(events, config, cuts, lag)
    pd.testing.assert_frame_equal(
        stream, behaviour_vectors(events, config=config), check_dtype=False
    )


def test_a_state_keeps_only_open_events_and_the_look_back_the_sequences_read(random_table):
    config = CONFIGS[0]
    events = random_table(11, n=300, days=6, identities=2)
    state = FeatureState.start(config=config).advance(events)
    until = state.profiles.until
    assert until is not None
    recent = state.recent
    closed = recent[recent["event_time"] < until]
    assert len(closed) < int((events["event_time"] < until).sum())
    assert (closed["event_time"] >= until - pd.Timedelta(config.horizon)).all()
    assert set(closed["event_name"]) <= {
        "CreateSnapshot",
        "CreateSnapshots",
        "CopySnapshot",
        "CreateVolume",
        "RunInstances",
        "StopInstances",
        "ModifyInstanceAttribute",
    }
    assert len(recent[recent["event_time"] >= until]) == int((events["event_time"] >= until).sum())
