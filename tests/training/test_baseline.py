"""Warnings about the training data: a short baseline, labelled attacks inside it."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from training._baseline import baseline_warnings, labelled_in_training

START = pd.Timestamp("2026-03-02", tz="UTC")


def _detector(windows: int, days: float) -> SimpleNamespace:
    return SimpleNamespace(
        training_period_=(START, START + pd.Timedelta(days=days)), n_training_windows_=windows
    )


def _events(identities: int) -> pd.DataFrame:
    return pd.DataFrame({"identity_key": [f"id{i}" for i in range(identities)]})


@pytest.mark.parametrize(
    ("windows", "identities", "days", "expected"),
    [
        (5000, 40, 21.0, []),
        (41, 40, 21.0, ["41 training windows"]),
        (5000, 3, 21.0, ["3 identities"]),
        (5000, 40, 11.0, ["11.0 days"]),
        (41, 2, 3.0, ["41 training windows", "2 identities", "3.0 days"]),
    ],
)
def test_a_short_baseline_is_named_by_what_is_short(
    windows: int, identities: int, days: float, expected: list[str]
) -> None:
    found = baseline_warnings(_detector(windows, days), _events(identities))
    assert len(found) == len(expected)
    for text, fragment in zip(found, expected, strict=True):
        assert fragment in text


LABELS = pd.DataFrame(
    {
        "event_id": ["a1", "a2", "h1"],
        "scenario": ["exfil", "exfil", "late_fix"],
        "kind": ["attack", "attack", "hard_negative"],
    }
)
TRAINING = pd.DataFrame({"event_id": ["a1", "h1", "b1", "b2"]})


def test_labelled_attacks_in_training_are_counted_and_kept_by_default() -> None:
    kept, found = labelled_in_training(TRAINING, LABELS, exclude=False)
    assert found.events == 1
    assert found.scenarios == ("exfil",)
    assert len(kept) == 4
    assert "--exclude-labelled" in found.message()


def test_exclude_labelled_drops_the_attack_events_only() -> None:
    kept, found = labelled_in_training(TRAINING, LABELS, exclude=True)
    assert list(kept["event_id"]) == ["h1", "b1", "b2"]  # hard negatives are benign
    assert "excluded from training" in found.message()


def test_no_labels_nothing_found() -> None:
    kept, found = labelled_in_training(TRAINING, None, exclude=True)
    assert found.events == 0
    assert len(kept) == 4
