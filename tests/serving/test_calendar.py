"""The change calendar: which window or ticket approves an event, which freeze forbids it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import pytest

from models.scoring import Approved, Forbidden, Unapproved, parse_policy

Records = Callable[[Iterable[dict[str, Any]]], pd.DataFrame]

START = {"instancesSet": {"items": [{"instanceId": "i-0abc0000000000001"}]}}
OTHER = {"instancesSet": {"items": [{"instanceId": "i-0def0000000000002"}]}}


def _verdict(policy_yaml: str, events: pd.DataFrame) -> list[tuple[str, str | None]]:
    table = parse_policy(policy_yaml).calendar.verdicts(events)
    return list(zip(table["verdict"], table["by"], strict=True))


@pytest.mark.parametrize(
    ("time", "role", "expected"),
    [
        # Tuesday 10:00-14:00 Europe/Berlin is 09:00-13:00 UTC in winter ...
        ("2026-03-24T09:00:00Z", "deploy-web", ("approved", "weekly-deploy")),
        ("2026-03-24T12:59:59Z", "deploy-web", ("approved", "weekly-deploy")),
        ("2026-03-24T13:00:00Z", "deploy-web", ("unapproved", None)),  # half-open
        ("2026-03-24T08:59:00Z", "deploy-web", ("unapproved", None)),
        # ... and 08:00-12:00 UTC in summer (after 2026-03-29).
        ("2026-03-31T08:00:00Z", "deploy-web", ("approved", "weekly-deploy")),
        ("2026-03-31T12:30:00Z", "deploy-web", ("unapproved", None)),
        # The window's scope is deploy-* roles only.
        ("2026-03-24T10:00:00Z", "ops-admin", ("unapproved", None)),
        # nightly-batch: 02:00-03:00 UTC for everyone.
        ("2026-03-25T02:30:00Z", "ops-admin", ("approved", "nightly-batch")),
        # Freeze beats the window (2026-12-22 is a Tuesday, 09:00 UTC is 10:00 CET).
        ("2026-12-22T09:30:00Z", "deploy-web", ("forbidden", "year-end-freeze")),
        ("2026-12-23T02:30:00Z", "ops-admin", ("forbidden", "year-end-freeze")),
    ],
)
def test_window_verdicts(
    policy_yaml: str,
    rec: Callable[..., dict[str, Any]],
    events_of: Records,
    time: str,
    role: str,
    expected: tuple[str, str | None],
) -> None:
    events = events_of([rec("StartInstances", time, role=role, request=START)])
    assert _verdict(policy_yaml, events) == [expected]


def test_ticket_approves_only_its_resources(
    policy_yaml: str, rec: Callable[..., dict[str, Any]], events_of: Records
) -> None:
    events = events_of(
        [
            rec("StopInstances", "2026-03-14T23:00:00Z", request=START),
            rec("StopInstances", "2026-03-14T23:00:00Z", request=OTHER),
            rec("StopInstances", "2026-03-15T02:00:00Z", request=START),
        ]
    )
    assert _verdict(policy_yaml, events) == [
        ("approved", "CHG-1042"),
        ("unapproved", None),
        ("approved", "nightly-batch"),  # the ticket ended; the nightly window holds it
    ]


def test_freeze_beats_ticket_and_ticket_is_named_before_window(
    rec: Callable[..., dict[str, Any]], events_of: Records
) -> None:
    policy = (
        "version: 1\nwindows:\n  - {name: always, cron: '0 0 * * *', duration: P1D}\n"
        "tickets:\n  - {id: CHG-7, start: 2026-05-01T00:00Z, end: 2026-05-03T00:00Z, owner: bob}\n"
        "freezes:\n  - {name: may-day, start: 2026-05-01T00:00Z, end: 2026-05-02T00:00Z,"
        " scope: {regions: [eu-*]}}\n"
    )
    events = events_of(
        [
            rec("StopInstances", "2026-05-01T12:00:00Z", region="eu-central-1", request=START),
            rec("StopInstances", "2026-05-01T12:00:00Z", region="us-east-1", request=START),
            rec("StopInstances", "2026-05-02T12:00:00Z", region="eu-central-1", request=START),
            rec("StopInstances", "2026-05-05T12:00:00Z", region="eu-central-1", request=START),
        ]
    )
    assert _verdict(policy, events) == [
        ("forbidden", "may-day"),
        ("approved", "CHG-7"),
        ("approved", "CHG-7"),
        ("approved", "always"),
    ]


@pytest.mark.parametrize(
    ("scope", "in_scope"),
    [
        ("{}", True),
        ("{accounts: ['111122223333']}", True),
        ("{accounts: ['9999*']}", False),
        ("{regions: ['eu-*']}", True),
        ("{identities: ['arn:aws:iam::*:user/alice']}", True),
        ("{identities: ['arn:aws:iam::*:user/bob']}", False),
        ("{resources: ['i-0abc*']}", True),
        ("{resources: ['vol-*']}", False),
        ("{actions: [stop]}", True),
        ("{actions: [create, delete]}", False),
        ("{actions: [StopInstances]}", True),
        ("{actions: ['Terminate*']}", False),
        ("{regions: ['eu-*'], actions: [start]}", False),
    ],
)
def test_scope_keys_all_must_match(
    rec: Callable[..., dict[str, Any]], events_of: Records, scope: str, in_scope: bool
) -> None:
    policy = (
        "version: 1\ntickets:\n  - {id: T, start: 2026-01-01T00:00Z, end: 2026-02-01T00:00Z,"
        f" owner: o, scope: {scope}}}\n"
    )
    events = events_of([rec("StopInstances", "2026-01-10T10:00:00Z", request=START)])
    assert _verdict(policy, events)[0][0] == ("approved" if in_scope else "unapproved")


def test_single_event_verdicts_carry_the_window_ticket_or_freeze(
    policy_yaml: str, rec: Callable[..., dict[str, Any]], events_of: Records
) -> None:
    calendar = parse_policy(policy_yaml).calendar
    events = events_of(
        [
            rec("StartInstances", "2026-03-24T10:00:00Z", role="deploy-web", request=START),
            rec("StopInstances", "2026-03-14T23:00:00Z", request=START),
            rec("StopInstances", "2026-12-24T12:00:00Z", request=START),
            rec("StopInstances", "2026-03-18T12:00:00Z", request=START),
        ]
    )
    verdicts = [calendar.verdict(row) for row in events.to_dict("records")]
    assert isinstance(verdicts[0], Approved)
    assert verdicts[0].kind == "window"
    assert verdicts[0].by.name == "weekly-deploy"  # type: ignore[union-attr]
    assert isinstance(verdicts[1], Approved)
    assert verdicts[1].kind == "ticket"
    assert isinstance(verdicts[2], Forbidden)
    assert verdicts[2].by.name == "year-end-freeze"
    assert verdicts[3] == Unapproved()


def test_frame_and_single_event_verdicts_agree(
    policy_yaml: str, rec: Callable[..., dict[str, Any]], events_of: Records
) -> None:
    calendar = parse_policy(policy_yaml).calendar
    times = pd.date_range("2026-03-22", "2026-04-02", freq="97min", tz="UTC")
    roles = ["deploy-web", "ops-admin"]
    events = events_of(
        rec("StartInstances", t.strftime("%Y-%m-%dT%H:%M:%SZ"), role=roles[i % 2], request=START)
        for i, t in enumerate(times)
    )
    table = calendar.verdicts(events)
    singles = [calendar.verdict(row) for row in events.to_dict("records")]
    for by, single in zip(table["by"].tolist(), singles, strict=True):
        source = getattr(single, "by", None)
        assert by == (getattr(source, "name", None) or getattr(source, "id", None))
    assert set(table["verdict"]) == {"approved", "unapproved"}


def test_empty_frame_gives_empty_verdicts(policy_yaml: str, events_of: Records) -> None:
    table = parse_policy(policy_yaml).calendar.verdicts(events_of([]))
    assert list(table.columns) == ["verdict", "by_kind", "by"]
    assert table.empty
