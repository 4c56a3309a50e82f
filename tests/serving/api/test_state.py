"""The SQLite store: dedup, retention by count and age, and concurrent writers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from changewatch.errors import ConfigurationError
from features import records_to_table
from serving._state import StateStore
from tests.conftest import make_record


def _events(*times: str, user: str = "alice", prefix: str = "e") -> pd.DataFrame:
    arn = f"arn:aws:iam::111122223333:user/{user}"
    records = [
        make_record(
            eventID=f"{prefix}{i}",
            eventTime=t,
            userIdentity={"type": "IAMUser", "arn": arn, "accountId": "111122223333"},
        )
        for i, t in enumerate(times)
    ]
    frame: pd.DataFrame = records_to_table(records).table.to_pandas()
    return frame


def test_history_leaves_out_the_batch_and_keeps_dtypes(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    first = _events("2026-03-02T10:00:00Z", "2026-03-02T10:01:00Z")
    store.admit(first)
    admission = store.admit(_events("2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", prefix="x"))
    assert admission.history is not None
    assert list(admission.history["event_id"]) == ["e0", "e1"]
    assert admission.history.dtypes.equals(first.dtypes)


def test_retention_by_count_keeps_the_newest(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db", max_per_identity=3)
    store.admit(_events(*(f"2026-03-02T10:0{i}:00Z" for i in range(6))))
    history = store.admit(_events("2026-03-02T11:00:00Z", prefix="z")).history
    assert history is not None
    assert list(history["event_id"]) == ["e3", "e4", "e5"]


def test_retention_by_age_follows_the_newest_event(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db", max_age=timedelta(days=2), prune_every=1)
    store.admit(_events("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"))
    store.admit(_events("2026-03-04T12:00:00Z", prefix="n"))
    assert store.event_count() == 1


def test_bad_retention_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="retention must be positive"):
        StateStore(tmp_path / "s.db", max_per_identity=0)


def test_concurrent_batches_lose_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db", max_per_identity=10_000)
    batches = [
        _events(
            *(f"2026-03-02T10:{m:02d}:00Z" for m in range(5)), user=f"u{b % 4}", prefix=f"b{b}-"
        )
        for b in range(24)
    ]
    with ThreadPoolExecutor(8) as pool:
        added = sum(a.added for a in pool.map(store.admit, batches))
    assert added == store.event_count() == 24 * 5
    again = store.admit(batches[0])
    assert (again.added, again.already_seen) == (0, 5)


def test_state_survives_reopening(tmp_path: Path) -> None:
    StateStore(tmp_path / "s.db").admit(_events("2026-03-02T10:00:00Z"))
    assert StateStore(tmp_path / "s.db").event_count() == 1
