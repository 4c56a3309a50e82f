"""Precision and recall as an analyst meets them: a period scored into findings and judged.

:func:`findings_budget` scores a labelled period with the scoring core exactly as
``changewatch score`` does (rules, the model, the change policy, the earlier events as
history) and judges the findings with :func:`models.scoring.alert_budget`: benign
findings per day by severity, identity kind and rule, scenarios caught at medium or
higher, hard negatives flagged. :func:`simulated_budget` runs the whole loop on a
simulated organisation (simulate, ingest, train on the baseline, score the test period),
for ``bench/quality.py`` and the model's quality test.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from features import IngestOptions, ingest, read_events
from models import ChangeDetector
from models.scoring import (
    AlertBudget,
    DetectorScorer,
    Policy,
    ScoreResult,
    alert_budget,
    load_policy,
    score_events,
)

__all__ = [
    "BudgetRun",
    "alert_budget_metrics",
    "cloud_budgets",
    "findings_budget",
    "labelled_events",
    "simulated_budget",
    "window_auc",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BudgetRun:
    """One scored and judged period.

    Attributes
    ----------
    budget : AlertBudget
        The findings judged against the labels.
    result : ScoreResult
        What scoring gave (findings, hits, windows).
    window_auc : float or None
        ROC-AUC of the model's window percentiles against "holds an attack event"
        (windows the model did not score rank last); ``None`` without a model or positives.
    """

    budget: AlertBudget
    result: ScoreResult
    window_auc: float | None


def labelled_events(labels: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Split labels (``event_id``, ``scenario``, ``kind``) into attacks and hard negatives."""
    kind = labels["kind"].astype(str)
    attacks = labels[kind == "attack"]
    negatives = labels[kind != "attack"]
    return (
        dict(zip(attacks["event_id"].astype(str), attacks["scenario"].astype(str), strict=True)),
        dict(
            zip(negatives["event_id"].astype(str), negatives["scenario"].astype(str), strict=True)
        ),
    )


def window_auc(result: ScoreResult, attacks: Mapping[str, str]) -> float | None:
    """ROC-AUC of the model's windows against attack events (unscored windows rank last)."""
    if not result.windows:
        return None
    from sklearn.metrics import roc_auc_score

    truth = np.array([any(i in attacks for i in w.event_ids) for w in result.windows])
    score = np.array([-1.0 if w.cold_start else w.percentile for w in result.windows])
    if truth.all() or not truth.any():
        return None
    return float(roc_auc_score(truth, score))


def findings_budget(
    events: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    detector: ChangeDetector | None = None,
    history: pd.DataFrame | None = None,
    policy: Policy | None = None,
    days: float | None = None,
    kinds: Mapping[str, str] | Callable[[str], str | None] | None = None,
) -> BudgetRun:
    """Score ``events`` as ``changewatch score`` does and judge the findings against ``labels``.

    Parameters
    ----------
    events : pandas.DataFrame
        The canonical events of the judged period.
    labels : pandas.DataFrame
        ``event_id``, ``scenario``, ``kind`` (``attack`` or a hard negative's kind).
    detector : ChangeDetector, optional
        A fitted detector; rules only without it.
    history : pandas.DataFrame, optional
        Events before the period (``--history``).
    policy : Policy, optional
        The change policy (``--windows``).
    days : float, optional
        Length of the period; the span of ``events`` in days (at least one) by default.
    kinds : mapping or callable, optional
        Identity key -> person / automation / service.
    """
    scorer = DetectorScorer(detector, "in-memory") if detector is not None else None
    result = score_events(events, policy, scorer, history)
    if days is None:
        span = events["event_time"].max() - events["event_time"].min() if len(events) else None
        days = max(1.0, span / pd.Timedelta(days=1)) if span is not None else 1.0
    attacks, negatives = labelled_events(labels)
    budget = alert_budget(result.findings, attacks, negatives, days=days, kinds=kinds)
    return BudgetRun(budget, result, window_auc(result, attacks))


_KIND_GROUPS: Final = {
    "person": "person",
    "iam-user": "person",
    "break-glass": "person",
    "service": "service",
    "vendor": "service",
    "automation": "automation",
    "instance-profile": "automation",
}


def alert_budget_metrics(data: Any) -> dict[str, float]:
    """Return the alert budget of an evaluation as metrics (a ``training._evaluate`` family).

    The evaluated events are scored into findings as ``changewatch score`` would (the
    model, the rules, the events before them as history, the policy given with
    ``--windows``) and judged against their labels: ``eval_benign_medium_plus_per_day``,
    ``eval_findings_scenarios_caught`` ... (``docs/metrics.md``). Nothing without the
    events, the model or labels.
    """
    events, detector, labels = data.events, data.detector, data.event_labels
    if events is None or detector is None or labels is None or not len(events) or not data.days:
        return {}
    run = findings_budget(
        events,
        labels,
        detector=detector,
        history=data.context if data.context is not None and len(data.context) else None,
        policy=data.policy,
        days=float(data.days),
    )
    budget = run.budget
    metrics = {
        "eval_benign_medium_plus_per_day": budget.benign_medium_plus_per_day,
        "eval_findings_scenarios_caught": float(len(budget.caught)),
        "eval_findings_scenarios_total": float(len(budget.scenarios)),
        "eval_findings_hard_negatives_flagged": float(len(budget.flagged)),
        "eval_findings_hard_negatives_total": float(len(budget.hard_negatives)),
    }
    metrics |= {f"eval_benign_{s}_per_day": v for s, v in budget.benign_per_day.items()}
    metrics |= {
        f"eval_benign_medium_plus_{kind}_per_day": v for kind, v in budget.benign_by_kind.items()
    }
    return metrics


