"""Identity profiles: what they hold, save/load without pickle, merge and forgetting."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from changewatch.errors import ConfigurationError, InputError
from features import PROFILE_SCHEMA_VERSION, FeatureConfig, Profiles, build_profiles, merge_profiles


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns[:3]), kind="stable").reset_index(drop=True)


def _assert_same(a: Profiles, b: Profiles) -> None:
    assert (a.since, a.until, a.config) == (b.since, b.until, b.config)
    for name in ("identities", "values", "org_actions"):
        pd.testing.assert_frame_equal(_sorted(getattr(a, name)), _sorted(getattr(b, name)))


def test_profile_holds_activity_values_histograms_and_org_figures(events) -> None:
    table = events(
        [
            {
                "event_time": "2024-03-04T09:10:00Z",
                "event_name": "RunInstances",
                "resource_ids": ["i-1"],
            },
            {"event_time": "2024-03-04T09:20:00Z", "region": "eu-west-1"},
            {
                "event_time": "2024-03-05T09:10:00Z",
                "identity_key": "bob",
                "event_name": "RunInstances",
            },
        ]
    )
    profiles = build_profiles(table)
    alice = profiles.identities.set_index("identity_key").loc["alice"]
    assert alice["first_seen"] == pd.Timestamp("2024-03-04T09:10:00Z")
    assert alice["last_seen"] == pd.Timestamp("2024-03-04T09:20:00Z")
    assert (alice["active_days"], alice["n_events"], alice["n_windows"], alice["n_changes"]) == (
        1,
        2,
        1,
        1,
    )
    values = profiles.values.set_index(["identity_key", "dimension", "value"])["count"]
    assert values[("alice", "region", "us-east-1")] == 1
    assert values[("alice", "region", "eu-west-1")] == 1
    assert values[("alice", "network", "198.51.100.0/24")] == 2
    assert values[("alice", "asn", "64500")] == 2
    assert values[("alice", "client_version", "aws-cli/2.15.0")] == 2
    assert values[("alice", "hour_of_week", "9")] == 2  # Monday 09:00
    assert values[("alice", "changes_bucket", "1")] == 1  # one window with one change
    assert profiles.org_action_counts()["RunInstances"] == 2
    assert profiles.until == pd.Timestamp("2024-03-05T10:00:00Z")
    buckets = profiles.frequency().set_index(["identity_key", "dimension", "value"])["bucket"]
    assert buckets[("alice", "region", "us-east-1")] == "frequent"


def test_save_and_load_round_trip_without_pickle(tmp_path, random_table, config) -> None:
    profiles = build_profiles(random_table(1, n=200, days=8), config)
    where = profiles.save(tmp_path / "profiles")
    assert sorted(p.name for p in where.iterdir()) == [
        "identities.parquet",
        "manifest.json",
        "org_actions.parquet",
        "values.parquet",
    ]
    manifest = json.loads((where / "manifest.json").read_text())
    assert manifest["schema_version"] == PROFILE_SCHEMA_VERSION
    _assert_same(Profiles.load(where), profiles)


def test_load_refuses_another_schema_version(tmp_path, random_table, config) -> None:
    where = build_profiles(random_table(1, n=50), config).save(tmp_path / "p")
    manifest = json.loads((where / "manifest.json").read_text())
    manifest["schema_version"] = "999"
    (where / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="schema version"):
        Profiles.load(where)
    with pytest.raises(InputError, match="not a profile store"):
        Profiles.load(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "cut", ["2024-03-03T00:00:00Z", "2024-03-06T13:00:00Z", "2024-03-12T07:00:00Z"]
)
def test_update_with_a_newer_period_equals_learning_both_at_once(random_table, config, cut) -> None:
    table = random_table(2, n=300, days=15)
    until = pd.Timestamp("2024-03-16T00:00:00Z")
    older = build_profiles(table[table["event_time"] < cut], config, until=cut)
    _assert_same(older.update(table, until=until), build_profiles(table, config, until=until))


def test_merge_refuses_overlapping_periods_and_other_settings(random_table, config) -> None:
    table = random_table(3, n=100, days=6)
    whole = build_profiles(table, config)
    with pytest.raises(ConfigurationError, match="before the older ones end"):
        merge_profiles(whole, build_profiles(table, config))
    with pytest.raises(ConfigurationError, match="different settings"):
        merge_profiles(whole, build_profiles(table, FeatureConfig()))
    with pytest.raises(ConfigurationError, match="window boundary"):
        build_profiles(table, config, until="2024-03-02T10:30:00Z")


def test_values_and_baselines_not_seen_for_forget_days_are_forgotten(events) -> None:
    config = FeatureConfig(forget_days=10)
    table = events(
        [
            {"event_time": "2024-03-01T10:00:00Z", "region": "eu-west-1"},
            {"event_time": "2024-03-01T10:00:00Z", "identity_key": "bob"},
            {"event_time": "2024-03-15T10:00:00Z"},
        ]
    )
    profiles = build_profiles(table, config)
    regions = profiles.values[(profiles.values["dimension"] == "region")]
    assert list(regions["value"]) == ["us-east-1"]  # eu-west-1 last seen 14 days before until
    bob = profiles.identities.set_index("identity_key").loc["bob"]
    assert bob["n_events"] == 0
    assert pd.isna(bob["epoch_start"])
    assert bob["last_seen"] == pd.Timestamp("2024-03-01T10:00:00Z")  # ... dormancy kept
    assert not (profiles.values["identity_key"] == "bob").any()
    assert set(profiles.org_actions["identity_key"]) == {"alice", "bob"}  # never forgotten


def test_forgetting_changes_no_later_vector(random_table) -> None:
    """Profiles drop old values, yet vectors after ``until`` equal the batch ones."""
    from features import behaviour_vectors

    config = FeatureConfig(forget_days=2)
    table = random_table(4, n=300, days=15)
    until = pd.Timestamp("2024-03-10T00:00:00Z")
    profiles = build_profiles(table[table["event_time"] < until], config, until=until)
    assert len(profiles.values) < len(
        build_profiles(
            table[table["event_time"] < until], FeatureConfig(forget_days=90), until=until
        ).values
    )
    recent = table[
        (table["event_time"] < until)
        & (table["event_time"] >= until - pd.Timedelta(config.horizon))
    ]
    live = behaviour_vectors(table[table["event_time"] >= until], profiles, recent=recent)
    batch = behaviour_vectors(table, config=config)
    pd.testing.assert_frame_equal(
        live, batch[batch["window_start"] >= until].reset_index(drop=True)
    )


def test_a_new_identitys_profile_keeps_the_organisations_first_uses_when_it_grows(events) -> None:
    """The service's state of a new identity holds no identity row, only the organisation's
    first-use table; learning the identity's first events must keep the others' first uses
    (the organisation features count them), as learning on the whole organisation does."""
    before = events(
        [
            {"event_time": "2024-03-04T09:10:00Z", "event_name": "AttachVolume"},
            {"event_time": "2024-03-04T10:10:00Z", "identity_key": "bob"},
        ]
    )
    later = events(
        [{"event_time": "2024-03-06T09:10:00Z", "identity_key": "carol", "event_name": "X"}]
    )
    whole = build_profiles(before)
    newcomer = Profiles(  # the organisation as a state restricted to carol sees it
        config=whole.config,
        since=whole.since,
        until=whole.until,
        identities=whole.identities.iloc[:0],
        values=whole.values.iloc[:0],
        org_actions=whole.org_actions,
    )
    until = pd.Timestamp("2024-03-07T00:00:00Z")
    grown, reference = newcomer.update(later, until=until), whole.update(later, until=until)
    assert len(whole.org_actions) == 2
    pd.testing.assert_frame_equal(_sorted(grown.org_actions), _sorted(reference.org_actions))
    assert set(grown.org_actions["identity_key"]) == {"alice", "bob", "carol"}
