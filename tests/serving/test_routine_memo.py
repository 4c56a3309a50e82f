"""Routines remembered between requests: learned again exactly when an identity's past changes.

The service learns the routines of a request's identities from their stored changes
before the horizon on every request whose rules weigh routines. ``_with_routines``
remembers each identity's routine per calendar under the keys of the changes it was
learned from: it must give what learning from the whole frame of older changes gives,
reuse a routine while those keys stay, and learn it again when they differ (a late
change stored, a change aged into the history) or under another calendar.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import NamedTuple

import orjson
import pytest

from features import ATTEMPTED_CHANGE
from models.scoring import IdentityHistory, Policy, load_policy
from serving._rule_inputs import _LEARNED, _with_routines
from serving._stored_events import StoredEvents
from tests.serving.conftest import Stream

_HOUR_US = 3_600_000_000


def _learned_from_everything(events: StoredEvents, since: int, policy: Policy) -> IdentityHistory:
    """The reference: every older change decoded, then ``with_routines`` (the frame's way)."""
    table = events.events(row.key for row in events.older(since, ATTEMPTED_CHANGE.bit))
    assert table is not None
    return IdentityHistory().with_routines(table.to_pandas(), policy.calendar)


class Memo(NamedTuple):
    """A warm state's store, its busiest identities' stored events, a horizon, the policy."""

    db: sqlite3.Connection
    identities: list[str]
    since: int
    events: StoredEvents
    policy: Policy


@pytest.fixture
def memo(sim_stream: Stream, tmp_path: Path) -> Memo:
    """The warm state, the identities with the most older changes, a horizon and the policy."""
    db = sqlite3.connect(sim_stream.fresh_state(tmp_path))
    since = db.execute("SELECT MAX(event_time_us) FROM events").fetchone()[0] - 24 * _HOUR_US
    busiest = db.execute(
        "SELECT identity_key FROM events WHERE event_time_us < ? AND flags & ?"
        " GROUP BY identity_key ORDER BY COUNT(*) DESC LIMIT 5",
        (since, ATTEMPTED_CHANGE.bit),
    ).fetchall()
    identities = [r[0] for r in busiest]
    events = StoredEvents(db, identities, ())
    return Memo(db, identities, since, events, load_policy(*sim_stream.policy))


def test_remembered_routines_are_the_routines_of_the_whole_frame(memo: Memo) -> None:
    _, identities, since, events, policy = memo
    expected = _learned_from_everything(events, since, policy)
    assert len(expected.routines) == len(identities)
    first = _with_routines(events, since, IdentityHistory(), policy.calendar)
    again = _with_routines(events, since, IdentityHistory(), policy.calendar)
    for found in (first, again):
        assert found == expected
        assert list(found.routines) == list(expected.routines)  # in order of first change
    for identity in identities:  # the second request learned nothing again
        assert again.routines[identity] is first.routines[identity]
        assert _LEARNED[policy.calendar][identity][1] is first.routines[identity]


def test_an_identity_whose_changes_differ_is_learned_again(memo: Memo) -> None:
    db, identities, since, events, policy = memo
    before = _with_routines(events, since, IdentityHistory(), policy.calendar)
    late, other = identities[0], identities[1]
    key, blob = db.execute(
        "SELECT id, row FROM events WHERE identity_key = ? AND flags & ? ORDER BY id DESC LIMIT 1",
        (late, ATTEMPTED_CHANGE.bit),
    ).fetchone()
    row = orjson.loads(blob)
    row["event_id"] = "late-change-0001"
    db.execute(  # the same change again, arrived late: stored before the horizon
        "INSERT INTO events (event_id, identity_key, event_time_us, flags, principal_arn,"
        " client_family, client_version, source_ip, network, asn, row)"
        " SELECT ?, identity_key, ?, flags, principal_arn, client_family, client_version,"
        " source_ip, network, asn, ? FROM events WHERE id = ?",
        ("late-change-0001", since - _HOUR_US, orjson.dumps(row), key),
    )
    after = _with_routines(events, since, IdentityHistory(), policy.calendar)
    assert after == _learned_from_everything(events, since, policy)
    assert after.routines[late].changes == before.routines[late].changes + 1
    assert after.routines[other] is before.routines[other]  # its keys stayed


def test_another_calendar_learns_its_own(memo: Memo) -> None:
    _, identities, since, events, mine = memo
    theirs = Policy()
    remembered = _with_routines(events, since, IdentityHistory(), mine.calendar)
    other = _with_routines(events, since, IdentityHistory(), theirs.calendar)
    assert other == _learned_from_everything(events, since, theirs)
    assert all(other.routines[i] is not remembered.routines[i] for i in identities)
