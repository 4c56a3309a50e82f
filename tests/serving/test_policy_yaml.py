"""The change-policy YAML: the agreed format loads; every mistake names its line and field."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from changewatch.errors import ConfigurationError
from models.scoring import load_policy, parse_policy


def test_the_agreed_example_loads(policy_yaml: str) -> None:
    policy = parse_policy(policy_yaml)
    calendar = policy.calendar
    assert [w.name for w in calendar.windows] == ["weekly-deploy", "nightly-batch"]
    assert calendar.windows[0].timezone == "Europe/Berlin"  # the file's default
    assert calendar.windows[1].timezone == "UTC"  # its own
    assert calendar.tickets[0].start == datetime(2026, 3, 14, 22, tzinfo=UTC)
    assert calendar.freezes[0].end == datetime(2027, 1, 3, tzinfo=UTC)
    assert policy.organization.accounts == {"111122223333", "444455556666"}
    assert policy.automation.entries[0].networks == ("10.20.0.0/16",)
    assert policy.suppressions.entries[0].owner == "soc@example.com"


def test_scalars_stay_strings_so_account_ids_keep_their_leading_zero() -> None:
    policy = parse_policy(
        "version: 1\norganization:\n  accounts: [012345670123, 111122223333]\n"
        "windows:\n  - {name: NO, cron: '0 10 * * *', duration: PT1H}\n"
    )
    assert policy.organization.accounts == {"012345670123", "111122223333"}
    assert policy.calendar.windows[0].name == "NO"  # not False (YAML 1.1's Norway problem)


def test_naive_times_are_read_in_the_files_zone() -> None:
    policy = parse_policy(
        "version: 1\ntimezone: Europe/Berlin\ntickets:\n"
        "  - {id: CHG-1, start: 2026-07-01T10:00:00, end: 2026-07-01T12:00:00, owner: bob}\n"
        "freezes:\n  - {name: summer, start: 2026-08-01, end: 2026-08-15}\n"
    )
    assert policy.calendar.tickets[0].start == datetime(2026, 7, 1, 8, tzinfo=UTC)
    assert policy.calendar.freezes[0].start == datetime(2026, 7, 31, 22, tzinfo=UTC)


def _error(text: str) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse_policy(text, source="change_windows.yaml")
    return str(caught.value)


BASE = "version: 1\ntimezone: Europe/Berlin\nwindows:\n  - name: weekly-deploy\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            BASE + "    rrule: FREQ=WEEKLY;BYDAY=TU\n    duration: PT4X\n",
            "change_windows.yaml:6: windows[0].duration: expected an ISO 8601 duration",
        ),
        (
            BASE + "    rrule: FREQ=WEEKLY;BYDAY=XX\n    duration: PT4H\n",
            "change_windows.yaml:5: windows[0].rrule: not an RFC 5545 RRULE",
        ),
        (
            BASE + "    cron: '0 25 * * *'\n    duration: PT4H\n",
            "change_windows.yaml:5: windows[0].cron: cron hour: 25 is outside 0-23",
        ),
        (
            BASE + "    cron: '0 10 * * *'\n    duration: PT4H\n    timezone: Europe/Berlni\n",
            "change_windows.yaml:7: windows[0].timezone: unknown time zone 'Europe/Berlni'",
        ),
        (
            BASE + "    duration: PT4H\n",
            "change_windows.yaml:4: windows[0]: give exactly one of 'rrule' and 'cron'",
        ),
        (
            BASE + "    cron: '0 10 * * *'\n    duration: PT4H\n    scoep: {}\n",
            "change_windows.yaml:7: windows[0].scoep: Extra inputs are not permitted",
        ),
        (
            BASE + "    cron: '0 10 * * *'\n    duration: PT4H\n    scope:\n"
            "      accounts: ['1234']\n",
            "change_windows.yaml:8: windows[0].scope.accounts: expected a 12-digit account id",
        ),
        (
            "version: 1\ntickets:\n  - id: CHG-1\n    start: 2026-03-15T02:00:00Z\n"
            "    end: 2026-03-14T22:00:00Z\n    owner: alice\n",
            "change_windows.yaml:3: tickets[0]: Value error, 'end' (2026-03-14T22:00:00+00:00)"
            " must come after 'start'",
        ),
        (
            "version: 1\ntickets:\n  - id: CHG-1\n    start: 2026-03-15T02:00:00Z\n"
            "    end: tomorrow\n    owner: alice\n",
            "change_windows.yaml:5: tickets[0].end: Input should be a valid datetime",
        ),
        (
            "version: 1\ntickets:\n  - {id: CHG-1, start: 2026-03-15, end: 2026-03-16}\n",
            "change_windows.yaml:3: tickets[0].owner: Field required",
        ),
        (
            "version: 1\nautomation:\n  - name: ci\n    identities: [arn:aws:iam::*:role/ci]\n"
            "    networks: [10.0.0.0/33]\n",
            "change_windows.yaml:5: automation[0].networks: expected a CIDR",
        ),
        (
            "version: 1\nautomation:\n  - name: ci\n    identities: [arn:aws:iam::*:role/ci]\n"
            "    clients: [jenkins]\n",
            "change_windows.yaml:5: automation[0].clients: expected a client family",
        ),
        (
            "version: 1\nsuppressions:\n  - rule: Burst.Changes\n    reason: load test\n"
            "    owner: bob\n",
            "change_windows.yaml:3: suppressions[0].expires: Field required",
        ),
        ("version: 2\n", "change_windows.yaml:1: version: Input should be 1"),
        (
            "version: 1\norganization: {id: org-1}\n",
            "change_windows.yaml:2: organization.id: expected an organisation id",
        ),
    ],
)
def test_errors_name_line_and_field(text: str, expected: str) -> None:
    message = _error(text)
    assert expected.replace("Value error, ", "") in message


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    message = _error(
        BASE + "    rrule: FREQ=WEEKLY\n    duration: forever\n    timezone: Mars/Base\n"
    )
    assert message.count("\n") == 1
    assert "windows[0].duration" in message
    assert "windows[0].timezone" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nwindows: [\n", "change_windows.yaml:3: not valid YAML"),
        ("- 1\n- 2\n", "change_windows.yaml:1: expected a mapping"),
        (
            "version: 1\ntimezone: UTC\ntimezone: Europe/Berlin\n",
            "change_windows.yaml:3: key 'timezone' given twice (first on line 2)",
        ),
        (
            "version: 1\nwindows:\n  - {name: a, cron: '0 1 * * *', duration: PT1H}\n"
            "  - {name: a, cron: '0 2 * * *', duration: PT1H}\n",
            "change_windows.yaml:3: windows: name 'a' is given twice",
        ),
    ],
)
def test_structural_errors_name_the_line(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_sibling_files_are_joined(tmp_path: Path, policy_yaml: str) -> None:
    windows = tmp_path / "change_windows.yaml"
    windows.write_text(policy_yaml)
    extra = tmp_path / "policy.yaml"
    extra.write_text(
        "version: 1\ntimezone: UTC\norganization: {accounts: ['777788889999']}\n"
        "automation:\n  - {name: backup, identities: ['*:role/backup'], clients: [boto3]}\n"
        "suppressions:\n  - {rule: 'Burst.*', reason: migration, owner: bob, expires: 2026-05-01}\n"
    )
    policy = load_policy(windows, extra)
    assert policy.organization.accounts == {"111122223333", "444455556666", "777788889999"}
    assert [a.name for a in policy.automation.entries] == ["deploy-pipeline", "backup"]
    assert policy.suppressions.entries[1].expires == datetime(2026, 5, 1, tzinfo=UTC)


def test_a_name_defined_in_two_files_is_refused(tmp_path: Path, policy_yaml: str) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(policy_yaml)
    second.write_text(
        "version: 1\nfreezes:\n  - {name: year-end-freeze, start: 2026-01-01, end: 2026-01-02}\n"
    )
    with pytest.raises(
        ConfigurationError, match="freeze 'year-end-freeze' is defined in more than one file"
    ):
        load_policy(first, second)


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_policy_or_a_configuration_error(text: str) -> None:
    with contextlib.suppress(ConfigurationError):
        parse_policy(text)
