"""A new identity is judged against its peers until it has a baseline of its own (ADR 0022).

Three developers of one SSO permission set work office hours for three weeks; then a new
developer joins. Doing what developers do, from the office, the newcomer's windows are
scored against the team (not left unscored) and look ordinary; a newcomer of the same
permission set launching GPU instances at night from a hosting network, in a region the
team never used, looks unusual (new for the team, not merely new for the newcomer).
An identity without peers stays unscored. A baseline too short for any identity to have
a baseline of its own trains on the population instead of being refused.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

import features
from models import ChangeDetector
from tests.serving.conftest import record, to_events

ROLE = "AWSReservedSSO_PowerUserAccess_0123456789abcdef"
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
OFFICE = "198.51.100.{}"
CONSOLE = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
    "Safari/537.36"
)
RUN = {"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}}


def _day(
    person: str,
    day: int,
    *,
    hour: int = 9,
    ip: str = "198.51.100.20",
    account: str = "111122223333",
) -> list[dict[str, Any]]:
    at = START + timedelta(days=day, hours=hour)

    def event(name: str, minutes: int, **extra: Any) -> dict[str, Any]:
        return record(
            name,
            (at + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            role=ROLE,
            session=f"{person}@corp.example",
            agent=CONSOLE,
            ip=ip,
            account=account,
            **extra,
        )

    return [
        event("DescribeInstances", 0),
        event("DescribeVolumes", 5),
        event("RunInstances", 20, response=RUN),
        event("DescribeInstances", 90),
        event("StopInstances", 400, request=RUN),
    ]


def _team(days: int = 15) -> list[dict[str, Any]]:
    return [
        event
        for day in range(days)
        if day % 7 < 5
        for person in ("ana", "ben", "cai")
        for event in _day(person, day, ip=OFFICE.format(20 + len(person)))
    ]


@pytest.fixture(scope="module")
def detector() -> ChangeDetector:
    return ChangeDetector(n_estimators=100, random_state=0).fit(to_events(_team()))


def _scored(detector: ChangeDetector, records: list[dict[str, Any]]) -> pd.DataFrame:
    return detector.score_windows(to_events(records))


def test_a_newcomer_is_scored_against_the_team_and_looks_ordinary(
    detector: ChangeDetector,
) -> None:
    windows = _scored(detector, _day("dana", 15))
    assert not windows["cold_start"].any()
    assert windows["percentile"].notna().all()
    assert set(windows["peers"]) == {"3 of the PowerUserAccess users in account 111122223333"}
    assert windows["percentile"].max() < 99


def test_a_newcomer_acting_unlike_the_team_looks_unusual(detector: ChangeDetector) -> None:
    night = [
        record(
            "RunInstances",
            (START + timedelta(days=15, hours=2, minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            role=ROLE,
            session="eve@corp.example",
            agent="aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0",
            ip="198.18.195.7",
            region="ap-southeast-1",
            request={"instanceType": "p3.16xlarge"},
            response=RUN,
        )
        for m in range(0, 40, 4)
    ]
    windows = _scored(detector, night)
    ordinary = _scored(detector, _day("dana", 15))
    assert set(windows["peers"]) == {"3 of the PowerUserAccess users in account 111122223333"}
    # new for the team, not merely new for the newcomer
    assert windows[["novel_region_share", "novel_network_share"]].min().min() == 1.0
    assert ordinary[["novel_region_share", "novel_network_share"]].max().max() == 0.0
    assert windows["percentile"].max() >= 95
    assert windows["percentile"].max() > ordinary["percentile"].max() + 20


def test_a_newcomer_too_new_elsewhere_is_measured_against_the_team() -> None:
    # dana worked one day in another account: too little to measure her by herself there,
    # so her first day here is measured against the team, the next rung of the ladder
    elsewhere = _day("dana", 14, account="444455556666")
    fitted = ChangeDetector(n_estimators=100, random_state=0).fit(to_events([*_team(), *elsewhere]))
    windows = _scored(fitted, _day("dana", 15))
    assert not windows["cold_start"].any()
    assert set(windows["peers"]) == {"3 of the PowerUserAccess users in account 111122223333"}


def test_a_newcomer_scores_the_same_beside_other_newcomers_and_alone(
    detector: ChangeDetector,
) -> None:
    # Spark scores one identity group at a time, with the organisation's first-use table:
    # a newcomer's place in the organisation must not count the other newcomers' made-up
    # peers' keys as identities (ADR 0033)
    both = to_events([*_day("dana", 15), *_day("eve", 15, hour=11)])
    organisation = features.org_first_use(pd.concat([detector.recent_, both]))
    together = detector.score_windows(both)
    alone = pd.concat(
        [
            detector.score_windows(mine, org_first_use=organisation)
            for _, mine in both.groupby("identity_key", sort=True)
        ],
        ignore_index=True,
    )
    columns = ["identity", "window_start", "score", "org_action_rarity_max", "peers"]
    assert together["peers"].notna().all()
    pd.testing.assert_frame_equal(
        together[columns].sort_values(["identity", "window_start"], ignore_index=True),
        alone[columns].sort_values(["identity", "window_start"], ignore_index=True),
    )


def test_an_identity_without_peers_stays_unscored(detector: ChangeDetector) -> None:
    alone = [
        record(
            "RunInstances",
            (START + timedelta(days=15, hours=9)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            user="contractor",
            response=RUN,
        )
    ]
    windows = _scored(detector, alone)
    assert windows["cold_start"].all()
    assert windows["percentile"].isna().all()
    assert set(windows["peers"]) == {""}


def test_without_peer_scoring_a_newcomer_stays_unscored() -> None:
    plain = ChangeDetector(n_estimators=50, random_state=0, peers=False).fit(to_events(_team()))
    windows = plain.score_windows(to_events(_day("dana", 15)))
    assert windows["cold_start"].all()


def test_a_baseline_too_short_for_anyone_trains_on_the_population(
    caplog: pytest.LogCaptureFixture,
) -> None:
    one_day = to_events(_team(days=1))
    with caplog.at_level(logging.WARNING, logger="models._detector"):
        fitted = ChangeDetector(n_estimators=20, random_state=0).fit(one_day)
    assert fitted.baseline_ == "population"
    assert "trained on the population" in caplog.text
    windows = fitted.score_windows(to_events(_day("ana", 2)))
    assert windows["percentile"].notna().all()


def test_a_newcomers_peers_measure_does_not_depend_on_where_its_state_folds(
    detector: ChangeDetector,
) -> None:
    # The service keeps a day of each identity open and folds the rest (ADR 0032); the
    # reference folds an identity's whole past. Vectors must not depend on the boundary
    # (ADR 0008), a newcomer's windows measured against its peers included.
    earlier = to_events([*_day("dana", 15), *_day("dana", 16)])
    later = to_events(_day("dana", 17))
    state = detector.state_for_serving()
    kept_open = state.advance(earlier, until=state.until_ns)
    folded = state.advance(earlier)
    assert folded.until_ns is not None
    assert state.until_ns is not None
    assert folded.until_ns > state.until_ns
    columns = ["identity", "window_start", "cold_start", "peers", "score"]
    pd.testing.assert_frame_equal(
        detector.score_windows(later, state=kept_open)[columns],
        detector.score_windows(later, state=folded)[columns],
    )
