"""One name per metric, one list of every metric (docs/metrics.md generated from code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from changewatch.errors import ConfigurationError
from training import METRICS, PROMOTION_METRICS, metrics_markdown
from training._metrics import canonical_metric, metric_spec

DOC = Path(__file__).parents[2] / "docs" / "metrics.md"


def test_docs_metrics_md_is_generated_from_the_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == metrics_markdown(), (
        "regenerate with: python -c 'import training; "
        'open("docs/metrics.md", "w").write(training.metrics_markdown())\''
    )


def test_every_metric_has_a_meaning_and_promotion_metrics_a_direction() -> None:
    assert len({s.name for s in METRICS}) == len(METRICS)
    assert all(s.meaning for s in METRICS)
    for name in PROMOTION_METRICS:
        spec = metric_spec(name)
        assert spec is not None
        assert spec.direction in ("higher", "lower")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("pr_auc", "eval_pr_auc"), ("eval_pr_auc", "eval_pr_auc"), ("roc_auc", "eval_roc_auc")],
)
def test_promotion_metrics_have_one_name(given: str, expected: str) -> None:
    assert canonical_metric(given) == expected


def test_an_unknown_promotion_metric_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="eval_pr_auc"):
        canonical_metric("accuracy")


@pytest.mark.parametrize(
    "name",
    [
        "scenario.gpu_mining.detected",
        "scenario.large_in_window_deploy.flagged",
        "champion_eval_pr_auc",
        "eval_roc_auc_high",
    ],
)
def test_patterns_cover_per_scenario_and_champion_metrics(name: str) -> None:
    assert metric_spec(name) is not None


def test_an_unlisted_name_is_not_covered() -> None:
    assert metric_spec("eval_something_new") is None
    assert metric_spec("champion_nonsense") is None