def _kinds(manifest: Mapping[str, Any]) -> Callable[[str], str | None]:
    """Identity key -> person / automation / service, from a simulator manifest."""
    from training.simulation import identity_kind

    def kind(identity: str) -> str | None:
        found = identity_kind(dict(manifest), identity)
        return _KIND_GROUPS.get(found) if found is not None else None

    return kind


@dataclass(frozen=True, slots=True)
class _Simulated:
    """A simulated organisation read back: its periods, policy, labels and kinds."""

    baseline: pd.DataFrame
    test: pd.DataFrame
    policy: Policy
    labels: pd.DataFrame
    kinds: Callable[[str], str | None]


def _simulated(
    root: Path, seed: int, baseline_days: int, test_days: int, options: Mapping[str, Any]
) -> _Simulated:
    """Simulate into ``root``, ingest every cloud's logs, split at the test period."""
    from training.simulation import simulate

    simulate(root, days=baseline_days + test_days, seed=seed, test_days=test_days, **options)
    events_path = root / "events.parquet"
    manifest = json.loads((root / "manifest.json").read_text())
    logs = manifest["files"].get("logs") or {"aws": manifest["files"]["trail"]}
    paths = [root / folder for folder in logs.values()]
    ingest(paths, events_path, options=IngestOptions(geoip=str(root / "geo.mmdb")))
    events = read_events(events_path)
    start = pd.Timestamp(manifest["test"]["start"])
    files = [root / name for name in ("change_windows.yaml", "automation.yaml")]
    return _Simulated(
        events[events["event_time"] < start],
        events[events["event_time"] >= start],
        load_policy(*[f for f in files if f.exists()]),
        pd.read_parquet(root / "labels.parquet"),
        _kinds(manifest),
    )


def simulated_budget(
    out: str | Path,
    *,
    seed: int,
    baseline_days: int,
    test_days: int = 7,
    simulate_options: Mapping[str, Any] | None = None,
    detector_options: Mapping[str, Any] | None = None,
) -> BudgetRun:
    """Simulate an organisation, train on its baseline, score its test period, and judge.

    ``out`` receives the simulation and its canonical events (``events.parquet``); the
    policy is the simulator's own (``change_windows.yaml`` and ``automation.yaml``).
    ``simulate_options`` may name a ``cloud`` (ADR 0054): every cloud's logs are read.
    """
    sim = _simulated(Path(out), seed, baseline_days, test_days, dict(simulate_options or {}))
    detector = ChangeDetector(**dict(detector_options or {"random_state": seed}))
    detector.fit(sim.baseline)
    run = findings_budget(
        sim.test,
        sim.labels,
        detector=detector,
        history=sim.baseline,
        policy=sim.policy,
        days=float(test_days),
        kinds=sim.kinds,
    )
    logger.info(
        "seed %d, %d-day baseline: %s",
        seed,
        baseline_days,
        json.dumps(run.budget.to_json() | {"window_auc": run.window_auc}, default=str)[:400],
    )
    return run


def cloud_budgets(
    out: str | Path,
    *,
    seed: int,
    baseline_days: int,
    models: str = "shared",
    test_days: int = 7,
    simulate_options: Mapping[str, Any] | None = None,
) -> dict[str, BudgetRun]:
    """Simulate an organisation in every cloud and judge each cloud's test period on its own.

    ``models``: ``shared`` trains one detector on every cloud's baseline; ``per-cloud``
    one detector per cloud on that cloud's baseline (ADR 0055). Each cloud's test period
    is scored with its own labels, the baseline it was trained with as history.
    """
    if models not in ("shared", "per-cloud"):
        raise ValueError(f"models must be 'shared' or 'per-cloud', got {models!r}")
    options = {"cloud": "all"} | dict(simulate_options or {})
    sim = _simulated(Path(out), seed, baseline_days, test_days, options)
    shared = ChangeDetector(random_state=seed).fit(sim.baseline) if models == "shared" else None
    runs: dict[str, BudgetRun] = {}
    for cloud in sorted(sim.test["cloud"].unique()):
        baseline = (
            sim.baseline if shared is not None else sim.baseline[sim.baseline["cloud"] == cloud]
        )
        detector = shared or ChangeDetector(random_state=seed).fit(baseline)
        labels = sim.labels[sim.labels["cloud"] == cloud]
        runs[str(cloud)] = findings_budget(
            sim.test[sim.test["cloud"] == cloud],
            labels,
            detector=detector,
            history=baseline,
            policy=sim.policy,
            days=float(test_days),
            kinds=sim.kinds,
        )
    return runs
