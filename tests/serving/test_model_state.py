"""An identity's model state: the windows its stored events give, a day kept open, folds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import features
import models.scoring._model_state as model_state
from models.scoring import MODEL_COLUMNS, IdentityState, WindowScore, lean
from models.scoring._model_state import _converts_directly
from tests.serving.conftest import Stream, Trained, record

HORIZON = timedelta(hours=24)
HOUR = pd.Timedelta("1h")


@pytest.fixture(scope="module")
def busiest(sim_stream: Stream) -> pd.DataFrame:
    """The test period's events of its busiest identity, in time order, as a state keeps them."""
    replay = features.records_to_table(sim_stream.replay).table.to_pandas()
    who = replay["identity_key"].value_counts().index[0]
    mine = replay[replay["identity_key"] == who].sort_values("event_time", kind="stable")
    return lean(mine.reset_index(drop=True))


def _reference(model: Trained, events: pd.DataFrame, at: int) -> list[WindowScore]:
    """What scoring every stored event gives for the windows that hold event ``at``'s moment."""
    moment = events["event_time"].iloc[at]
    since = moment - pd.Timedelta(HORIZON)
    seen = events.iloc[: at + 1]
    past, frame = seen[seen["event_time"] < since], seen[seen["event_time"] >= since]
    found = model.scorer.score_identities(frame, past if len(past) else None)
    holding = {moment.floor(HOUR)} | ({moment - HOUR} if moment == moment.floor(HOUR) else set())
    return [w for w in found if pd.Timestamp(w.window_start) in holding]


