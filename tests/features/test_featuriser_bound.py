"""``bench/featuriser_bound.py`` (ADR 0071) times featuriser calls on states with fewer events.

Its bound is only worth something if a cut call is an ordinary call: the state keeps the last
``k`` open events with the same profiles, its codes are ``pandas.factorize`` of the kept
columns, and its vectors are those a state built from the frame of those events gives.
"""

from __future__ import annotations

import importlib.util
import pathlib
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from features import EventColumns, FeatureConfig, FeatureState

CONFIG = FeatureConfig(window="1h", horizon="6h", forget_days=1)
_BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench" / "featuriser_bound.py"


@pytest.fixture(scope="module")
def bound() -> ModuleType:
    spec = importlib.util.spec_from_file_location("featuriser_bound", _BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def call(random_table: Callable[..., pd.DataFrame]) -> tuple[FeatureState, pd.DataFrame]:
    """A live state holding an identity's open events, and the call's next event."""
    frame = random_table(11, n=160, days=2, identities=1)
    text = {name: object for name, dtype in frame.dtypes.items() if str(dtype) == "str"}
    frame = frame.astype(text)
    boundary = int(pd.Timestamp(frame["event_time"].iloc[100]).floor("h").value)
    state = FeatureState.start(config=CONFIG).advance(frame.iloc[:100], until=boundary)
    for at in range(100, len(frame) - 1):  # one event a call, the windows from boundary open
        state = state.advance(frame.iloc[at : at + 1].reset_index(drop=True), until=boundary)
    return state, frame.iloc[-1:].reset_index(drop=True)


@pytest.mark.parametrize("keep", [1, 4, 16])
def test_a_cut_call_keeps_the_last_events_and_answers_as_the_frame_of_them(
    bound: ModuleType, call: tuple[FeatureState, pd.DataFrame], keep: int
) -> None:
    state, events = call
    held = state.open_events
    assert held is not None
    assert len(held) > keep
    [(cut, same_events, kwargs)] = bound.cut([(state, events, {})], keep)
    assert cut.profiles is state.profiles
    assert same_events is events
    assert kwargs == {}
    kept = cut.open_events
    assert isinstance(kept, EventColumns)
    assert len(kept) == keep
    tail = held.to_frame().iloc[len(held) - keep :].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept.to_frame(), tail)
    for name in ("event_name", "region", "identity_key"):
        coding = kept.coding(name)
        assert coding is not None
        codes, uniques = pd.factorize(np.asarray(tail[name]), use_na_sentinel=True)
        assert (coding[0].tolist(), coding[1]) == (codes.tolist(), list(uniques))
    pd.testing.assert_frame_equal(
        cut.vectors(events), FeatureState(state.profiles, tail).vectors(events)
    )


def test_keep_none_is_the_call_as_captured_and_keep_zero_a_state_without_events(
    bound: ModuleType, call: tuple[FeatureState, pd.DataFrame]
) -> None:
    state, events = call
    [(whole, _, _)] = bound.cut([(state, events, {})], None)
    assert whole is state
    [(bare, _, _)] = bound.cut([(state, events, {})], 0)
    assert bare.n_recent == 0
    assert bare.profiles is state.profiles
    [(small, _, _)] = bound.cut([(state, events, {})], state.n_recent + 5)
    assert small is state  # fewer events than asked for: as captured
