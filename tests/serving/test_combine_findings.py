"""combine_findings: the findings of combine() over every event's facts, or none when it is known.

Without a rule hit or an alerting window, every group the combiner forms is quiet and
``combine_findings`` answers at once; otherwise it reads the facts of the evidence only.
Either way the findings are those of :func:`models.scoring.combine` over the facts of every
event (the reference), which the cases below and a hypothesis property hold it to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import models.scoring._scoring as scoring
from models.scoring import (
    CombineSettings,
    Evaluation,
    Hit,
    ModelWindows,
    ScorerInfo,
    Severity,
    WindowScore,
    combine,
    combine_findings,
    event_facts,
    parse_policy,
)

BANDS = CombineSettings().bands
LOWEST = min(cut for cut, _ in BANDS)
"""The lowest band: a window at or above it alerts on its own (read, never copied)."""
INFO = ScorerInfo(name="test-model", version="1")

Records = Callable[..., dict[str, Any]]
Frame = Callable[[Iterable[dict[str, Any]]], pd.DataFrame]


@pytest.fixture(scope="module")
def events(rec: Records, events_of: Frame) -> pd.DataFrame:
    """Four changes of alice, one of bob: some judged by the policy's calendar."""
    return events_of(
        [
            rec("RunInstances", "2026-03-17T10:05:00Z", event_id="a-1"),
            rec("ModifyInstanceAttribute", "2026-03-17T10:20:00Z", event_id="a-2"),
            rec("StopInstances", "2026-03-17T11:10:00Z", event_id="a-3"),
            rec("CreateSnapshot", "2026-03-17T11:40:00Z", event_id="a-4"),
            rec("DeleteVolume", "2026-03-17T10:30:00Z", user="bob", event_id="b-1"),
        ]
    )


@pytest.fixture(scope="module")
def policy(policy_yaml: str) -> Any:
    return parse_policy(policy_yaml)


def _identity(events: pd.DataFrame, event_id: str) -> str:
    return str(events.loc[events["event_id"] == event_id, "identity_key"].iloc[0])


def _window(
    events: pd.DataFrame, hour: int, percentile: float, ids: tuple[str, ...], cold: bool = False
) -> WindowScore:
    start = datetime.fromisoformat(f"2026-03-17T{hour:02d}:00:00+00:00")
    return WindowScore(
        identity=_identity(events, ids[0]),
        window_start=start,
        window_end=start + timedelta(hours=1),
        score=0.0 if cold else 0.5,
        percentile=0.0 if cold else percentile,
        cold_start=cold,
        event_ids=ids,
    )


def _hit(events: pd.DataFrame, ids: tuple[str, ...]) -> Hit:
    times = events.set_index("event_id").loc[list(ids), "event_time"]
    return Hit(
        rule_id="ChangeWindow.OutsideApproved",
        severity=Severity.MEDIUM,
        technique="T1578",
        runbook="runbooks/change-window.md",
        event_ids=ids,
        identity=_identity(events, ids[0]),
        start=min(times).to_pydatetime(),
        end=max(times).to_pydatetime(),
        reason="a change outside every approved window",
    )


def _reference(
    events: pd.DataFrame, hits: list[Hit], windows: list[WindowScore], policy: Any
) -> list[Any]:
    """What combining gives over the facts of every event."""
    return combine(windows, hits, event_facts(events, policy), scorer=INFO)


# (hits, windows as (hour, percentile, event ids, cold)): which combinations make findings
CASES = {
    "quiet windows only": ([], [(10, LOWEST - 0.5, ("a-1", "a-2"), False)], False),
    "cold windows only": ([], [(11, 0.0, ("a-3",), True)], False),
    "nothing at all": ([], [], False),
    "an alerting window": ([], [(10, LOWEST, ("a-1", "a-2"), False)], True),
    "the top band": ([], [(11, max(c for c, _ in BANDS), ("a-3", "a-4"), False)], True),
    "a hit and a quiet window": ([("a-2",)], [(10, LOWEST - 1, ("a-1", "a-2"), False)], True),
    "a hit of another identity": ([("b-1",)], [(10, 1.0, ("a-1",), False)], True),
    "a hit, a cold window": ([("a-4",)], [(11, 0.0, ("a-3", "a-4"), True)], True),
}


@pytest.mark.parametrize(("hit_ids", "spans", "finds"), CASES.values(), ids=CASES.keys())
def test_findings_are_those_of_combine_over_every_events_facts(
    events: pd.DataFrame,
    policy: Any,
    hit_ids: list[tuple[str, ...]],
    spans: list[tuple[int, float, tuple[str, ...], bool]],
    finds: bool,
) -> None:
    hits = [_hit(events, ids) for ids in hit_ids]
    windows = [_window(events, *span) for span in spans]
    result = combine_findings(
        events, Evaluation(hits=hits), ModelWindows(windows), policy, scorer=INFO
    )
    assert result.findings == _reference(events, hits, windows, policy)
    assert bool(result.findings) is finds
    assert result.windows == windows
    assert result.hits == hits
    assert result.events == len(events)


