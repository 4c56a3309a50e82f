"""Learned expected automation: out-of-window changes weighed against each identity's routine.

A change no window or ticket approves is an alert (medium) unless the identity routinely
makes such changes outside windows, from the same client and network, at such hours: then
it is context (low), and the reason says so. An identity that only ever changed things
inside windows, or a change new for the identity, stays medium. New identities are weighed
against their peers. ADR 0021.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from features import peer_groups
from models.scoring import (
    RuleContext,
    Severity,
    parse_policy,
    rule_by_id,
)
from models.scoring._rules._routine import Routine, merge_routines
from tests.serving.conftest import record, to_events

OUTSIDE = rule_by_id("ChangeWindow.OutsideApproved")
DEPLOY_WINDOW = (
    "version: 1\nwindows:\n"
    "  - name: deploy\n    cron: '0 10 * * tue'\n    duration: PT2H\n"
    "    scope: {identities: ['arn:aws:iam::*:role/deploy']}\n"
)
SCOPED = DEPLOY_WINDOW + "organization: {approval: scoped}\n"
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
NAT = "198.19.1.7"
HOME = "198.18.194.7"  # a hosting network the automation never used
GO_SDK = "aws-sdk-go/1.50.0 (go1.21; linux; amd64)"


def _at(day: int, hour: int, minute: int = 5) -> str:
    return (START + timedelta(days=day, hours=hour, minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _start(
    role: str, when: str, *, ip: str = NAT, agent: str = GO_SDK, **extra: Any
) -> dict[str, Any]:
    return record(
        "StartInstances",
        when,
        role=role,
        session=extra.pop("session", "botocore-session-1772450000"),
        ip=ip,
        agent=agent,
        request={"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}},
        **extra,
    )


def _scheduler_history(role: str = "scheduler") -> list[dict[str, Any]]:
    """A Lambda scheduler starting instances at 07:05 UTC every weekday for two weeks."""
    return [_start(role, _at(day, 7)) for day in range(14) if day % 7 < 5]


def _weigh(history: list[dict[str, Any]], batch: list[dict[str, Any]], policy: str) -> list[Any]:
    context = RuleContext.build(to_events(history), policy=parse_policy(policy), now=START)
    return OUTSIDE(to_events(batch), context)


def test_a_routine_out_of_window_change_is_low_and_says_why() -> None:
    (hit,) = _weigh(_scheduler_history(), [_start("scheduler", _at(15, 7))], DEPLOY_WINDOW)
    assert hit.severity == Severity.LOW
    assert "routine for this identity: 10 similar changes outside windows on 10 days" in hit.reason


@pytest.mark.parametrize(
    ("change", "new"),
    [
        ({"ip": HOME}, "new for this identity: network 198.18.194.0/24"),
        ({"agent": "aws-cli/2.15.30 Python/3.11.8"}, "client aws-cli"),
        ({"hour": 19}, "hour 19:00 UTC"),
        ({"name": "TerminateInstances"}, "TerminateInstances outside windows"),
    ],
    ids=["new network", "new client", "new hour", "new kind of change"],
)
def test_a_change_new_for_the_identity_stays_medium(change: dict[str, Any], new: str) -> None:
    hour = change.pop("hour", 7)
    name = change.pop("name", None)
    batch = _start("scheduler", _at(15, hour), **change)
    if name:
        batch["eventName"] = name
    (hit,) = _weigh(_scheduler_history(), [batch], DEPLOY_WINDOW)
    assert hit.severity == Severity.MEDIUM
    assert new in hit.reason


def test_an_identity_that_only_changes_inside_its_window_stays_medium() -> None:
    history = [_start("deploy", _at(day, 10, 30), session="gh-actions-1") for day in (1, 8)]
    (hit,) = _weigh(history, [_start("deploy", _at(15, 3), session="gh-actions-2")], DEPLOY_WINDOW)
    assert hit.severity == Severity.MEDIUM
    assert "changed things only inside approved windows (2 changes since 2026-03-03)" in hit.reason


def test_too_few_out_of_window_days_are_not_a_routine() -> None:
    history = [_start("scheduler", _at(0, 7)), _start("scheduler", _at(1, 7))]
    (hit,) = _weigh(history, [_start("scheduler", _at(15, 7))], DEPLOY_WINDOW)
    assert hit.severity == Severity.MEDIUM
    assert "rarely changes things outside windows (2 changes on 2 days" in hit.reason


def test_an_identity_without_any_past_is_weighed_against_its_peers() -> None:
    history = _scheduler_history("scheduler-eu") + _scheduler_history("scheduler-us")
    (hit,) = _weigh(history, [_start("scheduler-ap", _at(15, 7))], DEPLOY_WINDOW)
    assert hit.severity == Severity.LOW
    assert "routine for its peers (2 of the roles in account 111122223333)" in hit.reason


def test_an_identity_without_history_or_peers_is_medium_and_says_so() -> None:
    (hit,) = _weigh([], [_start("scheduler", _at(15, 7))], DEPLOY_WINDOW)
    assert hit.severity == Severity.MEDIUM
    assert "outside every approved window and ticket" in hit.reason


def test_with_scoped_approval_identities_no_window_names_are_left_to_the_model() -> None:
    batch = [_start("scheduler", _at(15, 7), ip=HOME), _start("deploy", _at(15, 3))]
    (hit,) = _weigh(_scheduler_history(), batch, SCOPED)
    assert hit.identity.endswith(":role/deploy")


def test_every_change_needs_approval_by_default() -> None:
    batch = [_start("scheduler", _at(15, 7), ip=HOME)]
    assert len(_weigh(_scheduler_history(), batch, DEPLOY_WINDOW)) == 1


@pytest.mark.parametrize(
    ("identity", "groups"),
    [
        (
            "arn:aws:iam::1:role/AWSReservedSSO_PowerUserAccess_0123abcd4567ef89/nina@corp.example",
            (
                "nina@corp.example in other accounts",
                "PowerUserAccess users in account 1",
                "PowerUserAccess users in every account",
                "people in account 1",
            ),
        ),
        (
            "arn:aws:iam::1:role/saml/bob@corp.example",
            (
                "bob@corp.example in other accounts",
                "saml users in account 1",
                "saml users in every account",
                "people in account 1",
            ),
        ),
        (
            "arn:aws:iam::1:role/scheduler",
            ("scheduler roles in other accounts", "roles in account 1"),
        ),
        ("arn:aws:iam::1:user/ops", ("IAM users in account 1",)),
        (
            "azure:mi:/subscriptions/s1/resourcegroups/rg/providers/"
            "microsoft.managedidentity/userassignedidentities/karpenter",
            (
                "karpenter managed identities in other subscriptions",
                "managed identities in subscription s1",
                "Azure managed identities",
            ),
        ),
        (
            "gcp:sa:karpenter@prod-1.iam.gserviceaccount.com",
            (
                "karpenter service accounts in other projects",
                "service accounts of project prod-1",
                "Google service accounts",
            ),
        ),
        ("service:backup.amazonaws.com", ()),
        ("unknown:1", ()),
    ],
)
def test_peer_groups_go_from_the_most_alike_to_the_kind_in_the_account(
    identity: str, groups: tuple[str, ...]
) -> None:
    assert peer_groups(identity) == groups


def test_a_role_is_compared_with_the_same_role_in_other_accounts_first() -> None:
    elsewhere = [
        _start("scheduler", _at(day, 7), account="444455556666") for day in range(14) if day % 7 < 5
    ]
    unlike = [_start("patcher", _at(day, 19), ip=HOME) for day in range(10)]  # same account
    (hit,) = _weigh(elsewhere + unlike, [_start("scheduler", _at(15, 7))], DEPLOY_WINDOW)
    assert hit.severity == Severity.LOW
    assert "routine for its peers (1 of the scheduler roles in other accounts)" in hit.reason


def test_merged_routines_sum_counts_and_join_what_each_member_used() -> None:
    a = Routine(
        changes=3,
        outside=2,
        days=frozenset({1, 2}),
        signatures={"StartInstances": 2},
        kinds={"instance": 2},
        hours=frozenset({7}),
        clients=frozenset({"boto3"}),
    )
    b = Routine(
        changes=5,
        outside=5,
        days=frozenset({2, 3, 4, 5}),
        signatures={"StartInstances": 1, "StopInstances": 4},
        kinds={"instance": 5},
        hours=frozenset({19}),
        clients=frozenset({"aws-sdk-go"}),
    )
    merged = merge_routines([a, b])
    assert merged is not None
    assert (merged.changes, merged.outside, merged.outside_days, merged.members) == (8, 7, 5, 2)
    assert merged.signatures == {"StartInstances": 3, "StopInstances": 4}
    assert merged.kinds == {"instance": 7}
    assert merged.hours == frozenset({7, 19})
    assert merged.clients == frozenset({"boto3", "aws-sdk-go"})
    assert merge_routines([]) is None


ROUTINE = Routine(
    changes=10,
    outside=10,
    days=frozenset(range(5)),
    signatures={"StartInstances": 10},
    kinds={"instance": 10},
    hours=frozenset({23}),
    clients=frozenset({"boto3"}),
    networks=frozenset({"198.18.0.0/24"}),
    asns=frozenset({3320}),
)
CHANGE = {
    "event_name": "StartInstances",
    "resource_type": "instance",
    "client_family": "boto3",
    "network": "198.18.7.0/24",
    "asn": 3320.0,  # pandas gives floats beside missing values
    "hour": 1,
}


@pytest.mark.parametrize(
    ("change", "by_kind", "new"),
    [
        ({}, False, []),
        ({"hour": 3}, False, ["hour 03:00 UTC"]),
        ({"asn": 9009}, False, ["network 198.18.7.0/24"]),
        (
            {"event_name": "ModifyInstanceAttribute"},
            False,
            ["ModifyInstanceAttribute outside windows"],
        ),
        ({"event_name": "ModifyInstanceAttribute"}, True, []),  # a person: same kind of resource
        ({"resource_type": "image"}, True, ["image changes outside windows"]),
    ],
    ids=["usual", "new hour", "new AS", "new call", "new call of a person", "new kind"],
)
def test_novelty_says_what_the_routine_never_saw(
    change: dict[str, Any], by_kind: bool, new: list[str]
) -> None:
    assert ROUTINE.novelty({**CHANGE, **change}, hour_slack=2, by_kind=by_kind) == new


def test_routines_are_learned_from_history_with_the_calendar() -> None:
    history = to_events([*_scheduler_history(), _start("deploy", _at(1, 10, 30))])
    context = RuleContext.build(history, policy=parse_policy(DEPLOY_WINDOW))
    routines = context.history.routines
    scheduler = routines["arn:aws:iam::111122223333:role/scheduler"]
    deploy = routines["arn:aws:iam::111122223333:role/deploy"]
    assert (scheduler.changes, scheduler.outside, scheduler.outside_days) == (10, 10, 10)
    assert scheduler.signatures == {"StartInstances": 10}
    assert scheduler.kinds == {"instance": 10}
    assert scheduler.hours == frozenset({7})
    assert (deploy.changes, deploy.outside) == (1, 0)
    assert isinstance(scheduler.since, datetime)
    assert pd.Timestamp(scheduler.since) == pd.Timestamp(_at(0, 7))


def test_without_a_policy_nothing_is_learned() -> None:
    context = RuleContext.build(to_events(_scheduler_history()))
    assert context.history.routines == {}
    assert not context.history.learned


def test_an_identity_that_never_changed_anything_is_weighed_against_its_peers() -> None:
    reader = [
        record("DescribeInstances", _at(day, 7), role="scheduler", ip=NAT, agent=GO_SDK)
        for day in range(5)
    ]
    elsewhere = [
        _start("scheduler", _at(day, 7), account="444455556666") for day in range(14) if day % 7 < 5
    ]
    (hit,) = _weigh(reader + elsewhere, [_start("scheduler", _at(15, 7))], DEPLOY_WINDOW)
    assert hit.severity == Severity.LOW
    assert "routine for its peers" in hit.reason


def test_against_peers_a_network_the_organisation_changes_from_is_not_new() -> None:
    # the same controller elsewhere calls from its own account's NAT; ours from ours, which
    # another automation of this account changes things from every day
    elsewhere = [
        _start("scheduler", _at(day, 7), account="444455556666", ip="198.19.9.7")
        for day in range(14)
        if day % 7 < 5
    ]
    neighbour = [_start("patcher", _at(day, 7)) for day in range(10)]  # this account's NAT
    (hit,) = _weigh(elsewhere + neighbour, [_start("scheduler", _at(15, 7))], DEPLOY_WINDOW)
    assert hit.severity == Severity.LOW
    (far,) = _weigh(
        elsewhere + neighbour, [_start("scheduler", _at(15, 7), ip=HOME)], DEPLOY_WINDOW
    )
    assert far.severity == Severity.MEDIUM
    assert "network 198.18.194.0/24" in far.reason


def _person(name: str, when: str, account: str = "111122223333", **extra: Any) -> dict[str, Any]:
    return _start(
        "AWSReservedSSO_PowerUserAccess_0123abcd4567ef89",
        when,
        account=account,
        session=f"{name}@corp.example",
        agent="aws-cli/2.15.30 Python/3.11.8",
        ip="198.51.100.20",
        **extra,
    )


def test_a_person_is_weighed_against_their_own_and_their_teams_routine() -> None:
    # the team fixes things out of hours on several days; dana once
    team = [_person(who, _at(day, 22)) for who in ("ana", "ben") for day in (1, 4, 8, 11)]
    history = [*team, _person("dana", _at(2, 21))]
    (hit,) = _weigh(history, [_person("dana", _at(15, 23))], DEPLOY_WINDOW)
    assert hit.severity == Severity.LOW
    assert "routine for this identity and its peers (2 of the PowerUserAccess users" in hit.reason


def test_a_person_is_first_compared_with_themselves_in_other_accounts() -> None:
    elsewhere = [_person("dana", _at(day, 22), account="444455556666") for day in (1, 4, 8)]
    (hit,) = _weigh(elsewhere, [_person("dana", _at(15, 23))], DEPLOY_WINDOW)
    assert hit.severity == Severity.LOW
    assert "its peers (1 of the dana@corp.example in other accounts)" in hit.reason


def test_a_person_is_weighed_against_themselves_elsewhere_and_their_team() -> None:
    # dana changed things in-window only elsewhere; her team here fixes out of hours routinely
    elsewhere = [_person("dana", _at(day, 15), account="444455556666") for day in (1, 4)]
    team = [_person(who, _at(day, 22)) for who in ("ana", "ben") for day in (1, 4, 8, 11)]
    (hit,) = _weigh([*elsewhere, *team], [_person("dana", _at(15, 23))], DEPLOY_WINDOW)
    assert hit.severity == Severity.LOW
    assert (
        "its peers (1 of the dana@corp.example in other accounts; "
        "2 of the PowerUserAccess users in account 111122223333)"
    ) in hit.reason


def test_a_person_whose_team_never_works_out_of_window_stays_medium() -> None:
    elsewhere = [_person("dana", _at(day, 15), account="444455556666") for day in (1, 4)]
    team = [_person(who, _at(day, 15)) for who in ("ana", "ben") for day in (1, 4, 8, 11)]
    afternoons = (
        "version: 1\nwindows:\n  - name: afternoons\n    cron: '0 15 * * *'\n    duration: PT1H\n"
    )
    (hit,) = _weigh([*elsewhere, *team], [_person("dana", _at(15, 23))], afternoons)
    assert hit.severity == Severity.MEDIUM
    assert "changed things only inside approved windows" in hit.reason


def test_a_new_identity_bursts_against_its_peers_past() -> None:
    from models.scoring import rule_by_id

    burst = rule_by_id("Burst.Changes")
    elsewhere = [
        _start("csi-driver", f"2026-03-{2 + day:02d}T10:{m:02d}:00Z", account="444455556666")
        for day in range(5)
        for m in range(0, 50, 2)
    ]  # 25 changes an hour, every day, in another account
    mine = [_start("csi-driver", f"2026-03-20T10:{m:02d}:00Z") for m in range(0, 60, 2)]
    context = RuleContext.build(to_events(elsewhere), policy=parse_policy(DEPLOY_WINDOW))
    assert burst(to_events(mine), context) == []
    never = RuleContext.build(to_events([]), policy=parse_policy(DEPLOY_WINDOW))
    (hit,) = burst(to_events(mine), never)
    assert "it never made any before" in hit.reason


def _reads(person: str, day: int, count: int) -> list[dict[str, Any]]:
    return [
        record(
            "DescribeInstanceAttribute",
            _at(day, 10, minute),
            role="AWSReservedSSO_PowerUserAccess_0123abcd4567ef89",
            session=f"{person}@corp.example",
            request={"instanceId": f"i-0{minute:016x}", "attribute": "userData"},
        )
        for minute in range(count)
    ]


@pytest.mark.parametrize(
    ("team_reads", "severity", "says"),
    [
        (True, Severity.LOW, "a new identity, whose closest peers read user data before"),
        (False, Severity.MEDIUM, "a sweep of 10 or more"),
    ],
)
def test_a_newcomer_doing_what_the_team_does_is_context(
    team_reads: bool, severity: Severity, says: str
) -> None:
    user_data_read = rule_by_id("UserData.Read")
    team = [_person("ana", _at(1, 9)), _person("ben", _at(2, 9))]
    if team_reads:
        team += _reads("ana", 3, 12) + _reads("ben", 4, 12)
    context = RuleContext.build(to_events(team), policy=parse_policy(DEPLOY_WINDOW))
    (hit,) = user_data_read(to_events(_reads("nina", 20, 15)), context)
    assert hit.severity == severity
    assert says in hit.reason
