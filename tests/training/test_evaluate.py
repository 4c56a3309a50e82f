from __future__ import annotations

import math

import pandas as pd
import pytest

from changewatch.errors import InputError
from training import evaluate_windows, label_windows, read_labels


def windows(
    scores: list[float], events: list[list[str]], cold: list[bool] | None = None
) -> pd.DataFrame:
    start = pd.Timestamp("2026-03-02", tz="UTC")
    n = len(scores)
    return pd.DataFrame(
        {
            "identity": [f"id{i}" for i in range(n)],
            "window_start": [start + pd.Timedelta(hours=i) for i in range(n)],
            "window_end": [start + pd.Timedelta(hours=i + 1) for i in range(n)],
            "score": scores,
            "percentile": [100.0 * sorted(scores).index(s) / n for s in scores],
            "cold_start": cold or [False] * n,
            "event_ids": events,
        }
    )


LABELS = pd.DataFrame(
    {
        "event_id": ["a1", "a2", "h1"],
        "scenario": ["exfil", "exfil", "late_fix"],
        "kind": ["attack", "attack", "hard_negative"],
    }
)


def test_a_window_is_positive_when_it_holds_an_attack_event() -> None:
    labelled = label_windows(windows([1, 2, 3], [["x", "a1"], ["h1"], ["h1", "a2"]]), LABELS)
    assert list(labelled["positive"]) == [True, False, True]
    assert list(labelled["hard_negative"]) == [False, True, False]
    assert list(labelled["scenario"]) == ["exfil", "late_fix", "exfil"]


def test_perfect_ranking_scores_one() -> None:
    scored = windows([0.1] * 98 + [0.9, 0.95], [["b"]] * 98 + [["a1"], ["a2"]])
    result = evaluate_windows(scored, LABELS, threshold=98.0)
    assert result.metrics["roc_auc"] == 1.0
    assert result.metrics["pr_auc"] == 1.0
    assert result.metrics["recall_at_1pct_fpr"] == 1.0
    assert result.metrics["alerts"] == 2
    assert result.metrics["alerts_per_day"] == pytest.approx(2 / (100 / 24))
    row = result.scenarios.set_index("scenario").loc["exfil"]
    assert row["best_rank"] == 1
    assert row["detected"]


def test_hard_negative_alerts_are_counted_and_cold_start_is_not_alerted() -> None:
    scored = windows(
        [0.1, 0.2, 0.9, 0.8], [["b"], ["a1"], ["h1"], ["a2"]], [False, False, False, True]
    )
    result = evaluate_windows(scored, LABELS, threshold=50.0, exclude_cold_start=True)
    assert result.metrics["hard_negatives_flagged"] == 1
    assert result.metrics["alerts"] == 1  # the cold-start window at p75 is not alerted
    assert result.metrics["scenarios_detected"] == 0


def test_ranking_metrics_are_nan_without_positives() -> None:
    result = evaluate_windows(windows([0.1, 0.2], [["b"], ["c"]]), LABELS)
    assert math.isnan(result.metrics["roc_auc"])
    assert result.to_json()["metrics"]["roc_auc"] is None


def test_labels_without_kind_are_attacks(tmp_path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("event_id,scenario\ne1,stratus-ec2-share-ebs-snapshot\n")
    assert read_labels(path)["kind"].tolist() == ["attack"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("event_id,kind\ne1,attack\n", "missing scenario"),
        ("event_id,scenario,kind\ne1,s,attack\ne2,s,benign\n", "row 2: field 'kind'"),
    ],
)
def test_bad_labels_are_named(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_labels(path)
