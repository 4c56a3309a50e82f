"""The detector's scored windows as columns: the result table and the window scores agree.

:class:`models.ScoredWindows` is scored once; the public table (``score_windows``,
``score_vectors``) and the scoring core's :class:`models.scoring.WindowScore` list are two
views of it (ADR 0066). The reference here is the table read back row by row, as the
scoring core read it before.
"""

from __future__ import annotations

import copy
import math
import sys
import warnings
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models import ChangeDetector, ScoredWindows
from models._scored import _datetimes
from models.scoring import DetectorScorer, Explanation, WindowScore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._generate import generate


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.DataFrame]:
    events = generate(20_000, 24, seed=5)
    cut = pd.Timestamp("2024-05-24", tz="UTC")
    later = events[events["event_time"] >= cut]
    newcomer = later[later["identity_key"].str.endswith("user/id0008")].assign(
        identity_key="arn:aws:iam::111111111111:user/newcomer",
        event_id=lambda f: "new-" + f["event_id"].astype(str),
    )  # no past of its own: cold, or measured against its peers
    return events[events["event_time"] < cut], pd.concat([later, newcomer], ignore_index=True)


@pytest.fixture(scope="module")
def fitted(split: tuple[pd.DataFrame, pd.DataFrame]) -> ChangeDetector:
    return ChangeDetector(n_estimators=30, random_state=0).fit(split[0])


def rows_of(table: pd.DataFrame) -> list[WindowScore]:
    """The window scores of a result table, read row by row (the reference)."""
    out = []
    for row in table.itertuples(index=False):
        cold = bool(row.cold_start)
        if not cold and math.isnan(row.score):
            continue
        out.append(
            WindowScore(
                identity=str(row.identity),
                window_start=pd.Timestamp(row.window_start).to_pydatetime(),
                window_end=pd.Timestamp(row.window_end).to_pydatetime(),
                score=0.0 if cold else float(row.score),
                percentile=0.0 if cold else float(row.percentile),
                cold_start=cold,
                explanations=tuple(
                    Explanation(str(e["feature"]), float(e["value"]), float(e["usual"]), e["text"])
                    for e in row.explanations
                ),
                event_ids=tuple(str(i) for i in row.event_ids),
                peers=str(row.peers),
            )
        )
    return out


@pytest.mark.parametrize("peers", [True, False], ids=["peers", "cold"])
def test_the_window_scores_are_the_rows_of_the_result_table(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame], peers: bool
) -> None:
    fitted = copy.deepcopy(fitted)
    fitted.peers = peers
    state = fitted.state_for_serving()
    scored = fitted.scored_windows(split[1], state=state)
    table = fitted.score_windows(split[1], state=state)
    pd.testing.assert_frame_equal(scored.table(), table, check_exact=True)
    windows = DetectorScorer(fitted, "test").score_with_state(split[1], state)
    assert windows == rows_of(table)
    assert any(w.explanations for w in windows)
    newcomer = [w for w in windows if w.identity.endswith("newcomer")]
    assert newcomer
    assert all(bool(w.peers) == peers != w.cold_start for w in newcomer)
    assert all(w.window_start.tzinfo is UTC for w in windows)


def test_precomputed_vectors_in_another_zone_and_unit_give_the_same_windows(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    vectors = fitted.vectors(split[1]).iloc[:60]
    paris = vectors.assign(
        window_start=vectors["window_start"].dt.tz_convert("Europe/Paris"),
        window_end=vectors["window_end"]
        .dt.tz_convert("Europe/Paris")
        .astype("datetime64[us, Europe/Paris]"),
    )
    want = rows_of(fitted.score_vectors(vectors))
    assert DetectorScorer(fitted, "test").score_vectors(paris) == want
    assert fitted.scored_vectors(paris).table().equals(fitted.score_vectors(vectors))


def test_windows_not_scored_are_left_out_unless_cold(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    changes_only = copy.deepcopy(fitted)
    changes_only.only_change_windows = True
    vectors = fitted.vectors(split[1])
    table = changes_only.score_vectors(vectors)
    quiet = (table["n_changes"] == 0) & ~table["cold_start"]
    assert quiet.any()  # the case exists: windows without a change are not scored
    windows = DetectorScorer(changes_only, "test").score_vectors(vectors)
    assert windows == rows_of(table)
    assert len(windows) == len(table) - int(quiet.sum())


def test_no_vectors_give_an_empty_table_and_no_windows(fitted: ChangeDetector) -> None:
    empty = fitted.vectors(fitted.recent_.iloc[:0])
    scored = fitted.scored_vectors(empty)
    assert isinstance(scored, ScoredWindows)
    assert len(scored) == 0
    assert scored.table().equals(fitted.score_vectors(empty))
    assert DetectorScorer(fitted, "test").score_vectors(empty) == []


@given(st.lists(st.integers(-(2**62), 2**62), max_size=20))
def test_window_bounds_become_the_datetimes_pandas_gives(ns: list[int]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns that it drops the nanoseconds
        want: list[Any] = [pd.Timestamp(t, tz="UTC").to_pydatetime() for t in ns]
    got = _datetimes(np.array(ns, dtype=np.int64))
    assert got == want
    assert all(g.tzinfo is w.tzinfo for g, w in zip(got, want, strict=True))
