"""Novelty, identity history and cold start, measured only against the past."""

from __future__ import annotations

import pandas as pd
import pytest

from features import FeatureConfig, behaviour_vectors


def _row(vectors: pd.DataFrame, when: str, who: str = "alice") -> pd.Series:
    start = pd.Timestamp(when).floor("1h")
    found = vectors[(vectors["identity_key"] == who) & (vectors["window_start"] == start)]
    assert len(found) == 1
    return found.iloc[0]


@pytest.mark.parametrize(
    ("column", "change"),
    [
        ("novel_region_share", {"region": "ap-south-1"}),
        ("novel_network_share", {"network": "203.0.113.0/24"}),
        ("novel_country_share", {"country": "KP"}),
        ("novel_asn_share", {"asn": 65999}),
        ("novel_client_family_share", {"client_family": "curl", "client_version": "8.0"}),
        ("novel_client_version_share", {"client_version": "9.9.9"}),
        ("novel_action_share", {"event_name": "GetPasswordData"}),
        ("novel_resource_type_share", {"event_name": "CreateSnapshot"}),
    ],
)
def test_a_value_never_used_before_is_novel_once(events, column, change) -> None:
    history = [{"event_time": f"2024-03-0{d}T10:00:00Z"} for d in range(1, 5)]
    table = events(
        [
            *history,
            {"event_time": "2024-03-05T10:00:00Z", **change},
            {"event_time": "2024-03-05T10:30:00Z"},
            {"event_time": "2024-03-05T11:00:00Z", **change},
        ]
    )
    vectors = behaviour_vectors(table)
    assert _row(vectors, "2024-03-04T10:00:00Z")[column] == 0
    assert _row(vectors, "2024-03-05T10:00:00Z")[column] == 0.5
    assert _row(vectors, "2024-03-05T11:00:00Z")[column] == 0  # known from the window before


def test_missing_values_are_never_novel(events) -> None:
    table = events(
        [
            {"event_time": "2024-03-04T10:00:00Z"},
            {"event_time": "2024-03-04T11:00:00Z", "country": None, "asn": None},
        ]
    )
    row = _row(behaviour_vectors(table), "2024-03-04T11:00:00Z")
    assert row["novel_country_share"] == 0
    assert row["novel_asn_share"] == 0


def test_a_value_unused_for_forget_days_is_novel_again(events) -> None:
    config = FeatureConfig(forget_days=10)
    table = events(
        [
            {"event_time": "2024-03-01T10:00:00Z", "region": "eu-west-1"},
            {"event_time": "2024-03-05T10:00:00Z"},
            {"event_time": "2024-03-09T10:00:00Z", "region": "eu-west-1"},  # 8 days: known
            {"event_time": "2024-03-15T10:00:00Z"},
            {"event_time": "2024-03-25T10:00:00Z", "region": "eu-west-1"},  # 16 days: forgotten
        ]
    )
    vectors = behaviour_vectors(table, config=config)
    assert _row(vectors, "2024-03-09T10:00:00Z")["novel_region_share"] == 0
    assert _row(vectors, "2024-03-25T10:00:00Z")["novel_region_share"] == 1


def test_rare_context_uses_guardduty_buckets(events) -> None:
    config = FeatureConfig(rare_share=0.2, infrequent_share=0.5)
    history = [{"event_time": f"2024-03-04T{h:02d}:00:00Z"} for h in range(0, 10)]
    history[3]["network"] = "203.0.113.0/24"  # 1 of 10 = 10 %: rare under 20 %
    table = events(
        [
            *history,
            {"event_time": "2024-03-04T12:00:00Z", "network": "203.0.113.0/24"},
            {"event_time": "2024-03-04T12:10:00Z"},
        ]
    )
    row = _row(behaviour_vectors(table, config=config), "2024-03-04T12:00:00Z")
    assert row["novel_network_share"] == 0
    assert row["rare_context_share"] == 0.5


def test_new_identity_dormancy_history_and_active_days(events) -> None:
    table = events(
        [
            {"event_time": "2024-03-01T10:00:00Z"},
            {"event_time": "2024-03-01T12:00:00Z"},
            {"event_time": "2024-03-02T10:00:00Z"},
            {"event_time": "2024-03-12T10:30:00Z"},
        ]
    )
    vectors = behaviour_vectors(table, config=FeatureConfig(forget_days=90))
    first = _row(vectors, "2024-03-01T10:00:00Z")
    assert (first["is_new_identity"], first["days_dormant"], first["history_days"]) == (1, 0, 0)
    assert first["active_days"] == 0
    last = _row(vectors, "2024-03-12T10:00:00Z")
    assert last["is_new_identity"] == 0
    assert last["days_dormant"] == pytest.approx(10.0)
    assert last["history_days"] == pytest.approx(11.0, abs=0.01)
    assert last["active_days"] == 2


@pytest.mark.parametrize(
    ("earlier_days", "scored_day", "cold"),
    [
        ([0], 1, 1),  # one day of history
        ([0], 10, 1),  # long ago but a single active day
        ([0, 1, 2, 3, 4], 10, 0),  # ten days, five active days: has a baseline
        ([0, 1, 2], 3, 1),  # enough active days, too short a history
    ],
)
def test_cold_start_needs_enough_history_and_active_days(
    events, earlier_days, scored_day, cold
) -> None:
    config = FeatureConfig(cold_start_days=7, cold_start_active_days=3)
    start = pd.Timestamp("2024-03-01T10:00:00Z")
    rows = [{"event_time": start + pd.Timedelta(days=d)} for d in earlier_days]
    rows.append({"event_time": start + pd.Timedelta(days=scored_day, minutes=30)})
    vectors = behaviour_vectors(events(rows), config=config)
    assert vectors["cold_start"].iloc[-1] == cold
    assert vectors["cold_start"].iloc[0] == 1


def test_an_identity_silent_for_forget_days_starts_a_new_epoch(events) -> None:
    config = FeatureConfig(forget_days=5, cold_start_days=2, cold_start_active_days=2)
    rows = [{"event_time": f"2024-03-0{d}T10:00:00Z"} for d in range(1, 6)]
    rows.append({"event_time": "2024-03-20T10:00:00Z"})
    last = behaviour_vectors(events(rows), config=config).iloc[-1]
    assert last["is_new_identity"] == 0
    assert last["days_dormant"] == pytest.approx(15)
    assert (last["history_days"], last["active_days"], last["cold_start"]) == (0, 0, 1)