def test_each_event_gets_the_windows_its_stored_events_give(
    sim_model: Trained, busiest: pd.DataFrame
) -> None:
    scorer = sim_model.scorer
    state = IdentityState.start(scorer, str(busiest["identity_key"].iloc[0]), HORIZON)
    taken = 0
    for at in range(0, len(busiest), max(1, len(busiest) // 30)):
        state = state.advance(scorer, busiest.iloc[taken:at])
        batch = busiest.iloc[at : at + 1]
        moment = int(batch["event_time"].iloc[0].value)
        since = moment - HORIZON // timedelta(microseconds=1) * 1000
        found = state.windows(scorer, batch, since=since, moments=[moment])
        assert found == _reference(sim_model, busiest, at)
        taken = at


def test_a_state_keeps_a_day_open_and_folds_a_day_at_a_time(
    sim_model: Trained, busiest: pd.DataFrame
) -> None:
    scorer = sim_model.scorer
    state = IdentityState.start(scorer, str(busiest["identity_key"].iloc[0]), HORIZON)
    trained_until = state.until
    boundaries = {state.until}
    for at in range(0, len(busiest), 20):
        state = state.advance(scorer, busiest.iloc[at : at + 20])
        boundaries.add(state.until)
        assert state.latest is not None
        # a day and a window stay open (the first day after training is open anyway)
        assert state.until == trained_until or state.latest - state.until >= state.keep_open
    assert len(boundaries) > 1  # it folded: four days of events do not stay open
    assert max(state.latest - until for until in boundaries if until != min(boundaries)) < (
        2 * 86_400 * 10**9 + state.keep_open
    )


def test_a_frame_reaching_into_folded_windows_asks_for_a_rebuild(
    sim_model: Trained, busiest: pd.DataFrame
) -> None:
    scorer = sim_model.scorer
    state = IdentityState.build(scorer, str(busiest["identity_key"].iloc[0]), busiest, HORIZON)
    early = busiest.iloc[:1]
    moment = int(early["event_time"].iloc[0].value)
    assert not state.covers(scorer, moment)
    assert not state.accepts(scorer, early)
    with pytest.raises(ValueError, match="folded"):
        state.windows(scorer, early, since=moment, moments=[moment])


def _older_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "older than the profiles" in r.getMessage()]


def test_look_back_events_a_state_holds_are_not_passed_to_the_featuriser_as_new(
    sim_model: Trained, caplog: pytest.LogCaptureFixture
) -> None:
    """A late event's window is wanted, but only the state's look-back stands in it.

    Training leaves each identity its look-back (chain and restart steps before the
    profiles' end). A request whose event arrives dated in that past (a late delivery)
    wants that window; the look-back rows there were offered to the featuriser as new
    events, which it judged too old and warned about, on every such request.
    """
    scorer = sim_model.scorer
    kept = scorer.detector.recent_
    identity = str(kept["identity_key"].value_counts().index[0])
    state = IdentityState.start(scorer, identity, HORIZON)
    look_back = state.features.recent
    assert len(look_back)
    assert (look_back["event_time"] < scorer.training_end).all()
    late = look_back.iloc[[-1]].assign(event_id="delivered-late")
    moment = int(late["event_time"].iloc[0].value)
    since = moment - HORIZON // timedelta(microseconds=1) * 1000
    assert state.covers(scorer, since)  # the frame reaches training only: nothing is folded
    with caplog.at_level("WARNING"):
        for _ in range(3):
            assert state.windows(scorer, late, since=since, moments=[moment]) == []
    assert _older_warnings(caplog) == []
    ignored = scorer.ignored(late)  # the late event itself is reported where it arrives
    assert ignored is not None
    assert ignored.event_ids == ("delivered-late",)


def _column_by_column(table: pa.Table) -> pd.DataFrame:
    """What lean means for a table: text as Python strings (None for a null), the rest as Arrow
    converts each column; the labels plain Python strings (ADR 0068)."""
    columns = {}
    for name in MODEL_COLUMNS:
        column = table.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            columns[name] = pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
        else:
            columns[name] = column.to_pandas()
    return pd.DataFrame(columns).set_axis(pd.Index(list(MODEL_COLUMNS), dtype=object), axis=1)


@pytest.mark.parametrize("rows", [0, 1, 7])
def test_lean_of_a_table_is_its_columns_converted_one_by_one(rows: int) -> None:
    records = [
        record("RunInstances", f"2026-03-17T10:0{i}:00Z", error="Denied" if i % 2 else None)
        for i in range(rows)
    ]
    table = features.records_to_table(records).table if rows else _empty_table()
    lean_frame = lean(table)
    expected = _column_by_column(table)
    pd.testing.assert_frame_equal(lean_frame, expected)
    assert list(lean_frame.dtypes) == list(expected.dtypes)
    for name in lean_frame.columns:  # the same Python objects: None stays None, not NaN
        assert [type(v) for v in lean_frame[name]] == [type(v) for v in expected[name]]


def _with_nulls(table: pa.Table) -> pa.Table:
    """``table`` with a null in every nullable column the state keeps (its first row)."""
    for name in ("by_service", "is_compute_change", "asn", "resource_ids", "account_id"):
        at = table.schema.get_field_index(name)
        column = table.column(name).to_pylist()
        nulled = pa.array([None, *column[1:]], type=table.schema.field(name).type)
        table = table.set_column(at, pa.field(name, nulled.type), nulled)
    return table


def _unusual(table: pa.Table) -> pa.Table:
    """``table`` with text dictionary-encoded and times without a zone (the general way)."""
    region = table.column("region").dictionary_encode()
    table = table.set_column(table.schema.get_field_index("region"), "region", region)
    naive = table.column("event_time").cast(pa.timestamp("us"))
    return table.set_column(table.schema.get_field_index("event_time"), "event_time", naive)


@pytest.mark.parametrize(
    ("change", "direct"),
    [(_with_nulls, True), (_unusual, False)],
    ids=["nulls: Arrow's arrays as blocks", "unusual types: the general way"],
)
def test_lean_of_any_table_is_its_columns_converted_one_by_one(change: Any, direct: bool) -> None:
    records = [record("RunInstances", f"2026-03-17T10:0{i}:00Z") for i in range(3)]
    table = change(features.records_to_table(records).table)
    kinds = [table.schema.field(name).type for name in MODEL_COLUMNS]
    assert all(_converts_directly(kind) for kind in kinds) is direct
    lean_frame = lean(table)
    expected = _column_by_column(table)
    pd.testing.assert_frame_equal(lean_frame, expected)
    for name in lean_frame.columns:
        assert [type(v) for v in lean_frame[name]] == [type(v) for v in expected[name]]
    zone = getattr(expected["event_time"].dtype, "tz", None)  # the same zone object's type
    assert type(getattr(lean_frame["event_time"].dtype, "tz", None)) is type(zone)


def _empty_table() -> pa.Table:
    return features.records_to_table([record("RunInstances", "2026-03-17T10:00:00Z")]).table[:0]


def test_times_the_caller_read_give_what_the_state_reads_itself(
    sim_model: Trained, busiest: pd.DataFrame
) -> None:
    """The service reads a request's times once and hands them on (ADR 0070)."""
    scorer = sim_model.scorer
    state = IdentityState.start(scorer, str(busiest["identity_key"].iloc[0]), HORIZON)
    state = state.advance(scorer, busiest.iloc[:60])
    batch = busiest.iloc[60:63]
    times = features.to_ns(batch["event_time"])
    since = int(times.min()) - HORIZON // timedelta(microseconds=1) * 1000
    moments = times.tolist()
    found = state.windows(scorer, batch, since=since, moments=moments, times=times)
    assert found
    assert found == state.windows(scorer, batch, since=since, moments=moments)
    after, read = state.advance(scorer, batch, times=times), state.advance(scorer, batch)
    assert (after.until, after.latest) == (read.until, read.latest)
    pd.testing.assert_frame_equal(after.features.recent, read.features.recent)
    ignored = scorer.ignored(batch, times=times)
    assert ignored == scorer.ignored(batch)
    # the times handed on are the ones used: dated in training, the events are not the state's
    trained = np.full(len(batch), int(scorer.training_end.value) - 1, dtype=np.int64)
    assert state.advance(scorer, batch, times=trained) is state
    assert state.windows(scorer, batch, since=since, moments=[], times=trained) == []
    older = scorer.ignored(batch, times=trained)
    assert older is not None
    assert older.event_ids == tuple(batch["event_id"])
    for call in (
        lambda: state.windows(scorer, batch, since=since, moments=moments, times=times[:1]),
        lambda: state.advance(scorer, batch, times=times[:2]),
        lambda: scorer.ignored(batch, times=times[:1]),
    ):
        with pytest.raises(ValueError, match="times for 3 events"):
            call()


def test_lean_judges_each_new_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema last judged is kept; another one (other types, another order) is judged."""
    records = [record("RunInstances", f"2026-03-17T10:0{i}:00Z") for i in range(3)]
    table = features.records_to_table(records).table
    names = table.schema.names
    shuffled = table.select([*names[::-1]])  # the same columns in another order
    for each in (table, _unusual(table), shuffled, _with_nulls(table), table):
        pd.testing.assert_frame_equal(lean(each), _column_by_column(each))
    judged: list[pa.DataType] = []
    original = model_state._converts_directly

    def counted(kind: pa.DataType) -> bool:
        judged.append(kind)
        return original(kind)

    monkeypatch.setattr(model_state, "_converts_directly", counted)
    monkeypatch.setattr(model_state, "_LAST_PLAN", (None, None))  # none judged yet
    lean(table)
    lean(table)  # the same schema: judged once
    assert len(judged) == len(MODEL_COLUMNS)
    lean(shuffled)
    assert len(judged) == 2 * len(MODEL_COLUMNS)
    pd.testing.assert_frame_equal(lean(shuffled), _column_by_column(shuffled))
