"""Reading only what the rules read gives what reading everything gives (ADR 0017).

The reference is the service's path before the trimming (and still its path with a
model): every stored event of the batch's identities, split at the horizon, the recent
ones scored with the batch and the older ones made into the rules' history. The trimmed
path reads a digest of the older events and the recent events the rules read
(``read_rule_inputs``) and skips what cannot fire (``score_with_inputs``). Both run on
one state: a simulated organisation's nine days with every attack scenario, scored at
each attack, at random moments and in random windows, under no policy, the
organisation's own and the example policy; and on random small streams.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import features
from models.scoring import (
    IdentityHistory,
    Policy,
    RuleSettings,
    load_policy,
    parse_policy,
    score_events,
)
from models.scoring._scoring import ScoreResult
from serving._rule_inputs import read_rule_inputs, score_with_inputs
from serving._state import StateStore
from serving._stored_events import StoredEvents
from serving.api.scoring import _split
from tests.serving.conftest import POLICY_YAML, Stream

HORIZON = timedelta(hours=24)
SETTINGS = RuleSettings()


@pytest.fixture(scope="module")
def full_state(sim_stream: Stream, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every record of the stream stored: batches then meet their own ids and later events."""
    path = sim_stream.fresh_state(tmp_path_factory.mktemp("full-state"))
    store = StateStore(path, max_per_identity=100_000)
    replay = sim_stream.replay
    for at in range(0, len(replay), 2000):
        store.admit(features.records_to_table(replay[at : at + 2000]).table)
    store.close()
    return path


@pytest.fixture(scope="module", params=["none", "organisation", "example"])
def policy(request: pytest.FixtureRequest, sim_stream: Stream) -> Policy:
    """No change policy, the simulated organisation's own, and the example policy."""
    if request.param == "none":
        return Policy()
    if request.param == "organisation":
        return load_policy(*sim_stream.policy)
    return parse_policy(POLICY_YAML)


def _batches(stream: Stream, seed: int = 3) -> Iterator[list[dict[str, Any]]]:
    """Batches at every attack, single events at random, and random windows."""
    replay = stream.replay
    times = [r["eventTime"] for r in replay]
    chooser = random.Random(seed)
    for moment in stream.attack_times:
        at = next(i for i, t in enumerate(times) if t >= moment)
        yield replay[at : at + 40]
        yield replay[at + 5 : at + 6]
    for at in chooser.sample(range(len(replay)), 40):
        yield replay[at : at + 1]
    for at in chooser.sample(range(len(replay)), 10):
        yield replay[at : at + chooser.randint(2, 300)]


def _comparable(result: ScoreResult) -> tuple[Any, ...]:
    return (result.hits, result.suppressed, result.failed, result.findings)


def score_both(
    db: sqlite3.Connection, batch: pa.Table, policy: Policy
) -> tuple[ScoreResult, ScoreResult]:
    """Score a batch on the stored events: reading everything, and reading what rules read."""
    ids = batch.column("event_id").to_pylist()
    stored = {r[0] for r in db.execute("SELECT event_id FROM events")} & set(ids)
    identities = sorted(set(batch.column("identity_key").to_pylist()))
    events = StoredEvents(db, identities, stored)
    frame, past = _split(events.everything(), batch, HORIZON)
    reference = score_events(frame, policy, None, past)
    first = pc.min(batch.column("event_time")).cast(pa.int64()).as_py()
    since = first - HORIZON // timedelta(microseconds=1)
    inputs = read_rule_inputs(events, batch, since=since, policy=policy, settings=SETTINGS)
    return reference, score_with_inputs(batch, inputs, policy, SETTINGS)


def test_scoring_what_the_rules_read_finds_the_same(
    full_state: Path, sim_stream: Stream, policy: Policy
) -> None:
    db = sqlite3.connect(full_state)
    found = 0
    for records in _batches(sim_stream):
        batch = features.records_to_table(records).table
        reference, trimmed = score_both(db, batch, policy)
        assert _comparable(trimmed) == _comparable(reference), records[0]["eventID"]
        found += len(reference.hits)
    assert found > 20  # the comparison met real hits


def test_a_batch_before_its_own_history_finds_the_same(sim_stream: Stream, tmp_path: Path) -> None:
    """Only the past stored: what the service meets when events arrive in order."""
    db = sqlite3.connect(sim_stream.fresh_state(tmp_path))
    policy = load_policy(*sim_stream.policy)
    for records in _batches(sim_stream, seed=8):
        batch = features.records_to_table(records).table
        reference, trimmed = score_both(db, batch, policy)
        assert _comparable(trimmed) == _comparable(reference)


def _older(db: sqlite3.Connection, identities: Sequence[str], before: int) -> pd.DataFrame | None:
    table = StoredEvents(db, identities, ()).everything()
    if table is None:
        return None
    older = table.filter(pc.less(table.column("event_time").cast(pa.int64()), before))
    return older.to_pandas() if older.num_rows else None


@pytest.mark.parametrize("hours", [0, 7, 30, 55, 80])
@pytest.mark.parametrize("who", ["one", "a few", "everyone"])
def test_the_digest_makes_the_same_history(
    full_state: Path, sim_stream: Stream, hours: int, who: str
) -> None:
    db = sqlite3.connect(full_state)
    everyone = sorted({r[0] for r in db.execute("SELECT DISTINCT identity_key FROM events")})
    identities = {"one": everyone[:1], "a few": everyone[::7], "everyone": everyone}[who]
    start = pd.Timestamp(sim_stream.test_start) + pd.Timedelta(hours=hours)
    before = int(start.value // 1000)
    digest = StoredEvents(db, identities, ()).digest(before)
    older = _older(db, identities, before)
    expected = IdentityHistory.from_events(older) if older is not None else IdentityHistory()
    assert IdentityHistory.from_digest(digest) == expected


def test_the_digest_leaves_out_the_batch(full_state: Path) -> None:
    db = sqlite3.connect(full_state)
    rows = db.execute("SELECT event_id, identity_key FROM events ORDER BY event_time_us").fetchall()
    identity = rows[0][1]
    own = [i for i, k in rows if k == identity]
    left_out = set(own[: len(own) // 2])
    digest = StoredEvents(db, [identity], left_out).digest(2**62)
    kept = StoredEvents(db, [identity], left_out).everything()
    assert kept is not None
    assert not left_out & set(kept.column("event_id").to_pylist())
    assert IdentityHistory.from_digest(digest) == IdentityHistory.from_events(kept.to_pandas())
