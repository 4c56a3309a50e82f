"""Schedules: durations, RRULE and cron parsing, expansion in a zone across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from models.scoring import Duration, Schedule, cron_to_rule, parse_duration, parse_rrule
from models.scoring._schedule import ANCHOR, zone

BERLIN = zone("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT4H", Duration(0, 4 * 3600)),
        ("PT90M", Duration(0, 5400)),
        ("P1D", Duration(1, 0)),
        ("P1DT2H30M", Duration(1, 9000)),
        ("P2W", Duration(14, 0)),
        ("pt30s", Duration(0, 30)),
    ],
)
def test_durations_parse(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["4h", "P", "PT", "P1Y", "P1M", "PT0H", "P1DT", "PT-1H", ""])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|longer than zero"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=WEEKLY;BYDAY=XX", "not an RFC 5545 RRULE"),
        ("FREQ=MINUTELY;INTERVAL=5", "not supported"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "without DTSTART"),
        ("BYHOUR=10", "not an RFC 5545 RRULE"),
    ],
)
def test_bad_rrules_are_refused(rule: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rrule(rule)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 10 * *", "five cron fields"),
        ("60 10 * * *", "minute: 60 is outside 0-59"),
        ("0 24 * * *", "hour: 24 is outside 0-23"),
        ("0 10 * * mon-xyz", "day of week"),
        ("0 10 5-1 * *", "runs backwards"),
        ("*/0 * * * *", "step"),
        ("@reboot", "five cron fields"),
    ],
)
def test_bad_cron_is_refused_naming_the_field(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cron_to_rule(expression)


def _weekly_berlin() -> Schedule:
    rule = parse_rrule("FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=10;BYMINUTE=0")
    return Schedule(rule, BERLIN, parse_duration("PT4H"))


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        (utc(2026, 3, 26), 9),  # Thursday before the spring change: CET, UTC+1
        (utc(2026, 3, 31), 8),  # Tuesday after it: CEST, UTC+2
        (utc(2026, 10, 22), 8),  # Thursday before the autumn change: CEST
        (utc(2026, 10, 27), 9),  # Tuesday after it: CET
    ],
)
def test_ten_oclock_in_berlin_is_eight_utc_in_summer_and_nine_in_winter(
    day: datetime, utc_hour: int
) -> None:
    found = _weekly_berlin().intervals(day, day + timedelta(days=1))
    assert found == [(day.replace(hour=utc_hour), day.replace(hour=utc_hour + 4))]


def test_cron_and_rrule_give_the_same_occurrences() -> None:
    rrule_window = _weekly_berlin()
    cron_window = Schedule(cron_to_rule("0 10 * * 2,4"), BERLIN, parse_duration("PT4H"))
    start, end = utc(2026, 1, 1), utc(2027, 1, 1)
    assert cron_window.intervals(start, end) == rrule_window.intervals(start, end)
    assert len(rrule_window.intervals(start, end)) == 52 + 53  # 2026 has 53 Thursdays


def test_nominal_day_lasts_23_hours_over_the_spring_change() -> None:
    daily = Schedule(cron_to_rule("0 12 * * *"), BERLIN, parse_duration("P1D"))
    (start, end), *_ = daily.intervals(utc(2026, 3, 28, 11), utc(2026, 3, 28, 11, 1))
    assert (start, end) == (utc(2026, 3, 28, 11), utc(2026, 3, 29, 10))
    assert end - start == timedelta(hours=23)


def test_exact_hours_stay_exact_over_the_autumn_change() -> None:
    night = Schedule(cron_to_rule("0 1 * * *"), BERLIN, parse_duration("PT3H"))
    (start, end), *_ = night.intervals(utc(2026, 10, 24, 23), utc(2026, 10, 25, 0))
    assert end - start == timedelta(hours=3)
    assert start == utc(2026, 10, 24, 23)  # 01:00 CEST


def test_start_in_the_spring_gap_moves_forward_and_in_the_overlap_takes_the_first() -> None:
    at_230 = Schedule(cron_to_rule("30 2 * * *"), BERLIN, parse_duration("PT10M"))
    # 02:30 does not exist on 2026-03-29 in Berlin: read with the winter offset -> 01:30 UTC.
    assert at_230.starts(utc(2026, 3, 29), utc(2026, 3, 30)) == [utc(2026, 3, 29, 1, 30)]
    # 02:30 happens twice on 2026-10-25: the first one (summer time, 00:30 UTC) is taken.
    assert at_230.starts(utc(2026, 10, 25), utc(2026, 10, 26)) == [utc(2026, 10, 25, 0, 30)]


def test_cron_day_of_month_and_day_of_week_are_either() -> None:
    rule = cron_to_rule("0 9 1 * mon", dtstart=datetime(2026, 6, 1))
    days = {
        moment.day for moment in rule.between(datetime(2026, 6, 1), datetime(2026, 7, 1), inc=True)
    }
    assert days == {1, 8, 15, 22, 29}  # the 1st (a Monday too) and every Monday


def test_window_start_fixes_the_phase_of_an_interval() -> None:
    fortnightly = parse_rrule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;BYHOUR=9", datetime(2026, 1, 12))
    starts = fortnightly.between(datetime(2026, 1, 1), datetime(2026, 2, 28), inc=True)
    assert [moment.day for moment in starts] == [12, 26, 9, 23]


@st.composite
def cron_lines(draw: st.DrawFn) -> tuple[str, list[int], list[int], list[int]]:
    minutes = draw(st.lists(st.integers(0, 59), min_size=1, max_size=3, unique=True))
    hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=3, unique=True))
    days = draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True))
    line = (
        f"{','.join(map(str, minutes))} {','.join(map(str, hours))} * * {','.join(map(str, days))}"
    )
    return line, minutes, hours, days


@settings(max_examples=60, deadline=None)
@given(
    cron_lines(), st.sampled_from(["Europe/Berlin", "America/New_York", "UTC", "Australia/Sydney"])
)
def test_every_cron_occurrence_matches_its_fields_in_local_time(
    cron: tuple[str, list[int], list[int], list[int]], name: str
) -> None:
    line, minutes, hours, days = cron
    tz = zone(name)
    schedule = Schedule(cron_to_rule(line), tz, parse_duration("PT1M"))
    for start in schedule.starts(utc(2026, 3, 20), utc(2026, 4, 10)):
        local = start.astimezone(tz)
        # A start pushed out of a spring-forward gap lands one hour later on the clock.
        assert local.minute in minutes
        assert local.hour in hours or (local.hour - 1) in hours
        assert (local.isoweekday() % 7) in days


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 23),
    st.integers(1, 6 * 60),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1)),
)
def test_a_moment_is_inside_exactly_when_some_interval_holds_it(
    hour: int, minutes: int, naive: datetime
) -> None:
    schedule = Schedule(
        parse_rrule(f"FREQ=DAILY;BYHOUR={hour};BYMINUTE=0"),
        BERLIN,
        parse_duration(f"PT{minutes}M"),
    )
    moment = naive.replace(tzinfo=UTC)
    around = schedule.intervals(moment - timedelta(days=2), moment + timedelta(days=2))
    expected = any(start <= moment < end for start, end in around)
    assert schedule.contains(moment) == expected
    for start, end in around:
        assert end - start == timedelta(minutes=minutes)


def test_default_anchor_is_a_monday_at_midnight() -> None:
    assert ANCHOR.weekday() == 0
    assert ANCHOR.hour == 0
    assert rrulestr("FREQ=WEEKLY", dtstart=ANCHOR)[0].weekday() == 0
