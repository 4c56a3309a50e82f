"""What the registry keeps of a model: descriptions, and every promotion decision.

Each decision is appended, never overwritten: a JSON record in the challenger's run
(``promotion/0001.json``, ``0002.json`` ...), the ``promotion.*`` tags of the version
describe the latest and point to its record (``promotion.record``), the registered
model's ``promotion.last`` tag names the latest decision of any version, and the
version's description gains one line per decision.
"""

# MLflow is imported where used, so that importing training stays light.

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "MODEL_DESCRIPTION",
    "append_decision",
    "describe_registered_model",
    "version_description",
]

logger = logging.getLogger(__name__)

MODEL_DESCRIPTION: Final = (
    "changewatch anomaly detector for cloud infrastructure changes (MITRE ATT&CK AN0861): "
    "an isolation forest over per-identity behavioural windows of CloudTrail change "
    "events, scored as percentiles of its training windows, with explanations in words. "
    "Aliases: @champion is served (changewatch score/serve --model models:/NAME@champion), "
    "@challenger is the newest candidate. Each version's description gives its training "
    "period, data, evaluation and promotion decisions; the run behind it holds the model "
    "card and the reviewer's pack (docs/training.md, docs/metrics.md)."
)
_DECISIONS: Final = "promotion"
_SUMMARY: Final = (
    "eval_pr_auc",
    "eval_roc_auc",
    "eval_scenarios_detected",
    "eval_scenarios_total",
    "eval_benign_alerts_per_day",
)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def version_description(
    params: Mapping[str, Any], metrics: Mapping[str, float], evaluation: Mapping[str, Any]
) -> str:
    """Return the description of a new version: training period, data, metrics.

    Parameters
    ----------
    params : mapping
        The run's parameters (``training_start``, ``window``, ...).
    metrics : mapping
        The run's metrics.
    evaluation : mapping
        ``kind`` (held-out, given, in-sample, none) and ``period`` facts.
    """
    lines = [
        f"Trained on {params['training_start']} to {params['training_end']} "
        f"({_fmt(metrics.get('baseline_days'))} days): {int(metrics.get('events', 0)):,} "
        f"events, {int(metrics.get('identities', 0))} identities, "
        f"{int(metrics.get('windows', 0)):,} windows; data fingerprint "
        f"{str(params['data_fingerprint'])[:16]}.",
        f"Settings: window {params['window']}, {params['n_estimators']} trees, "
        f"max_samples {params['max_samples']}, alert at p{params['threshold']}.",
    ]
    kind = evaluation.get("kind", "none")
    if kind == "none":
        lines.append("Not evaluated (no labels).")
    else:
        period = evaluation.get("period") or {}
        figures = ", ".join(f"{name} {_fmt(metrics.get(name))}" for name in _SUMMARY)
        lines.append(
            f"Evaluation ({kind}, {period.get('start', '?')} to {period.get('end', '?')}, "
            f"{period.get('windows', '?')} windows): {figures}."
        )
    lines.append("Promotion decisions:")
    return "\n".join(lines)


def describe_registered_model(client: MlflowClient, name: str) -> None:
    """Give the registered model its description (once; an edited one is kept)."""
    current = client.get_registered_model(name).description
    if not current:
        client.update_registered_model(name, description=MODEL_DESCRIPTION)


def _next_record(client: MlflowClient, run_id: str) -> str:
    existing = [f.path for f in client.list_artifacts(run_id, _DECISIONS)]
    return f"{_DECISIONS}/{len(existing) + 1:04d}.json"


def append_decision(
    client: MlflowClient, name: str, version: str, run_id: str | None, record: dict[str, Any]
) -> str:
    """Keep a decision: JSON record in the run, tags on the version and model, a line.

    Returns
    -------
    str
        Where the record is (``runs:/<run>/promotion/NNNN.json``, or ``-`` without a run).
    """
    where = "-"
    if run_id:
        path = _next_record(client, run_id)
        client.log_text(run_id, json.dumps(record, indent=2, default=str), path)
        where = f"runs:/{run_id}/{path}"
    tags = {
        "decision": record["decision"],
        "reason": record["reason"],
        "metric": record["metric"],
        "compared_on": ",".join(c["metric"] for c in record.get("compared", [])) or "-",
        "time": record["time"],
        "champion_version": record.get("previous_champion") or "-",
        "evaluated_on": str(record.get("evaluated_on", "-"))[:4000],
        "record": where,
    }
    for role in ("challenger", "champion"):
        for key, value in (record.get(role) or {}).items():
            tags[f"{role}.{key}"] = _fmt(value) if value is not None else "none"
        period = (record.get("periods") or {}).get(role)
        if period:
            tags[f"{role}.period"] = f"{period['start']} to {period['end']}"
            tags[f"{role}.windows"] = str(period["windows"])
            tags[f"{role}.events"] = str(period["events"])
            tags[f"{role}.events_dropped"] = str(period.get("events_dropped", 0))
            tags[f"{role}.state"] = str(period["state"])
    for key, value in tags.items():
        client.set_model_version_tag(name, version, f"promotion.{key}", str(value))
    count = int(client.get_model_version(name, version).tags.get("promotion.decisions", "0"))
    client.set_model_version_tag(name, version, "promotion.decisions", str(count + 1))
    client.set_registered_model_tag(
        name,
        "promotion.last",
        json.dumps({"version": version, "decision": record["decision"], "record": where}),
    )
    line = (
        f"- {record['time']}: {record['decision']} ({record['reason']}; "
        f"champion was {record.get('previous_champion') or 'none'})"
    )
    description = client.get_model_version(name, version).description or ""
    client.update_model_version(name, version, description=f"{description}\n{line}".strip())
    logger.info("%s version %s: %s, recorded at %s", name, version, record["decision"], where)
    return where
