"""The calendar's shortcuts give the verdicts the plain computation gives (ADR 0017).

Four shortcuts keep judging cheap in the service: occurrences generated once and
searched by bisection (instead of ``rrule.between``, which walks from 2000 on every
call), occurrences cached per UTC day, verdicts remembered per distinct event, and a
single event judged without a frame (``ChangeCalendar.judge`` with ``scope_covers``).
Each is compared here with the straightforward computation on random events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features import CANONICAL_SCHEMA
from models.scoring import (
    ChangeCalendar,
    Schedule,
    cron_to_rule,
    load_policy,
    parse_policy,
    parse_rrule,
)
from models.scoring._calendar import JUDGED_COLUMNS, _covering, _inside, event_micros, micros
from models.scoring._schedule import parse_duration, zone
from models.scoring._scope import scope_covers, scope_mask
from tests.serving.conftest import POLICY_YAML, Stream, record, to_events
from tests.serving.test_rules_fast_paths import CALLS, WHO, fast

RULES = [
    parse_rrule("FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=10;BYMINUTE=0"),
    parse_rrule("FREQ=HOURLY;INTERVAL=5;BYMINUTE=15"),
    parse_rrule("FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=23"),
    cron_to_rule("0 2 * * *"),
    cron_to_rule("*/20 9-17 * * mon-fri"),
    cron_to_rule("0 6 1,15 * sun"),  # day of month or day of week: a union of two rules
]
YEAR = datetime(2026, 1, 1, tzinfo=UTC)


@fast
@given(
    which=st.integers(0, len(RULES) - 1),
    start=st.integers(0, 400 * 24),
    hours=st.integers(0, 24 * 40),
)
def test_occurrences_are_what_the_rule_gives(which: int, start: int, hours: int) -> None:
    rule = RULES[which]
    schedule = Schedule(rule, zone("Europe/Berlin"), parse_duration("PT1H"))
    low = datetime(2025, 12, 1) + timedelta(hours=start)
    high = low + timedelta(hours=hours)
    assert schedule._occurrences.between(low, high) == rule.between(low, high, inc=True)


def _policies(stream: Stream) -> list[ChangeCalendar]:
    return [parse_policy(POLICY_YAML).calendar, load_policy(*stream.policy).calendar]


events = st.lists(
    st.tuples(
        st.integers(0, len(CALLS) - 1),
        st.integers(0, len(WHO) - 1),
        st.integers(0, 366 * 24 * 60),  # a minute of 2026
        st.sampled_from(["111122223333", "444455556666", "999988887777"]),
    ),
    min_size=1,
    max_size=25,
)


def _frame(drawn: list[tuple[int, int, int, str]]) -> pd.DataFrame:
    records = []
    for name_at, who_at, minutes, account in drawn:
        name, extra = CALLS[name_at]
        moment = (YEAR + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
        records.append(record(name, moment, account=account, **{**extra, **WHO[who_at]}))
    return to_events(records)


def _reference(calendar: ChangeCalendar, frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Verdicts judged afresh, by the plain computation."""
    return list(zip(*calendar._judge(frame), strict=True))


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return pa.Table.from_pandas(frame, schema=CANONICAL_SCHEMA, preserve_index=False).to_pylist()


@fast
@given(drawn=events, policy=st.sampled_from([POLICY_YAML, "version: 1\n"]))
def test_remembered_and_single_verdicts_are_the_judged_ones(
    drawn: list[tuple[int, int, int, str]], policy: str
) -> None:
    calendar = parse_policy(policy).calendar
    frame = _frame(drawn)
    expected = _reference(calendar, frame)
    for _ in range(2):  # judged, then remembered
        table = calendar.verdicts(frame)
        assert list(zip(table["verdict"], table["by_kind"], table["by"], strict=True)) == expected
        judged = calendar.verdict_columns(frame[list(JUDGED_COLUMNS)])  # what rules read
        assert list(zip(*judged, strict=True)) == expected
    times = event_micros(frame).tolist()
    assert [calendar.judge(row, t) for row, t in zip(_rows(frame), times, strict=True)] == expected


def test_verdicts_of_a_simulated_organisation(sim_stream: Stream) -> None:
    """Every change of nine simulated days under both policies, windows, tickets, freezes."""
    frame = to_events(sim_stream.records)
    frame = frame[frame["is_compute_change"]].reset_index(drop=True)
    rows, times = _rows(frame), event_micros(frame).tolist()
    for calendar in _policies(sim_stream):
        expected = _reference(calendar, frame)
        assert {verdict for verdict, *_ in expected} >= {"approved", "unapproved"}
        judged = [calendar.judge(row, t) for row, t in zip(rows, times, strict=True)]
        assert judged == expected
        remembered = calendar.verdicts(frame.iloc[:500])
        assert remembered["verdict"].tolist() == [v for v, *_ in expected[:500]]


@fast
@given(drawn=events)
def test_one_event_is_covered_as_the_frame_says(drawn: list[tuple[int, int, int, str]]) -> None:
    frame = _frame(drawn)
    rows = _rows(frame)
    calendar = parse_policy(POLICY_YAML).calendar
    scopes = [w.scope for w in calendar.windows] + [t.scope for t in calendar.tickets]
    scopes += [f.scope for f in calendar.freezes]
    for scope in scopes:
        assert [scope_covers(scope, row) for row in rows] == scope_mask(scope, frame).tolist()


def test_remembered_verdicts_stay_with_their_calendar() -> None:
    first, second = parse_policy(POLICY_YAML).calendar, parse_policy(POLICY_YAML).calendar
    first.remember([7, 8], ["approved", "unapproved"])
    assert (first.recall(7), first.recall(8), first.recall(9)) == ("approved", "unapproved", None)
    assert second.recall(7) is None  # a changed policy is a new calendar: nothing carried over


@pytest.mark.parametrize("days", [1, 2, 40])
def test_day_cached_occurrences_hold_every_time_in_the_span(days: int) -> None:
    calendar = parse_policy(POLICY_YAML).calendar
    minutes = np.arange(0, days * 24 * 60, 7)
    frame = pd.DataFrame(
        {"event_time": pd.to_datetime(micros(YEAR) + minutes * 60_000_000, unit="us", utc=True)}
    )
    times = event_micros(frame)
    first, last = YEAR, YEAR + timedelta(days=days)
    for window in calendar._windows:
        intervals = window.schedule.intervals(first, last)
        inside = [any(micros(s) <= t < micros(e) for s, e in intervals) for t in times.tolist()]
        covered = _inside(times, *_covering(window.schedule, int(times.min()), int(times.max())))
        assert covered.tolist() == inside, window.spec.name


def test_warming_expands_up_to_the_day() -> None:
    calendar = parse_policy(POLICY_YAML).calendar
    calendar.warm(datetime(2026, 6, 1, tzinfo=UTC))
    assert all(w.schedule._occurrences._walls for w in calendar._windows)


def test_a_full_memo_is_emptied_without_losing_the_call_that_fills_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import models.scoring._calendar as calendar_module

    monkeypatch.setattr(calendar_module, "_MEMO_SIZE", 3)
    calendar = parse_policy(POLICY_YAML).calendar
    frame = _frame([(0, 0, minute, "111122223333") for minute in (0, 60, 600, 6000)])
    calendar.verdicts(frame.iloc[:2])  # two remembered
    table = calendar.verdicts(frame)  # two more: over the limit, the memo is emptied
    expected = _reference(calendar, frame)
    assert list(zip(table["verdict"], table["by_kind"], table["by"], strict=True)) == expected
    assert len(calendar._memo) <= 3 + 2
