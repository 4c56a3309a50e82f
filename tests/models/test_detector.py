"""The detector: the numeric estimator, then events in, scored and explained windows out."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import features
from changewatch.errors import ConfigurationError, InputError
from models import DEFAULT_FEATURES, TEMPLATES, ChangeDetector, IsolationDetector, window_phrase
from models._detector import _pooled_event_arrays, _strings

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._generate import generate

ORIENTATION = (
    "score_samples is higher-is-more-anomalous (PyOD naming, the interface of the detector "
    "issue), so decision_function cannot equal score_samples - offset_ as this check wants"
)


@parametrize_with_checks(
    [IsolationDetector(n_estimators=10, random_state=0)],
    expected_failed_checks=lambda est: {"check_outliers_train": ORIENTATION},
)
def test_isolation_detector_is_a_scikit_learn_estimator(estimator, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


def test_planted_outliers_score_highest(rng: np.random.Generator) -> None:
    normal = rng.normal(size=(600, 5))
    outliers = rng.normal(size=(12, 5)) + rng.choice([-6.0, 6.0], size=(12, 5))
    det = IsolationDetector(n_estimators=100, random_state=0).fit(normal)
    test = np.vstack([rng.normal(size=(300, 5)), outliers])
    y = np.r_[np.zeros(300), np.ones(12)]
    assert roc_auc_score(y, det.score_samples(test)) > 0.98
    assert (det.predict(outliers) == -1).all()


def test_percentiles_and_predict_follow_the_training_distribution(rng: np.random.Generator) -> None:
    data = rng.normal(size=(2000, 4))
    det = IsolationDetector(n_estimators=50, random_state=0, threshold=95.0).fit(data)
    pct = det.percentile(data)
    assert pct.min() >= 0
    assert pct.max() <= 100
    assert abs(np.median(pct) - 50) < 2
    assert abs((det.predict(data) == -1).mean() - 0.05) < 0.01
    assert np.array_equal(det.decision_function(data) < 0, det.predict(data) == -1)


def test_threshold_outside_0_100_is_refused(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match=r"threshold must be a percentile in \[0, 100\], got 150"):
        IsolationDetector(threshold=150).fit(rng.normal(size=(50, 2)))


# ---------------------------------------------------------------------- ChangeDetector


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return generate(30_000, 30, seed=3)


@pytest.fixture(scope="module")
def split(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = pd.Timestamp("2024-05-24", tz="UTC")
    return events[events["event_time"] < cut], events[events["event_time"] >= cut]


@pytest.fixture(scope="module")
def fitted(split: tuple[pd.DataFrame, pd.DataFrame]) -> ChangeDetector:
    return ChangeDetector(n_estimators=60, random_state=0).fit(split[0])


def test_init_stores_parameters_and_does_no_work() -> None:
    config = features.FeatureConfig(window="30min")
    det = ChangeDetector(feature_config=config, n_estimators=7, threshold=98.0)
    assert det.get_params()["feature_config"] is config
    assert det.get_params()["n_estimators"] == 7
    assert not [name for name in vars(det) if name.endswith("_")]
    assert clone(det).get_params()["threshold"] == 98.0


def test_unfitted_detector_refuses_to_score(split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    with pytest.raises(NotFittedError):
        ChangeDetector().score_windows(split[1])


def test_fit_learns_everything_the_bundle_needs(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    baseline = split[0]
    assert fitted.feature_names_ == DEFAULT_FEATURES
    start, end = fitted.training_period_
    assert start <= baseline["event_time"].min()
    assert end > baseline["event_time"].max()
    assert end.value % pd.Timedelta("1h").value == 0
    assert fitted.profiles_.until == end
    assert len(fitted.train_scores_) == fitted.n_training_windows_ > 100
    assert len(fitted.data_fingerprint_) == 64
    assert fitted.usual_.table.shape[1] == len(DEFAULT_FEATURES)
    assert (fitted.recent_["event_time"] >= end - pd.Timedelta("24h")).all()


def test_fingerprint_is_stable_and_changes_with_the_data(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    again = ChangeDetector(n_estimators=5).fit(split[0])
    assert again.data_fingerprint_ == fitted.data_fingerprint_
    fewer = ChangeDetector(n_estimators=5).fit(split[0].iloc[1:])
    assert fewer.data_fingerprint_ != fitted.data_fingerprint_


def test_unknown_feature_names_are_refused(split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    with pytest.raises(ConfigurationError, match="unknown \\['n_bitcoins'\\]"):
        ChangeDetector(features=["n_events", "n_bitcoins"]).fit(split[0])


def test_no_events_is_refused() -> None:
    empty = features.CANONICAL_SCHEMA.empty_table().to_pandas()
    with pytest.raises(InputError, match="no events"):
        ChangeDetector().fit(empty)


def test_score_windows_returns_one_scored_explained_row_per_window(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    later = split[1]
    result = fitted.score_windows(later)
    assert list(result.columns[:8]) == [
        "identity",
        "window_start",
        "window_end",
        "score",
        "percentile",
        "cold_start",
        "explanations",
        "event_ids",
    ]
    assert set(features.FEATURE_NAMES) <= set(result.columns)
    warm = result[~result["cold_start"]]
    assert warm["score"].between(0, 1).all()
    assert warm["percentile"].between(0, 100).all()
    assert result.loc[result["cold_start"], ["score", "percentile"]].isna().all().all()
    ids = [i for row in result["event_ids"] for i in row]
    assert sorted(ids) == sorted(later["event_id"].astype(str))
    for explanations in warm["explanations"]:
        for item in explanations:
            assert set(item) == {"feature", "value", "usual", "contribution", "text"}
            assert item["contribution"] > 0
            assert "usually" in item["text"]


def test_scores_do_not_depend_on_batching(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    later = split[1]
    whole = fitted.score_windows(later)
    cut = pd.Timestamp("2024-05-27", tz="UTC")
    state = fitted.state_for_serving()
    first = fitted.score_windows(later[later["event_time"] < cut], state=state)
    state = state.advance(later[later["event_time"] < cut])
    second = fitted.score_windows(later[later["event_time"] >= cut], state=state)
    both = pd.concat([first, second]).drop_duplicates(["identity", "window_start"], keep="last")
    merged = whole.merge(both, on=["identity", "window_start"], suffixes=("", "_b"))
    assert len(merged) == len(whole)
    np.testing.assert_allclose(merged["score"], merged["score_b"], equal_nan=True)


@pytest.mark.parametrize("feature", ["n_change_delete", "n_distinct_resources", "hour_surprise"])
def test_a_window_anomalous_in_one_feature_names_it_first(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame], feature: str
) -> None:
    vectors = fitted.vectors(split[1])
    warm = vectors[vectors["cold_start"] == 0]
    assert len(warm)
    row = warm.iloc[[0]].copy()
    usual = fitted.usual_.lookup(row["identity_key"].to_numpy(dtype=object))[0]
    base = dict(zip(fitted.feature_names_, usual, strict=True))
    for name, value in base.items():  # an ordinary window: every feature at its usual value
        row[name] = value
    row[feature] = base[feature] + (40.0 if feature != "hour_surprise" else 9.0)
    scored = fitted.score_vectors(row)
    ordinary = fitted.score_vectors(row.assign(**{feature: base[feature]}))
    assert scored["score"].iloc[0] > ordinary["score"].iloc[0]
    top = scored["explanations"].iloc[0][0]
    assert top["feature"] == feature
    assert top["value"] == row[feature].iloc[0]
    assert top["usual"] == base[feature]


def test_every_catalogue_feature_has_words() -> None:
    assert set(TEMPLATES) == set(features.FEATURE_NAMES)
    assert window_phrase("1h") == "in one hour"
    assert window_phrase("15min") == "in 15 minutes"
    assert window_phrase("1D") == "in one day"


# ------------------------------------------------------ one path for one window and thousands


def test_windows_scored_a_few_at_a_time_equal_the_batch_bit_for_bit(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    vectors = fitted.vectors(split[1])
    batch = fitted.score_vectors(vectors)
    assert batch["score"].notna().sum() > 10
    slices = [
        np.arange(at, min(at + size, len(vectors)))
        for at, size in zip(range(0, len(vectors), 3), itertools.cycle([1, 2, 3]), strict=False)
    ]  # requests bring 1-3 windows: every third window starts a call
    parts = [fitted.score_vectors(vectors.iloc[rows]) for rows in slices]
    for part in parts:
        assert part.index.equals(pd.RangeIndex(len(part)))
    rejoined = pd.concat(parts, ignore_index=True)
    kept = np.concatenate(slices)
    want = batch.iloc[kept].reset_index(drop=True)
    pd.testing.assert_frame_equal(rejoined, want, check_exact=True)
    assert repr(rejoined["explanations"].tolist()) == repr(want["explanations"].tolist())


def test_vectors_in_another_column_order_or_time_zone_score_the_same(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    vectors = fitted.vectors(split[1]).iloc[:40]
    want = fitted.score_vectors(vectors)
    shuffled = vectors[list(reversed(vectors.columns))].assign(note="extra")
    pd.testing.assert_frame_equal(fitted.score_vectors(shuffled), want, check_exact=True)
    paris = vectors.assign(
        window_start=vectors["window_start"].dt.tz_convert("Europe/Paris"),
        window_end=vectors["window_end"]
        .dt.tz_convert("Europe/Paris")
        .astype("datetime64[us, Europe/Paris]"),
    )
    pd.testing.assert_frame_equal(fitted.score_vectors(paris), want, check_exact=True)
    with pytest.raises(KeyError, match="n_events"):
        fitted.score_vectors(vectors.drop(columns=["n_events"]))


def test_an_event_in_both_the_state_and_the_call_is_one_event_of_its_window(
    fitted: ChangeDetector, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    later = split[1].sort_values("event_time", kind="stable")
    cut = pd.Timestamp("2024-05-27", tz="UTC")
    state = fitted.state_for_serving().advance(later[later["event_time"] < cut])
    window = later[(later["event_time"] >= cut - pd.Timedelta("1h")) & (later["event_time"] < cut)]
    assert len(window)
    resent = pd.concat([window, later[later["event_time"] >= cut].head(50)])
    result = fitted.score_windows(resent, state=state)
    ids = [i for row in result["event_ids"] for i in row]
    assert len(ids) == len(set(ids))
    assert set(window["event_id"].astype(str)) <= set(ids)


def test_pooled_event_arrays_are_the_rows_of_the_deduplicated_table(
    split: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    recent, events = split[0].tail(30), split[0].tail(10)
    moved = events.assign(identity_key="someone-else")  # same ids: the recent rows win
    keys, times, ids = _pooled_event_arrays([recent, moved, events.head(0)])
    table = pd.concat([recent, moved]).drop_duplicates("event_id")
    assert keys.tolist() == table["identity_key"].astype(str).tolist()
    assert times.tolist() == features.to_ns(table["event_time"]).tolist()
    assert ids.tolist() == table["event_id"].astype(str).tolist()
    empty = _pooled_event_arrays([recent.head(0)])
    assert [len(a) for a in empty] == [0, 0, 0]


@pytest.mark.parametrize(
    ("values", "as_is"),
    [
        (["a", "b", "a"], True),
        (["a", None], False),
        (["a", np.str_("b")], False),
        (["a", 3], False),
        (["a", float("nan")], False),
    ],
    ids=["strings", "a missing one", "a str subclass", "a number", "NaN"],
)
def test_strings_reads_a_column_of_python_strings_as_it_is_and_converts_the_rest(
    values: list[object], as_is: bool
) -> None:
    column = pd.Series(np.array(values, dtype=object), dtype=object)
    found = _strings(column)
    expected = column.astype(str).to_numpy(dtype=object)
    assert found.dtype == object
    assert found.tolist() == expected.tolist()
    assert [type(v) for v in found] == [type(v) for v in expected]
    assert np.shares_memory(found, column.to_numpy()) is as_is  # read as is: no conversion
