"""Findings: the combiner that turns window scores and rule hits into findings.

:func:`combine` is the one deterministic function that turns the model's window
scores (:class:`~models.scoring._contract.WindowScore`), the rule hits (:class:`~serving.Hit`)
and the change context of the evidence events (:class:`EventFacts`) into
:class:`~models.scoring._finding_schema.Finding` objects. Its table of bands and adjustments is
``docs/adr/0012-combining-model-and-rules-into-findings.md`` and ``docs/findings.md``;
:class:`CombineSettings` holds the numbers.

The detector's contract is in :mod:`models.scoring._contract` and the finding schema in
:mod:`models.scoring._finding_schema`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from models.scoring._contract import ScorerInfo, WindowScore
from models.scoring._finding_schema import (
    ChangeContext,
    Finding,
    FindingExplanation,
    FindingModel,
    FindingRule,
)
from models.scoring._rules import Hit, Severity, rule_by_id
from models.scoring._rules._base import at_most, shifted

# Finding, ScorerInfo and WindowScore are re-exported for the modules that import them from here.
__all__ = [
    "CombineSettings",
    "EventFacts",
    "Finding",
    "ScorerInfo",
    "WindowScore",
    "combine",
    "severity_rank",
]

_LEVELS: Final = tuple(Severity)
_US: Final = timedelta(microseconds=1)
_SCORE_FLOOR: Final = {
    Severity.INFO: 0.0,
    Severity.LOW: 20.0,
    Severity.MEDIUM: 40.0,
    Severity.HIGH: 60.0,
    Severity.CRITICAL: 80.0,
}


def severity_rank(severity: Severity | str) -> int:
    """Return 0 for ``info`` up to 4 for ``critical``."""
    return _LEVELS.index(Severity(severity))


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the combiner needs to know of one evidence event besides its id.

    ``verdict`` is the change calendar's verdict (``approved``, ``forbidden``,
    ``unapproved``) for attempted compute changes judged against a policy, and
    ``None`` for every other event; ``by`` names the window, ticket or freeze.
    """

    account_id: str | None = None
    region: str | None = None
    principal_arn: str | None = None
    verdict: str | None = None
    by_kind: str | None = None
    by: str | None = None


@dataclass(frozen=True, slots=True)
class CombineSettings:
    """The numbers of the combining table (ADR 0012).

    Attributes
    ----------
    bands : tuple of (float, Severity)
        Model percentile at or above which a window is an alert of that severity,
        highest first. Below the last band the model raises nothing. By default the model
        alone says medium only for a window at least as unusual as every window of its
        baseline (percentile 100), and low from 99.5: at the rates an organisation's
        windows arrive (hundreds a day), 1 % of them is several alerts a day (ADR 0021).
    approved_low_percentile : float
        Inside an approved window or ticket, a model-only finding is low at or above this
        percentile and info below it (ADR 0021).
    raise_percentile : float
        A change outside every window, or inside a freeze, that a change-window rule
        reports as a breach is raised one level when
        the model percentile reaches this.
    max_explanations : int
        Model explanations quoted in the reasons.
    max_event_ids : int
        Event ids listed per finding (``event_count`` has them all).
    """

    bands: tuple[tuple[float, Severity], ...] = (
        (100.0, Severity.MEDIUM),
        (99.5, Severity.LOW),
    )
    approved_low_percentile: float = 99.5
    raise_percentile: float = 100.0
    max_explanations: int = 3
    max_event_ids: int = 200

    def __post_init__(self) -> None:
        cuts = [cut for cut, _ in self.bands]
        if not cuts or cuts != sorted(cuts, reverse=True) or not all(0 < c <= 100 for c in cuts):
            raise ValueError(f"bands must be in (0, 100] and highest first, got {cuts}")
        if not 0 < self.approved_low_percentile <= 100:
            raise ValueError(
                f"approved_low_percentile must be in (0, 100], got {self.approved_low_percentile}"
            )
        if not 0 < self.raise_percentile <= 100:
            raise ValueError(f"raise_percentile must be in (0, 100], got {self.raise_percentile}")
        if self.max_explanations < 0 or self.max_event_ids < 1:
            raise ValueError("max_explanations must be >= 0 and max_event_ids >= 1")

    def band(self, percentile: float) -> Severity | None:
        """Severity of a model-only alert at ``percentile``, or ``None`` below every band."""
        for cut, severity in self.bands:
            if percentile >= cut:
                return severity
        return None


