"""Rhythm (hours, usual volume) and organisation rarity."""

from __future__ import annotations

import pandas as pd
import pytest

from features import FeatureConfig, behaviour_vectors


def test_activity_at_an_hour_the_identity_never_works_is_rare(events) -> None:
    # two weeks of Monday-Friday 09:00-10:00, then Saturday 03:00
    days = pd.date_range("2024-03-04", periods=14, freq="D", tz="UTC")
    rows = [{"event_time": d + pd.Timedelta(hours=9, minutes=5)} for d in days if d.day_of_week < 5]
    rows.append({"event_time": "2024-03-23T03:10:00Z"})
    rows.append({"event_time": "2024-03-25T09:10:00Z"})  # Monday, usual hour
    vectors = behaviour_vectors(events(rows)).set_index("window_start")
    odd = vectors.loc[pd.Timestamp("2024-03-23T03:00:00Z")]
    usual = vectors.loc[pd.Timestamp("2024-03-25T09:00:00Z")]
    assert odd["rare_hour_share"] == 1
    assert usual["rare_hour_share"] == 0
    assert odd["hour_surprise"] > usual["hour_surprise"]


def test_a_burst_of_changes_stands_out_against_the_usual_count(events) -> None:
    rows = [
        {"event_time": f"2024-03-{d:02d}T10:00:00Z", "event_name": "StopInstances"}
        for d in range(1, 11)
    ]
    burst = [
        {"event_time": f"2024-03-11T10:{m:02d}:00Z", "event_name": "TerminateInstances"}
        for m in range(20)
    ]
    vectors = behaviour_vectors(events(rows + burst))
    usual, last = vectors.iloc[-2], vectors.iloc[-1]
    assert usual["change_count_ratio"] == pytest.approx(1.0)
    assert usual["change_count_tail"] == 1.0
    assert last["change_count_ratio"] == pytest.approx(21 / 2)
    assert last["change_count_tail"] == 0.0


def test_first_window_has_neutral_rhythm(events) -> None:
    first = behaviour_vectors(events([{"event_time": "2024-03-04T10:00:00Z"}])).iloc[0]
    assert first["change_count_tail"] == 1.0
    assert first["rare_hour_share"] == 0.0


def test_an_action_few_identities_ever_used_is_organisation_rare(events) -> None:
    config = FeatureConfig(org_rare_identities=3)
    common = [
        {
            "event_time": "2024-03-01T10:00:00Z",
            "identity_key": who,
            "event_name": "DescribeInstances",
        }
        for who in ("a", "b", "c", "d")
    ]
    later = [
        {
            "event_time": "2024-03-02T10:00:00Z",
            "identity_key": "a",
            "event_name": "DescribeInstances",
        },
        {
            "event_time": "2024-03-02T10:00:00Z",
            "identity_key": "b",
            "event_name": "GetPasswordData",
        },
    ]
    vectors = behaviour_vectors(events(common + later), config=config)
    day2 = vectors[vectors["window_start"] == pd.Timestamp("2024-03-02T10:00:00Z")].set_index(
        "identity_key"
    )
    assert day2.loc["a", "org_rare_action_share"] == 0
    assert day2.loc["b", "org_rare_action_share"] == 1
    assert day2.loc["b", "org_action_rarity_max"] > day2.loc["a", "org_action_rarity_max"]


def test_org_first_use_can_be_supplied_for_per_identity_partitions(events) -> None:
    table = events(
        [
            {
                "event_time": "2024-03-01T10:00:00Z",
                "identity_key": "a",
                "event_name": "GetPasswordData",
            },
            {
                "event_time": "2024-03-01T10:00:00Z",
                "identity_key": "b",
                "event_name": "GetPasswordData",
            },
            {
                "event_time": "2024-03-02T10:00:00Z",
                "identity_key": "b",
                "event_name": "GetPasswordData",
            },
        ]
    )
    whole = behaviour_vectors(table)
    org = table.groupby(["identity_key", "event_name"], as_index=False)["event_time"].min()
    org = org.rename(columns={"event_time": "first_seen"})
    parts = pd.concat(
        [behaviour_vectors(group, org_first_use=org) for _, group in table.groupby("identity_key")],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(parts, whole)
