"""What the detector reads per scored window (ADR 0068): the same answers from fewer reads.

* The event ids of the windows scored are read for those windows only
  (``_pooled_event_arrays(..., starts=...)``): equal to the whole table's, read then kept.
* The vectors' columns are read as arrays (``column_arrays``, ``float_matrix``): equal to
  reading each column of the frame, and read that way when the arrays cannot be.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import features
from features import EventColumns, all_text
from models import ChangeDetector
from models._detector import _pooled_event_arrays, _window_ids
from models._scored import column_arrays, columns_of, float_matrix
from models.scoring import lean
from models.scoring._model_state import LEAN_COLUMNS, MODEL_COLUMNS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._generate import generate

HOUR = 3_600 * 10**9


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return generate(3_000, 6, seed=9).reset_index(drop=True)


def _starts(table: pd.DataFrame, width: int) -> np.ndarray:
    times = features.to_ns(table["event_time"])
    return np.unique(times - np.mod(times, width))


def _kept(full: dict[tuple[str, int], list[str]], starts: np.ndarray) -> dict:
    wanted = set(starts.tolist())
    return {key: ids for key, ids in full.items() if key[1] in wanted}


@pytest.mark.parametrize("as_columns", [True, False], ids=["state as columns", "state as a frame"])
@pytest.mark.parametrize("resent", [False, True], ids=["new events", "events sent again"])
def test_the_ids_of_the_windows_scored_are_those_of_the_whole_table(
    events: pd.DataFrame, as_columns: bool, resent: bool
) -> None:
    state = lean(events.iloc[:2_000])
    batch = lean(events.iloc[2_000:2_004])
    if resent:  # a resent event (it stays where it first was) and one repeated in the state
        batch = pd.concat([batch, lean(events.iloc[[1_990]])], ignore_index=True)
        state = pd.concat([state, state.iloc[[5]]], ignore_index=True)
    held = EventColumns.of(state) if as_columns else state
    assert held is not None
    frames = [held, batch]
    full = _window_ids(*_pooled_event_arrays(frames), HOUR)
    for starts in (_starts(batch, HOUR), _starts(events.iloc[1_000:1_003], HOUR)):
        found = _window_ids(*_pooled_event_arrays(frames, starts=starts, width=HOUR), HOUR)
        assert found == _kept(full, starts)
        assert found  # the check is not vacuous
    none = _pooled_event_arrays(frames, starts=np.zeros(0, dtype=np.int64), width=HOUR)
    assert [len(a) for a in none] == [0, 0, 0]


def test_the_whole_table_is_the_deduplicated_concatenation(events: pd.DataFrame) -> None:
    state, batch = lean(events.iloc[:50]), lean(events.iloc[45:60])  # 5 ids in both
    keys, times, ids = _pooled_event_arrays([EventColumns.of(state), batch, None])
    table = pd.concat([state, batch]).drop_duplicates("event_id")
    assert ids.tolist() == table["event_id"].tolist()
    assert keys.tolist() == table["identity_key"].tolist()
    assert times.tolist() == features.to_ns(table["event_time"]).tolist()


def test_ids_that_are_not_text_are_converted_at_the_rows_read(events: pd.DataFrame) -> None:
    state = lean(events.iloc[:40])
    state["event_id"] = np.arange(40, dtype=object)  # numbers: converted as astype(str)
    held = EventColumns.of(state)
    starts = _starts(state.iloc[[3]], HOUR)
    found = _window_ids(*_pooled_event_arrays([held], starts=starts, width=HOUR), HOUR)
    assert found == _kept(_window_ids(*_pooled_event_arrays([state]), HOUR), starts)
    assert all(type(i) is str for ids in found.values() for i in ids)


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], True), (["a", "b"], True), (["a", None], False), (["a", np.str_("b")], False)],
)
def test_all_text_is_true_of_exact_strings_only(values: list[object], expected: bool) -> None:
    assert all_text(np.array(values, dtype=object)) is expected


@pytest.fixture(scope="module")
def vectors(events: pd.DataFrame) -> pd.DataFrame:
    detector = ChangeDetector(n_estimators=10, random_state=0).fit(events.iloc[:2_500])
    return detector.vectors(events.iloc[2_500:])


def test_column_arrays_are_the_columns_values(vectors: pd.DataFrame) -> None:
    names = ("identity_key", "window_start", "window_end", "cold_start", "n_events")
    for name, array in zip(names, column_arrays(vectors, names), strict=True):
        expected = vectors[name]
        assert pd.Series(array, copy=False).equals(expected.reset_index(drop=True))
        assert np.asarray(array, dtype=object).tolist() == expected.to_numpy(dtype=object).tolist()


def test_column_arrays_read_column_by_column_when_they_must(
    vectors: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(KeyError):  # a missing name: pandas' error
        column_arrays(vectors, ("identity_key", "no such column"))
    monkeypatch.delattr(pd.DataFrame, "_get_column_array")  # a pandas without the method
    (keys,) = column_arrays(vectors, ("identity_key",))
    assert list(keys) == vectors["identity_key"].tolist()


def test_float_matrix_is_the_columns_as_floats(vectors: pd.DataFrame) -> None:
    names = [n for n in vectors.columns if vectors[n].dtype == np.float64][:12]
    expected = columns_of(vectors, names).to_numpy(dtype=np.float64)
    found = float_matrix(vectors, names)
    assert found.dtype == np.float64
    assert found.shape == expected.shape
    np.testing.assert_array_equal(found, expected)
    mixed = vectors.assign(**{names[0]: vectors[names[0]].astype(np.int64)})  # the general way
    np.testing.assert_array_equal(
        float_matrix(mixed, names), columns_of(mixed, names).to_numpy(dtype=np.float64)
    )
    np.testing.assert_array_equal(float_matrix(vectors.iloc[:0], names), np.zeros((0, len(names))))


def test_lean_frames_share_plain_text_labels(events: pd.DataFrame) -> None:
    frame = lean(events.iloc[:3])
    assert frame.columns is LEAN_COLUMNS
    assert frame.columns.dtype == object
    assert tuple(frame.columns) == MODEL_COLUMNS