# ----------------------------------------------------------------- the combiner


@dataclass(slots=True)
class _Group:
    identity: str
    start: datetime
    end: datetime  # exclusive
    hits: list[Hit] = field(default_factory=list)
    windows: list[WindowScore] = field(default_factory=list)


def _groups(windows: Iterable[WindowScore], hits: Iterable[Hit]) -> list[_Group]:
    """Join hits and windows of one identity whose spans overlap (half-open, transitively)."""
    items: list[tuple[str, datetime, datetime, int, str, Hit | WindowScore]] = []
    for window in windows:
        tie = f"{window.window_end.isoformat()}|{window.percentile}|{','.join(window.event_ids)}"
        items.append((window.identity, window.window_start, window.window_end, 1, tie, window))
    for hit in hits:
        tie = f"{hit.rule_id}|{hit.end.isoformat()}|{','.join(hit.event_ids)}"
        items.append((hit.identity, hit.start, hit.end + _US, 0, tie, hit))
    items.sort(key=lambda item: item[:5])
    groups: list[_Group] = []
    for identity, start, end, _, _, item in items:
        last = groups[-1] if groups else None
        if last is None or last.identity != identity or start >= last.end:
            last = _Group(identity, start, end)
            groups.append(last)
        last.end = max(last.end, end)
        if isinstance(item, WindowScore):
            last.windows.append(item)
        else:
            last.hits.append(item)
    return groups


def _context(event_ids: Iterable[str], facts: Mapping[str, EventFacts]) -> ChangeContext:
    judged = [f for f in (facts.get(i) for i in event_ids) if f is not None and f.verdict]
    frozen = sorted({f.by for f in judged if f.verdict == "forbidden" and f.by})
    if any(f.verdict == "forbidden" for f in judged):
        return ChangeContext(verdict="forbidden", by=frozen, changes=len(judged))
    if any(f.verdict == "unapproved" for f in judged):
        return ChangeContext(verdict="unapproved", by=[], changes=len(judged))
    if judged and all(f.verdict == "approved" for f in judged):
        names = sorted({f"{f.by_kind or 'window'} {f.by}" for f in judged if f.by})
        return ChangeContext(verdict="approved", by=names, changes=len(judged))
    return ChangeContext(verdict="none", by=[], changes=len(judged))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _title(hits: Sequence[Hit]) -> str:
    if not hits:
        return "Unusual behaviour for this identity"
    try:
        return rule_by_id(hits[0].rule_id).title
    except KeyError:
        return hits[0].rule_id


def _finding_id(identity: str, start: datetime, rules: Sequence[str], ids: Sequence[str]) -> str:
    text = "\x1f".join([identity, start.isoformat(), ",".join(rules), ",".join(ids)])
    return "cw-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _join(names: Sequence[str]) -> str:
    return ", ".join(names)


def _kept_when_approved(rule_id: str) -> bool:
    try:
        return rule_by_id(rule_id).kept_when_approved
    except KeyError:  # a rule this build does not know: keep what it said
        return True


def _approved(
    hits: Sequence[Hit],
    top: WindowScore | None,
    model_level: Severity | None,
    settings: CombineSettings,
) -> tuple[Severity, str]:
    """Return the severity of a finding whose changes an approved window or ticket covers.

    A model-only finding drops to low (info below ``approved_low_percentile``); rule hits
    drop to low too (one level only when the rule raised them for an action new for the
    actor, :func:`_approved_level`), except those that
    mean exfiltration, destruction or stolen credentials (``Rule.kept_when_approved``),
    which keep their severity anywhere.
    """
    levels: list[Severity] = []
    notes: list[str] = []
    if model_level is not None and top is not None:
        floor = top.percentile >= settings.approved_low_percentile
        levels.append(Severity.LOW if floor else Severity.INFO)
        notes.append(f"the model's {model_level} lowered to {levels[-1]}")
    kept = [h for h in hits if _kept_when_approved(h.rule_id)]
    lowered = sorted({h.rule_id for h in hits if not _kept_when_approved(h.rule_id)})
    levels += [Severity(h.severity) for h in kept]
    if lowered:
        level = max((_approved_level(h) for h in hits if h.rule_id in lowered), key=severity_rank)
        levels.append(level)
        notes.append(f"{', '.join(lowered)} lowered to {level}")
    if kept:
        notes.append(f"{', '.join(sorted({h.rule_id for h in kept}))} keep their severity")
    return max(levels, key=severity_rank), "; ".join(notes)


