"""The state store's own bounds (issue 16): what it refuses whoever calls it.

The API checks these too; these tests hold the store to them without the API: at most
``max_policy_objects`` objects of a kind, nothing written when a write is refused, a
policy write validated outside the store's lock (scoring and reading the policy go on
meanwhile), and no event stored that is dated after the clock plus ``max_future``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from features import ConfigurationError, records_to_table
from models.scoring import Policy
from serving._state import StateStore
from tests.serving.conftest import record

HANG = 10.0
"""Seconds a thread may take before the test calls it hung (a guard, not a measurement)."""


def _window(name: str) -> tuple[str, str, dict[str, Any]]:
    body = {"name": name, "rrule": "FREQ=WEEKLY;BYDAY=TU;BYHOUR=22", "duration": "PT4H"}
    return ("window", name, body)


def _table(records: list[dict[str, Any]]) -> pa.Table:
    result = records_to_table(records)
    assert not result.rejections
    return result.table


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def store(tmp_path: Path) -> Iterable[StateStore]:
    """A store of at most two policy objects of a kind, refusing events 15 minutes ahead."""
    opened = StateStore(
        tmp_path / "state.db", max_policy_objects=2, max_future=timedelta(minutes=15)
    )
    yield opened
    opened.close()


# ------------------------------------------------------------------ policy object cap


@pytest.mark.parametrize("replace_all", [False, True], ids=["upsert", "import"])
def test_a_write_over_the_object_cap_is_refused_and_changes_nothing(
    store: StateStore, replace_all: bool
) -> None:
    store.put_objects([_window("a"), _window("b")])
    before = store.policy()
    version = store.version("policy")
    new = [_window("c")] if not replace_all else [_window("x"), _window("y"), _window("z")]
    with pytest.raises(ConfigurationError, match="CHANGEWATCH_MAX_POLICY_OBJECTS") as refused:
        store.put_objects(new, replace_all=replace_all)
    assert "3 objects of kind 'window'" in str(refused.value)
    assert "at most 2" in str(refused.value)
    assert [o.name for o in store.list_objects("window")] == ["a", "b"]
    assert store.version("policy") == version
    assert store.policy() is before


def test_a_write_that_stays_at_the_cap_is_stored(store: StateStore) -> None:
    store.put_objects([_window("a")])
    store.put_objects([_window("b")])
    store.put_objects([_window("a"), _window("c")], remove=[("window", "b")])
    assert [o.name for o in store.list_objects("window")] == ["a", "c"]


# ------------------------------------------------------------------ build outside the lock


def test_scoring_and_the_policy_answer_while_a_policy_write_is_built(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.policy()
    building, gate = threading.Event(), threading.Event()
    build = StateStore._policy_of

    def gated(rows: Iterable[tuple[str, str, str]], limit: int | None) -> Policy:
        if threading.current_thread().name == "policy-writer":
            building.set()
            gate.wait(HANG)
        return build(rows, limit)

    monkeypatch.setattr(StateStore, "_policy_of", staticmethod(gated))
    writer = threading.Thread(
        target=store.put_objects, args=([_window("a")],), name="policy-writer", daemon=True
    )
    writer.start()
    try:
        assert building.wait(HANG), "the write never started its build"
        answered: dict[str, Any] = {}

        def meanwhile() -> None:
            answered["policy"] = store.policy()
            now = _stamp(datetime.now(UTC) - timedelta(minutes=1))
            answered["added"] = store.admit(_table([record("RunInstances", now)])).added

        other = threading.Thread(target=meanwhile, daemon=True)
        other.start()
        other.join(HANG)
        still_building = not gate.is_set() and writer.is_alive()
    finally:
        gate.set()
        writer.join(HANG)
    assert still_building
    assert answered == {"policy": before, "added": 1}
    assert [o.name for o in store.list_objects("window")] == ["a"]  # the write went through
    assert store.policy() is not before


# ------------------------------------------------------------------ events from the future


def test_the_store_itself_never_stores_events_dated_after_the_clock(store: StateStore) -> None:
    now = datetime.now(UTC)
    records = [
        record("DescribeInstances", _stamp(now - timedelta(hours=1)), event_id="past"),
        record("DescribeInstances", _stamp(now + timedelta(minutes=5)), event_id="soon"),
        record("DescribeInstances", _stamp(now + timedelta(days=1)), event_id="tomorrow"),
        record("DescribeInstances", "9999-12-31T00:00:00Z", event_id="far"),
    ]
    admitted = store.admit(_table(records))
    assert admitted.added == 2
    assert store.event_count() == 2
    again = store.admit(_table(records))  # the refused ones were never stored
    assert again.already_seen == 2
    assert again.added == 0
