"""The alert budget: what a day of findings costs an analyst, and what it catches.

A detector earns its place by the trust its findings earn, so precision is measured the
way an analyst meets it: **benign findings per day**, by severity, by identity kind and by
rule, beside **scenarios caught at medium or higher** and **hard negatives flagged** (benign
but unusual cases a detector should leave alone). :func:`alert_budget` judges findings
against labelled events (the simulator's ``labels.parquet``, or analysts' verdicts), and
is what ``changewatch evaluate``, every training run, ``bench/quality.py`` and the model's
quality test report.

Judging, per finding at medium or higher:

* it *catches* every attack scenario one of its evidence events belongs to;
* it is *benign* when none of its evidence events is an attack event; a benign finding
  *flags* a hard-negative case when at least half of its evidence events belong to it.

Benign findings of every severity are counted per day; the budget's headline is benign
medium+ findings per day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from models.scoring._finding_schema import Finding
from models.scoring._findings import severity_rank
from models.scoring._rules import Severity

__all__ = ["IDENTITY_KINDS", "AlertBudget", "alert_budget", "identity_kind"]

IDENTITY_KINDS: Final = ("person", "automation", "service")
"""How identities are grouped in the budget (:func:`identity_kind`)."""
_MEDIUM: Final = severity_rank(Severity.MEDIUM)


def identity_kind(identity: str) -> str:
    """``person``, ``automation`` or ``service``, from an identity key alone.

    Per-person keys (a role session keyed per person: ``.../role/R/alice@corp``), IAM users
    and root are people; roles keyed as roles (automation, instance profiles, web-identity
    workloads) are automation; AWS services, other accounts' principals and unknown callers
    are services. A simulator manifest or an inventory may say better (``kinds=``).
    """
    if identity.startswith(("service:", "account:", "unknown:")):
        return "service"
    if ":role/" in identity:
        return "person" if "/" in identity.split(":role/", 1)[1] else "automation"
    return "person"


@dataclass(frozen=True, slots=True)
class AlertBudget:
    """Findings judged against labels, per day.

    Attributes
    ----------
    days : float
        Length of the judged period.
    findings : int
        Findings judged (every severity).
    benign_per_day : dict of str to float
        Benign findings per day by severity (``info`` ... ``critical``).
    benign_medium_plus_per_day : float
        The headline: benign findings at medium or higher per day.
    benign_by_kind : dict of str to float
        Benign medium+ findings per day by identity kind.
    benign_by_rule : dict of str to float
        Benign medium+ findings per day by rule id (``model`` for model-only findings); a
        finding with several rules counts for each.
    scenarios, caught : tuple of str
        Attack scenarios present in the labels, and those caught at medium+.
    hard_negatives, flagged : tuple of str
        Hard-negative cases present in the labels, and those a benign medium+ finding flagged.
    benign_examples : tuple of dict
        Identity, severity, rules and first reason of each benign medium+ finding (for a
        person to read what the noise is).
    """

    days: float
    findings: int
    benign_per_day: dict[str, float]
    benign_medium_plus_per_day: float
    benign_by_kind: dict[str, float]
    benign_by_rule: dict[str, float]
    scenarios: tuple[str, ...]
    caught: tuple[str, ...]
    hard_negatives: tuple[str, ...]
    flagged: tuple[str, ...]
    benign_examples: tuple[dict[str, Any], ...] = field(default=())

    @property
    def missed(self) -> tuple[str, ...]:
        """Attack scenarios no medium+ finding caught."""
        return tuple(s for s in self.scenarios if s not in self.caught)

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """Flat numeric metrics (for MLflow): ``{prefix}benign_medium_plus_per_day`` etc."""
        out = {
            f"{prefix}benign_medium_plus_per_day": self.benign_medium_plus_per_day,
            f"{prefix}scenarios_caught": float(len(self.caught)),
            f"{prefix}scenarios_total": float(len(self.scenarios)),
            f"{prefix}hard_negatives_flagged": float(len(self.flagged)),
            f"{prefix}hard_negatives_total": float(len(self.hard_negatives)),
        }
        out |= {f"{prefix}benign_{s}_per_day": v for s, v in self.benign_per_day.items()}
        out |= {
            f"{prefix}benign_medium_plus_{k}_per_day": v for k, v in self.benign_by_kind.items()
        }
        return out

    def to_json(self) -> dict[str, Any]:
        """Return the budget as JSON-ready data."""
        return {
            "days": self.days,
            "findings": self.findings,
            "benign_per_day": self.benign_per_day,
            "benign_medium_plus_per_day": self.benign_medium_plus_per_day,
            "benign_by_kind": self.benign_by_kind,
            "benign_by_rule": self.benign_by_rule,
            "caught": f"{len(self.caught)}/{len(self.scenarios)}",
            "missed": list(self.missed),
            "hard_negatives_flagged": f"{len(self.flagged)}/{len(self.hard_negatives)}",
            "flagged": list(self.flagged),
            "benign_examples": list(self.benign_examples),
        }


def _evidence(finding: Finding) -> set[str]:
    ids = set(finding.event_ids)
    for hit in finding.hits:
        ids.update(hit.event_ids)
    return ids


def _per_day(counts: Counter[str], days: float) -> dict[str, float]:
    return {key: round(count / days, 3) for key, count in sorted(counts.items())}


def alert_budget(
    findings: Iterable[Finding],
    attacks: Mapping[str, str],
    hard_negatives: Mapping[str, str] | None = None,
    *,
    days: float,
    kinds: Mapping[str, str] | Callable[[str], str | None] | None = None,
) -> AlertBudget:
    """Judge findings against labelled events (see the module docstring).

    Parameters
    ----------
    findings : iterable of Finding
        The findings of one period.
    attacks : mapping of str to str
        Event id -> attack scenario, for every event an attack left.
    hard_negatives : mapping of str to str, optional
        Event id -> hard-negative case.
    days : float
        Length of the period the findings cover (> 0).
    kinds : mapping or callable, optional
        Identity key -> ``person`` / ``automation`` / ``service`` (a mapping, or a function
        that may return ``None``); :func:`identity_kind` for identities it does not name.

    Raises
    ------
    ValueError
        When ``days`` is not positive.
    """
    if not days > 0:
        raise ValueError(f"days must be > 0, got {days}")
    negatives = hard_negatives or {}
    kind_of = kinds.get if isinstance(kinds, Mapping) else (kinds or (lambda _: None))
    judged = 0
    severities: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    caught: set[str] = set()
    flagged: set[str] = set()
    examples: list[dict[str, Any]] = []
    for finding in findings:
        judged += 1
        ids = _evidence(finding)
        scenarios = {attacks[i] for i in ids if i in attacks}
        medium_plus = severity_rank(finding.severity) >= _MEDIUM
        if scenarios:
            if medium_plus:
                caught |= scenarios
            continue
        severities[str(finding.severity)] += 1
        if not medium_plus:
            continue
        by_kind[kind_of(finding.identity) or identity_kind(finding.identity)] += 1
        for rule in finding.rules or ["model"]:
            by_rule[rule] += 1
        cases = Counter(negatives[i] for i in ids if i in negatives)
        if ids:
            flagged |= {case for case, count in cases.items() if 2 * count >= len(ids)}
        examples.append(
            {
                "identity": finding.identity,
                "severity": str(finding.severity),
                "start": finding.window_start.isoformat(),
                "rules": list(finding.rules),
                "reason": finding.reasons[0],
                "hard_negative": sorted(cases),
            }
        )
    medium_plus_total = sum(by_kind.values())
    return AlertBudget(
        days=days,
        findings=judged,
        benign_per_day={s.value: round(severities[s.value] / days, 3) for s in Severity},
        benign_medium_plus_per_day=round(medium_plus_total / days, 3),
        benign_by_kind={k: round(by_kind[k] / days, 3) for k in IDENTITY_KINDS},
        benign_by_rule=_per_day(by_rule, days),
        scenarios=tuple(sorted(set(attacks.values()))),
        caught=tuple(sorted(caught)),
        hard_negatives=tuple(sorted(set(negatives.values()))),
        flagged=tuple(sorted(flagged)),
        benign_examples=tuple(examples),
    )