def _approved_level(hit: Hit) -> Severity:
    """Return a lowered hit's level inside approved work: low, or one down when raised.

    An approval covers the change, not what the rule found new about the actor: a hit the
    rule raised above its base severity (never done by this identity, such as a first
    serial-console key push by a stolen session inside its owner's ticket) drops one
    level, not to low.
    """
    severity = Severity(hit.severity)
    try:
        base = rule_by_id(hit.rule_id).severity
    except KeyError:
        base = severity
    if severity_rank(severity) > severity_rank(base):
        return shifted(severity, -1)
    return at_most(severity, Severity.LOW)


def _breach(hits: Sequence[Hit]) -> bool:
    """Whether a change-window rule reported the breach as an alert (not as routine context)."""
    return any(
        h.rule_id.startswith("ChangeWindow.")
        and severity_rank(h.severity) >= severity_rank(Severity.MEDIUM)
        for h in hits
    )


def _build(
    group: _Group,
    facts: Mapping[str, EventFacts],
    settings: CombineSettings,
    scorer: ScorerInfo | None,
) -> Finding | None:
    """Return the finding of one identity's hits and windows, or ``None`` when none alerts."""
    hits = sorted(group.hits, key=lambda h: (-severity_rank(h.severity), h.rule_id, h.start))
    scored = [w for w in group.windows if not w.cold_start]
    top = max(scored, key=lambda w: (w.percentile, w.window_start), default=None)
    cold = [w for w in group.windows if w.cold_start]
    model_level = settings.band(top.percentile) if top is not None else None
    levels = [Severity(h.severity) for h in hits] + ([model_level] if model_level else [])
    if not levels:
        return None  # only quiet or cold-start windows: nothing to report
    alerting = [w for w in scored if settings.band(w.percentile) is not None]
    evidence = [i for h in hits for i in h.event_ids] + [i for w in alerting for i in w.event_ids]
    ids = sorted(set(evidence))
    context = _context(ids, facts)
    reasons = list(dict.fromkeys(h.reason for h in hits))
    reasons += _model_reasons(top, model_level, cold, settings)
    severity = _judged_in_context(
        max(levels, key=severity_rank), context, hits, top, model_level, settings, reasons
    )
    rules = sorted({h.rule_id for h in hits})
    known = [facts[i] for i in ids if i in facts]
    percentile = top.percentile if top is not None else 0.0
    shown = top or (cold[0] if cold else None)
    starts = [h.start for h in hits] + [w.window_start for w in (*alerting, *cold)]
    ends = [h.end for h in hits] + [w.window_end for w in (*alerting, *cold)]
    return Finding(
        finding_id=_finding_id(group.identity, min(starts), rules, ids),
        severity=severity,
        score=round(_SCORE_FLOOR[severity] + 19.9 * percentile / 100.0, 1),
        title=_title(hits),
        rules=rules,
        reasons=reasons,
        identity=group.identity,
        principal_arn=next((f.principal_arn for f in known if f.principal_arn), None),
        account_id=min((f.account_id for f in known if f.account_id), default=None),
        regions=sorted({f.region for f in known if f.region}),
        window_start=min(starts),
        window_end=max(ends),
        event_ids=ids[: settings.max_event_ids],
        event_count=len(ids),
        techniques=sorted({h.technique for h in hits if h.technique}),
        runbooks=list(dict.fromkeys(h.runbook for h in hits if h.runbook)),
        hits=[_finding_rule(h) for h in hits],
        model=None if shown is None else _finding_model(shown, scorer, settings),
        change_context=context,
    )


