"""Window-level evaluation: labels, metric families, scenarios, the reviewer's tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from changewatch.errors import InputError
from training import (
    DEFAULT_FAMILIES,
    EvaluationInput,
    evaluate_windows,
    label_windows,
    read_labels,
)
from training._bootstrap import weighted_ranking
from training._review import (
    confusion_table,
    false_positives_by_identity,
    interval_table,
    threshold_table,
)

START = pd.Timestamp("2026-03-02", tz="UTC")


def windows(
    scores: list[float], events: list[list[str]], cold: list[bool] | None = None
) -> pd.DataFrame:
    n = len(scores)
    cold = cold or [False] * n
    percentile = [100.0 * sorted(scores).index(s) / n for s in scores]
    return pd.DataFrame(
        {
            "identity": [f"id{i % 7}" for i in range(n)],
            "window_start": [START + pd.Timedelta(hours=i) for i in range(n)],
            "window_end": [START + pd.Timedelta(hours=i + 1) for i in range(n)],
            "score": [math.nan if c else s for s, c in zip(scores, cold, strict=True)],
            "percentile": [math.nan if c else p for p, c in zip(percentile, cold, strict=True)],
            "cold_start": cold,
            "explanations": [[{"text": f"reason {i % 2}"}] for i in range(n)],
            "event_ids": events,
        }
    )


LABELS = pd.DataFrame(
    {
        "event_id": ["a1", "a2", "h1", "z1"],
        "scenario": ["exfil", "exfil", "late_fix", "never_seen"],
        "kind": ["attack", "attack", "hard_negative", "attack"],
    }
)


def test_a_window_is_positive_when_it_holds_an_attack_event() -> None:
    labelled = label_windows(windows([1, 2, 3], [["x", "a1"], ["h1"], ["h1", "a2"]]), LABELS)
    assert list(labelled["positive"]) == [True, False, True]
    assert list(labelled["hard_negative"]) == [False, True, False]
    assert list(labelled["scenario"]) == ["exfil", "late_fix", "exfil"]


def test_perfect_ranking_scores_one_and_names_match_the_catalogue() -> None:
    scored = windows([0.1] * 98 + [0.9, 0.95], [["b"]] * 98 + [["a1"], ["a2"]])
    result = evaluate_windows(scored, LABELS, threshold=98.0)
    assert result.metrics["eval_roc_auc"] == 1.0
    assert result.metrics["eval_pr_auc"] == 1.0
    assert result.metrics["eval_recall_at_1pct_fpr"] == 1.0
    assert result.metrics["eval_alerts"] == 2
    assert result.metrics["eval_alerts_per_day"] == pytest.approx(2 / (100 / 24))
    assert result.metrics["eval_benign_alerts_per_day"] == 0.0
    row = result.scenarios.set_index("scenario").loc["exfil"]
    assert row["best_rank"] == 1
    assert row["detected"]


def test_scenarios_count_only_when_their_events_were_evaluated() -> None:
    # "never_seen" is labelled but none of its events is in these windows
    scored = windows([0.1, 0.9, 0.2], [["b"], ["a1"], ["h1"]])
    result = evaluate_windows(scored, LABELS, threshold=60.0)
    assert set(result.scenarios["scenario"]) == {"exfil", "late_fix"}
    assert result.metrics["eval_scenarios_total"] == 1
    assert result.metrics["eval_hard_negatives_total"] == 1
    assert "z1" not in set(result.labels["event_id"])


def test_hard_negatives_are_flagged_not_detected_and_cold_start_is_not_alerted() -> None:
    scored = windows(
        [0.1, 0.2, 0.9, 0.8], [["b"], ["a1"], ["h1"], ["a2"]], [False, False, False, True]
    )
    result = evaluate_windows(scored, LABELS, threshold=50.0)
    assert result.metrics["eval_hard_negatives_flagged"] == 1
    assert result.metrics["scenario.late_fix.flagged"] == 1.0
    assert "scenario.late_fix.detected" not in result.metrics
    assert result.metrics["eval_alerts"] == 1  # the cold-start window has no percentile
    assert result.metrics["eval_scenarios_detected"] == 0
    assert result.metrics["scenario.exfil.detected"] == 0.0


def test_hours_to_detect_run_from_the_first_attack_event_to_the_end_of_its_alert() -> None:
    scored = windows([0.1, 0.2, 0.3, 0.9], [["a1"], ["b"], ["c"], ["a2"]])
    events = pd.DataFrame(
        {
            "event_id": ["a1", "a2"],
            "event_time": [START + pd.Timedelta(minutes=30), START + pd.Timedelta(hours=3.5)],
        }
    )
    result = evaluate_windows(scored, LABELS, threshold=70.0, events=events)
    # first attack event at 00:30, first alerted window (the 4th) ends at 04:00
    assert result.metrics["eval_median_hours_to_detect"] == pytest.approx(3.5)
    assert result.metrics["scenario.exfil.hours_to_detect"] == pytest.approx(3.5)


def test_ranking_metrics_are_nan_without_positives() -> None:
    result = evaluate_windows(windows([0.1, 0.2], [["b"], ["c"]]), LABELS)
    assert math.isnan(result.metrics["eval_roc_auc"])
    assert result.to_json()["metrics"]["eval_roc_auc"] is None
    assert "eval_pr_auc_low" not in result.metrics


def test_a_metric_family_plugs_in_beside_the_window_ones() -> None:
    def per_identity(data: EvaluationInput) -> dict[str, float]:
        return {
            "eval_alerted_identities": float(
                data.windows.loc[data.windows["alerted"], "identity"].nunique()
            )
        }

    scored = windows([0.1] * 8 + [0.9, 0.95], [["b"]] * 8 + [["a1"], ["a2"]])
    result = evaluate_windows(
        scored, LABELS, threshold=80.0, families=(*DEFAULT_FAMILIES, per_identity)
    )
    assert result.metrics["eval_alerted_identities"] == 2
    assert "eval_pr_auc" in result.metrics


def test_weighted_ranking_equals_scikit_learn_with_unit_weights() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(3)
    score = np.round(rng.random(400), 2)  # ties on purpose
    y = rng.random(400) < 0.1
    ap, auc = weighted_ranking(score, y, np.ones((1, 400)))
    assert ap[0] == pytest.approx(average_precision_score(y, score))
    assert auc[0] == pytest.approx(roc_auc_score(y, score))


@pytest.fixture
def mixed():
    rng = np.random.default_rng(0)
    n = 400
    scores = list(rng.random(n))
    events = [["b"]] * n
    for i, ids in ((5, ["a1"]), (17, ["a2"]), (60, ["h1"])):
        scores[i] = 0.99 - i / 1000
        events[i] = ids
    scores[30] = 0.995  # a benign window at the very top
    return evaluate_windows(windows(scores, events), LABELS, threshold=99.0)


def test_bootstrap_intervals_bracket_the_estimate(mixed) -> None:
    for name in ("eval_pr_auc", "eval_roc_auc", "eval_recall_at_threshold"):
        low, high = mixed.metrics[f"{name}_low"], mixed.metrics[f"{name}_high"]
        assert low <= mixed.metrics[name] <= high
    table = interval_table(mixed)
    assert table["metric"].iloc[0] == "eval_pr_auc"
    assert (table["attack scenarios"] == 1).all()


def test_reviewer_tables_agree_with_the_metrics(mixed) -> None:
    confusion = confusion_table(mixed).set_index("truth")
    assert confusion.loc["attack", "alerted"] == mixed.metrics["eval_true_positives"]
    false = confusion.loc["benign", "alerted"] + confusion.loc["hard negative", "alerted"]
    assert false == mixed.metrics["eval_false_positives"]
    thresholds = threshold_table(mixed)
    assert thresholds["model threshold"].sum() == 1
    assert thresholds["alerts"].is_monotonic_decreasing  # a higher percentile alerts less
    chosen = thresholds[thresholds["model threshold"]].iloc[0]
    assert chosen["alerts"] == mixed.metrics["eval_alerts"]
    by_identity = false_positives_by_identity(mixed)
    assert by_identity["false alerts"].sum() == mixed.metrics["eval_false_positives"]
    assert by_identity["top reason"].str.startswith("reason").all()


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
