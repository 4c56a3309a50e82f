"""What the detector reads once per call (ADR 0070): the same answers from fewer reads.

* Times are read from the arrays the frames hold (``features.to_ns`` of the array): what
  it gives for the Series of them, parsed only when the array is not zoned.
* A window's bounds are read once a call: the event ids are looked up with the starts
  the scoring read (``_scored_columns(..., event_ids)``).
* The feature matrix is read from the vectors' float64 block (``_block_rows``), and the
  labels of a column index are listed once (``_labels``); other layouts are read column
  by column.
* The explanation templates are made once per window length (``templates_for``).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

import features
import models._detector as detector_module
import models._scored as scored_module
from models import TEMPLATES, ChangeDetector, templates_for, window_phrase
from models._detector import _held_event_arrays, _strings
from models._scored import _block_rows, _labels, columns_of, float_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._generate import generate


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return generate(3_000, 6, seed=9).reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(events: pd.DataFrame) -> ChangeDetector:
    return ChangeDetector(n_estimators=10, random_state=0).fit(events.iloc[:2_500])


@pytest.fixture(scope="module")
def vectors(fitted: ChangeDetector, events: pd.DataFrame) -> pd.DataFrame:
    return fitted.vectors(events.iloc[2_500:])


_MOMENTS = ["2026-03-17T10:00:00.123456789Z", None, "1969-12-31T23:59:59.999999999Z"]


@pytest.mark.parametrize(
    "column",
    [
        pd.array(pd.to_datetime(_MOMENTS, utc=True)),  # zoned ns, a NaT: the array read
        pd.array(pd.to_datetime(_MOMENTS, utc=True).as_unit("us")),  # zoned us: cast
        pd.array(pd.to_datetime(_MOMENTS, utc=True).tz_convert("America/New_York")),
        pd.array(pd.to_datetime(_MOMENTS, utc=True).tz_localize(None)),  # naive: to_ns
        pd.Series(pd.to_datetime(_MOMENTS, utc=True)),  # a Series: to_ns
        pd.array(pd.to_datetime([], utc=True)),
    ],
    ids=["zoned ns", "zoned us", "another zone", "naive", "series", "empty"],
)
def test_times_of_an_array_are_what_to_ns_gives_its_series(column: Any) -> None:
    found = features.to_ns(column)
    series = column if isinstance(column, pd.Series) else pd.Series(column, copy=False)
    expected = features.to_ns(series) if len(column) else np.zeros(0, dtype=np.int64)
    assert found.dtype == np.int64
    np.testing.assert_array_equal(found, expected)
    assert found.flags.writeable


def test_a_zoned_array_is_read_without_a_series(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("to_datetime called")

    column = pd.array(pd.to_datetime(_MOMENTS[:1], utc=True))
    monkeypatch.setattr(pd, "to_datetime", refused)
    monkeypatch.setattr(pd.arrays.DatetimeArray, "tz_convert", refused)  # the general way's
    assert features.to_ns(column).tolist() == [1773741600123456789]
    with pytest.raises(AssertionError, match="to_datetime called"):  # a naive one is parsed
        features.to_ns(column.tz_localize(None))


def test_strings_reads_an_extension_array_as_its_series() -> None:
    column = pd.array(["a", "b", "c"], dtype="str")
    found = _strings(column)
    assert found.dtype == object
    assert found.tolist() == ["a", "b", "c"]
    assert [type(v) for v in found] == [str, str, str]


@pytest.mark.parametrize("text", ["object", "str"])
def test_event_arrays_of_a_frame_are_its_columns(events: pd.DataFrame, text: str) -> None:
    frame = events.iloc[:40].astype({"identity_key": text, "event_id": text})
    keys, times, ids = _held_event_arrays(frame)
    assert keys.tolist() == frame["identity_key"].astype(str).tolist()
    np.testing.assert_array_equal(times, features.to_ns(frame["event_time"]))
    assert ids.tolist() == frame["event_id"].astype(str).tolist()
    repeated = pd.concat([frame, frame[["event_id"]]], axis=1)  # a repeated label: by name,
    with pytest.raises(AttributeError):  # which gives a frame, as ``frame["event_id"]`` did
        _held_event_arrays(repeated)


def test_the_event_ids_are_looked_up_with_the_starts_the_scoring_read(
    fitted: ChangeDetector, events: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = events.iloc[2_500:2_600]
    asked: list[np.ndarray] = []
    original = fitted._scored_columns

    def spy(vectors: pd.DataFrame, peers: Any, event_ids: Any) -> Any:
        def recorded(starts: np.ndarray) -> Any:
            asked.append(starts)
            return event_ids(starts)

        return original(vectors, peers, recorded)

    monkeypatch.setattr(fitted, "_scored_columns", spy)
    scored = fitted.scored_windows(batch)
    assert len(asked) == 1
    np.testing.assert_array_equal(asked[0], features.to_ns(scored.vectors["window_start"]))
    np.testing.assert_array_equal(scored.start, asked[0])
    expected = detector_module.window_event_ids(batch, fitted._feature_config().window)
    columns = zip(scored.identity, scored.start.tolist(), scored.event_ids, strict=True)
    found = {(str(key), start): ids for key, start, ids in columns}
    assert found  # each window scored has the ids the whole table gives it
    assert found == {key: expected[key] for key in found}
    assert all(ids == [] for ids in fitted.scored_vectors(scored.vectors).event_ids)


def test_the_feature_matrix_is_read_from_the_vectors_block(vectors: pd.DataFrame) -> None:
    names = list(features.FEATURE_NAMES)
    assert _block_rows(vectors, names) is not None  # the featuriser's layout: one block
    for wanted in (names, names[::-1], names[5:9]):  # any order, any subset
        found = float_matrix(vectors, wanted)
        expected = columns_of(vectors, wanted).to_numpy(dtype=np.float64)
        assert found.flags.c_contiguous
        np.testing.assert_array_equal(found, expected)
        found[:] = -1.0  # a copy: the vectors do not change
    np.testing.assert_array_equal(
        float_matrix(vectors, names), columns_of(vectors, names).to_numpy(dtype=np.float64)
    )


def test_a_feature_matrix_over_several_blocks_is_read_column_by_column(
    vectors: pd.DataFrame,
) -> None:
    names = list(features.FEATURE_NAMES)[:10]
    split = pd.concat([vectors[names[:4]], vectors[names[4:]]], axis=1)  # two float blocks
    assert _block_rows(split, names) is None
    np.testing.assert_array_equal(
        float_matrix(split, names), columns_of(split, names).to_numpy(dtype=np.float64)
    )
    assert _block_rows(vectors, [*names, "identity_key"]) is None  # another dtype
    assert _block_rows(vectors, ["no such column"]) is None
    without = SimpleNamespace(columns=vectors.columns, _mgr=object())  # no such layout
    assert _block_rows(without, names) is None  # type: ignore[arg-type]


def test_the_labels_of_an_index_are_listed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    index = pd.Index(["a", "b", "c"], dtype="str")
    assert _labels(index) == ("a", "b", "c")
    assert _labels(index) is _labels(index)
    other = pd.Index(["a", "b", "c"], dtype="str")  # an equal index of its own: listed too
    assert _labels(other) == ("a", "b", "c")
    monkeypatch.setattr(scored_module, "_MAX_LABELS", 2)
    many = [pd.Index([f"x{i}"]) for i in range(5)]
    assert [_labels(i) for i in many] == [(f"x{i}",) for i in range(5)]
    assert len(scored_module._LABELS) <= 2


def test_templates_are_made_once_per_window_length_and_read_only() -> None:
    hourly = templates_for("1h")
    assert templates_for("1h") is hourly
    phrase = window_phrase("1h")
    assert dict(hourly) == {n: t.replace("{window}", phrase) for n, t in TEMPLATES.items()}
    assert templates_for("15min")["n_events"] == "{value} API calls in 15 minutes; usually {usual}"
    with pytest.raises(TypeError):
        hourly["n_events"] = "changed"  # type: ignore[index]


def _window_ids_by_numpy(
    keys: np.ndarray, time: np.ndarray, ids: np.ndarray, width: int
) -> dict[tuple[str, int], list[str]]:
    """The grouping as ADR 0068 left it (numpy's ranks and lexsort): the reference."""
    if len(ids) == 0:
        return {}
    start = time - np.mod(time, width)
    names, key_rank = np.unique(keys, return_inverse=True)
    _, id_rank = np.unique(ids, return_inverse=True)
    key_rank, id_rank = key_rank.reshape(-1), id_rank.reshape(-1)
    order = np.lexsort((id_rank, time, start, key_rank))
    ranks, starts = key_rank[order], start[order]
    cut = np.flatnonzero((np.diff(ranks) != 0) | (np.diff(starts) != 0)) + 1
    bounds = np.concatenate([[0], cut, [len(order)]]).tolist()
    ordered = ids[order]
    return {
        (str(names[ranks[a]]), int(starts[a])): ordered[a:b].tolist()
        for a, b in itertools.pairwise(bounds)
    }


@pytest.mark.parametrize("rows", [0, 1, 3, 40, 3_000])
def test_window_ids_group_as_numpy_ranked_them(events: pd.DataFrame, rows: int) -> None:
    keys, times, ids = detector_module._event_arrays(events.iloc[:rows])
    width = 3_600 * 10**9
    found = detector_module._window_ids(keys, times, ids, width)
    expected = _window_ids_by_numpy(keys, times, ids, width)
    assert found == expected
    assert list(found) == list(expected)  # the same order of windows too


def test_window_ids_order_ties_by_id_and_keep_repeats() -> None:
    rng = np.random.default_rng(4)
    width = 10
    keys = np.array(rng.choice(["b", "a", "c"], 500).tolist(), dtype=object)
    times = rng.integers(-50, 50, 500).astype(np.int64)  # many equal times, negative ones too
    ids = np.array([f"e{i}" for i in rng.integers(0, 300, 500)], dtype=object)  # repeats
    found = detector_module._window_ids(keys, times, ids, width)
    assert found == _window_ids_by_numpy(keys, times, ids, width)
    assert list(found) == sorted(found)