def _model_reasons(
    top: WindowScore | None,
    model_level: Severity | None,
    cold: Sequence[WindowScore],
    settings: CombineSettings,
) -> list[str]:
    """Return the model's reasons: its percentile, explanations and peers; a new identity."""
    reasons: list[str] = []
    if top is not None and model_level is not None:
        reasons.append(
            f"behaviour more unusual than {top.percentile:.1f}% of the training windows "
            f"(model percentile {top.percentile:.1f})"
        )
        reasons += [e.text for e in top.explanations[: settings.max_explanations]]
        if top.peers:
            reasons.append(
                f"compared with its peers ({top.peers}): it has no baseline of its own yet"
            )
    if cold:
        reasons.append("new identity: no baseline yet, so the model did not score it")
    return reasons


def _judged_in_context(
    severity: Severity,
    context: ChangeContext,
    hits: Sequence[Hit],
    top: WindowScore | None,
    model_level: Severity | None,
    settings: CombineSettings,
    reasons: list[str],
) -> Severity:
    """Return the severity after the change calendar's verdict, adding its reason.

    Inside an approved window the finding is lowered; an unusual window with a change
    outside every approved window (or during a freeze) is raised one level.
    """
    where = _join(context.by)
    if context.verdict == "approved":
        lowered, note = _approved(hits, top, model_level, settings)
        reasons.append(f"inside approved {where}: {note}")
        return lowered
    if (
        context.verdict in ("forbidden", "unapproved")
        and top is not None
        and top.percentile >= settings.raise_percentile
        and _breach(hits)
    ):
        raised = shifted(severity, +1)
        during = (
            f"during freeze {where}"
            if context.verdict == "forbidden"
            else "outside every approved window and ticket"
        )
        change = f"raised from {severity} to {raised}" if raised != severity else "already critical"
        reasons.append(
            f"unusual behaviour (model percentile {top.percentile:.1f}) with a change {during}: "
            f"{change}"
        )
        return raised
    return severity


def _finding_model(
    shown: WindowScore, scorer: ScorerInfo | None, settings: CombineSettings
) -> FindingModel:
    """Return the model's part of a finding: the window shown, its score and explanations."""
    return FindingModel(
        scorer=str(scorer) if scorer is not None else None,
        percentile=None if shown.cold_start else shown.percentile,
        score=None if shown.cold_start else _finite(shown.score),
        cold_start=shown.cold_start,
        window_start=shown.window_start,
        window_end=shown.window_end,
        explanations=[
            FindingExplanation(
                feature=e.feature, value=_finite(e.value), usual=_finite(e.usual), text=e.text
            )
            for e in shown.explanations[: settings.max_explanations]
        ],
    )


def _finding_rule(hit: Hit) -> FindingRule:
    """Return a rule hit as a finding shows it."""
    return FindingRule(
        rule_id=hit.rule_id,
        severity=Severity(hit.severity),
        technique=hit.technique,
        runbook=hit.runbook,
        reason=hit.reason,
        start=hit.start,
        end=hit.end,
        event_ids=list(hit.event_ids),
    )


def combine(
    windows: Iterable[WindowScore],
    hits: Iterable[Hit],
    facts: Mapping[str, EventFacts] | None = None,
    *,
    settings: CombineSettings | None = None,
    scorer: ScorerInfo | None = None,
) -> list[Finding]:
    """Turn model windows and rule hits into findings (ADR 0012); a pure function.

    Parameters
    ----------
    windows : iterable of WindowScore
        The detector's windows (none when scoring with rules only).
    hits : iterable of Hit
        The rules' hits, suppressions already applied.
    facts : mapping of str to EventFacts, optional
        Account, region, principal and change verdict per event id; without it
        findings carry no account and no window context.
    settings : CombineSettings, optional
        Bands and limits; the documented defaults when not given.
    scorer : ScorerInfo, optional
        Named in the finding's ``model`` part.

    Returns
    -------
    list of Finding
        Ordered by window start, identity and finding id. Hits and windows of one
        identity whose spans overlap become one finding; windows below every band
        and cold-start windows never make a finding on their own.
    """
    settings = settings or CombineSettings()
    found = [
        finding
        for group in _groups(windows, hits)
        if (finding := _build(group, facts or {}, settings, scorer)) is not None
    ]
    return sorted(found, key=lambda f: (f.window_start, f.identity, f.finding_id))