def test_without_a_hit_or_an_alerting_window_nothing_is_read_or_combined(
    events: pd.DataFrame, policy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the answer is known: nothing should be read or combined")

    monkeypatch.setattr(scoring, "event_facts", never)
    monkeypatch.setattr(scoring, "combine", never)
    windows = [
        _window(events, 10, LOWEST - 0.1, ("a-1", "a-2")),
        _window(events, 11, 0.0, ("a-3",), cold=True),
    ]
    result = combine_findings(events, Evaluation(), ModelWindows(windows), policy, scorer=INFO)
    assert result.findings == []
    assert result.windows == windows


def test_an_alerting_window_is_combined_with_the_facts_of_its_events(
    events: pd.DataFrame, policy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[set[str]] = []
    real = scoring._facts_at

    def spy(frame: pd.DataFrame, rows: Any, policy: Any = None) -> Any:
        read.append(set(frame["event_id"].to_numpy()[rows]))
        return real(frame, rows, policy)

    monkeypatch.setattr(scoring, "_facts_at", spy)
    windows = [_window(events, 10, LOWEST, ("a-1", "a-2"))]
    result = combine_findings(events, Evaluation(), ModelWindows(windows), policy, scorer=INFO)
    assert len(result.findings) == 1
    assert read == [{"a-1", "a-2"}]  # the evidence's rows, not the whole frame
    assert result.findings == combine(windows, [], event_facts(events, policy), scorer=INFO)


@pytest.mark.parametrize(
    ("percentile", "built"),
    [(LOWEST, 1), (LOWEST - 0.1, 0)],
    ids=["an alerting window builds the frame once", "a quiet window builds no frame"],
)
def test_a_frame_built_on_demand_is_built_only_when_a_finding_needs_facts(
    events: pd.DataFrame, policy: Any, percentile: float, built: int
) -> None:
    calls: list[int] = []

    def frame() -> pd.DataFrame:
        calls.append(1)
        return events

    windows = [_window(events, 10, percentile, ("a-1", "a-2"))]
    lazy = combine_findings(
        frame, Evaluation(), ModelWindows(windows), policy, scorer=INFO, scored=7
    )
    eager = combine_findings(events, Evaluation(), ModelWindows(windows), policy, scorer=INFO)
    assert len(calls) == built
    assert lazy.findings == eager.findings
    assert (lazy.events, eager.events) == (7, len(events))


def test_a_frame_built_on_demand_needs_the_number_of_events_scored(
    events: pd.DataFrame,
) -> None:
    with pytest.raises(TypeError, match="scored"):
        combine_findings(lambda: events, Evaluation(), ModelWindows())


def test_the_models_events_give_the_facts_the_frame_lacks(
    events: pd.DataFrame, policy: Any
) -> None:
    frame = events[events["event_id"] != "a-1"].reset_index(drop=True)
    extra = events[events["event_id"].isin(["a-1", "a-2"])].reset_index(drop=True)
    windows = [_window(events, 10, 100.0, ("a-1", "a-2"))]
    result = combine_findings(frame, Evaluation(), ModelWindows(windows, extra), policy)
    reference = combine(windows, [], _facts_with(frame, extra, policy))
    assert result.findings == reference
    assert result.findings[0].account_id is not None


def _facts_with(frame: pd.DataFrame, extra: pd.DataFrame, policy: Any) -> Any:
    facts = event_facts(frame, policy)
    more = extra[~extra["event_id"].isin(list(facts))].reset_index(drop=True)
    facts.update(event_facts(more, policy))
    return facts


@settings(max_examples=40, deadline=None)
@given(
    percentiles=st.lists(
        st.one_of(
            st.sampled_from([c for c, _ in BANDS] + [LOWEST - 1e-9, 0.0]),
            st.floats(0.0, 100.0),
        ),
        min_size=0,
        max_size=3,
    ),
    cold=st.lists(st.booleans(), min_size=3, max_size=3),
    hit=st.booleans(),
)
def test_any_mix_of_windows_and_hits_gives_combines_findings(
    events: pd.DataFrame, policy: Any, percentiles: list[float], cold: list[bool], hit: bool
) -> None:
    spans = [(10, ("a-1", "a-2")), (11, ("a-3", "a-4")), (10, ("b-1",))]
    windows = [
        _window(events, hour, p, ids, cold=c)
        for (hour, ids), p, c in zip(spans, percentiles, cold, strict=False)
    ]
    hits = [_hit(events, ("a-2",))] if hit else []
    result = combine_findings(events, Evaluation(hits=hits), ModelWindows(windows), policy)
    assert result.findings == combine(windows, hits, event_facts(events, policy))
