"""Scoring a batch: events -> rule hits and model windows -> findings.

:func:`score_events` is what ``changewatch score`` and the API both call, so the batch
path and the service give the same findings for the same events. The model is
optional: with ``scorer=None`` (``--model none``) only the rules speak.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.parquet as pq

from features import CANONICAL_SCHEMA, AwsRanges, IngestOptions, ingest, read_events, to_ns
from models.scoring._calendar import JUDGED_COLUMNS
from models.scoring._contract import IgnoredEvents, ModelScores
from models.scoring._findings import (
    CombineSettings,
    EventFacts,
    Finding,
    ScorerInfo,
    WindowScore,
    combine,
)
from models.scoring._policy import Policy
from models.scoring._rules import (
    RULES,
    Evaluation,
    Hit,
    IdentityHistory,
    Rule,
    RuleContext,
    RuleSettings,
    evaluate,
)
from models.scoring._rules._base import attempted_mask, take_columns
from models.scoring._rules._summary import BatchSummary
from models.scoring._windows_model import AutomationSpec, SuppressionSpec

__all__ = [
    "PARQUET_MAGIC",
    "BatchScorer",
    "LoadedEvents",
    "ModelWindows",
    "ScoreResult",
    "Scorer",
    "WindowSource",
    "combine_findings",
    "evaluate_rules",
    "event_facts",
    "load_events",
    "score_events",
]

logger = logging.getLogger(__name__)

PARQUET_MAGIC: Final = b"PAR1"
"""First four bytes of every Parquet file."""


@runtime_checkable
class Scorer(Protocol):
    """What the combiner needs from a detector.

    ``score_windows`` returns one :class:`WindowScore` per identity and window of the
    batch; ``history`` holds canonical events that precede the batch (the detector
    may ignore it when its profiles already hold the past).
    """

    def info(self) -> ScorerInfo:
        """Name and version of the scorer."""
        ...

    def score_windows(
        self, events: pd.DataFrame, history: pd.DataFrame | None = None
    ) -> list[WindowScore]:
        """Score the windows of a batch of canonical events."""
        ...


@runtime_checkable
class BatchScorer(Scorer, Protocol):
    """A :class:`Scorer` that also says which events of a batch it did not judge, and why."""

    def score_batch(self, events: pd.DataFrame, history: pd.DataFrame | None = None) -> ModelScores:
        """Score the windows of a batch and name the events left out."""
        ...


def _model_scores(scorer: Scorer, events: pd.DataFrame, past: pd.DataFrame | None) -> ModelScores:
    if isinstance(scorer, BatchScorer):
        return scorer.score_batch(events, past)
    return ModelScores(scorer.score_windows(events, past))


@dataclass(slots=True)
class LoadedEvents:
    """Canonical events read from files, with what was not kept."""

    events: pd.DataFrame
    records: int = 0
    rejected: int = 0
    duplicates: int = 0
    files: int = 0
    files_failed: int = 0


def _is_parquet(path: str) -> bool:
    """Return a canonical Parquet table; OCSF Parquet (a ``class_uid`` column) is read as input."""
    if path == "-" or not os.path.isfile(path):
        return False
    with open(path, "rb") as handle:
        if handle.read(4) != PARQUET_MAGIC:
            return False
    return "class_uid" not in pq.read_schema(path).names


def _empty() -> pd.DataFrame:
    frame: pd.DataFrame = CANONICAL_SCHEMA.empty_table().to_pandas()
    return frame


def load_events(paths: Iterable[str | Path], *, rejects: str | Path | None = None) -> LoadedEvents:
    """Read canonical Parquet tables and CloudTrail inputs into one canonical frame.

    Parquet is recognised by its magic bytes (``PAR1``) and read with
    :func:`features.read_events`, unless it holds OCSF records (Amazon Security Lake);
    those and everything else go through :func:`features.ingest`
    (files, directories, ``-``), so whatever ``changewatch ingest`` reads is read.
    An event id seen twice keeps its first copy.

    Parameters
    ----------
    paths : iterable of str or Path
        Inputs, in order.
    rejects : str or Path, optional
        Where the rejects report of the CloudTrail inputs goes (JSON lines);
        discarded when not given (the counts are kept).
    """
    names = [str(p) for p in paths]
    parquet = [p for p in names if _is_parquet(p)]
    trails = [p for p in names if p not in parquet]
    loaded = LoadedEvents(_empty())
    frames = [read_events(p) for p in parquet]
    loaded.files += len(parquet)
    loaded.records += sum(len(f) for f in frames)
    if trails:
        with tempfile.TemporaryDirectory(prefix="changewatch-score-") as scratch:
            out = os.path.join(scratch, "events.parquet")
            report = ingest(
                trails,
                out,
                options=IngestOptions(jobs=1),
                rejects=rejects or os.path.join(scratch, "rejects.jsonl"),
            )
            frames.append(read_events(out))
        loaded.records += report.records
        loaded.rejected += report.rejected
        loaded.duplicates += report.duplicates
        loaded.files += report.files
        loaded.files_failed += report.files_failed
    frames = [f for f in frames if len(f)]
    if frames:
        joined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        first = ~joined["event_id"].duplicated(keep="first")
        loaded.duplicates += int((~first).sum())
        loaded.events = joined[first].reset_index(drop=True)
    return loaded


def _judges(policy: Policy | None) -> bool:
    calendar = policy.calendar if policy is not None else None
    return calendar is not None and bool(calendar.windows or calendar.tickets or calendar.freezes)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def event_facts(events: pd.DataFrame, policy: Policy | None = None) -> dict[str, EventFacts]:
    """Account, region, principal and (for attempted compute changes) the calendar's verdict.

    Verdicts are given only when the policy has at least one window, ticket or
    freeze: without a calendar there is no window context to lower or raise by.
    """
    return _facts_at(events, np.arange(len(events)), policy)


def _facts_at(
    events: pd.DataFrame, rows: npt.NDArray[np.intp], policy: Policy | None
) -> dict[str, EventFacts]:
    """Return :func:`event_facts` of the events at positions ``rows`` (in that order).

    Read from the columns at those positions, without a copy of the rows: each event's
    facts are its own (its columns, its verdict), so they are those of the rows' frame.
    """
    count = len(rows)
    verdict: list[object] = [None] * count
    by_kind: list[object] = [None] * count
    by: list[object] = [None] * count
    if policy is not None and _judges(policy) and count:
        mask = attempted_mask(events)[rows]
        if mask.any():  # judged on the columns a verdict reads alone: no copy of the rest
            judging = np.flatnonzero(mask)
            judged = policy.calendar.verdict_columns(
                take_columns(events, rows[judging], JUDGED_COLUMNS)
            )
            for at, *found in zip(judging.tolist(), *judged, strict=True):
                verdict[at], by_kind[at], by[at] = found
    facts: dict[str, EventFacts] = {}
    columns = zip(
        *(
            events[name].to_numpy()[rows].tolist()
            for name in ("event_id", "account_id", "region", "principal_arn")
        ),
        verdict,
        by_kind,
        by,
        strict=True,
    )
    for event_id, *values in columns:
        account, region, arn, judgement, kind, name = (_text(v) for v in values)
        facts[str(event_id)] = EventFacts(account, region, arn, judgement, kind, name)
    return facts


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """What scoring a batch produced.

    Attributes
    ----------
    findings : list of Finding
        The combined findings (ADR 0012).
    hits : list of Hit
        Every rule hit left after suppressions.
    suppressed : list of (Hit, SuppressionSpec)
        Hits an active suppression dropped.
    rehearsed : list of (Hit, SuppressionSpec)
        Hits kept (in ``hits``) that a dry-run suppression would have dropped.
    armed : list of (Hit, AutomationSpec)
        ``Automation.*`` hits a dry-run automation entry would have raised (not in
        ``hits``: it changes nothing until switched on).
    failed : list of (str, str)
        Rules that raised, with the error.
    windows : list of WindowScore
        What the model said (empty with rules only).
    events : int
        Events scored.
    scorer : ScorerInfo or None
        The model used, if any.
    ignored : IgnoredEvents or None
        Events the model did not judge and why (the rules judged every event);
        ``None`` when it judged all of them, or there is no model.
    """

    findings: list[Finding] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    suppressed: list[tuple[Hit, SuppressionSpec]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    windows: list[WindowScore] = field(default_factory=list)
    events: int = 0
    scorer: ScorerInfo | None = None
    ignored: IgnoredEvents | None = None
    rehearsed: list[tuple[Hit, SuppressionSpec]] = field(default_factory=list)
    armed: list[tuple[Hit, AutomationSpec]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ModelWindows:
    """What the model says about a batch, when the caller computed it itself.

    Attributes
    ----------
    windows : list of WindowScore
        The windows to combine with the rule hits.
    events : pandas.DataFrame or None
        Canonical events of those windows that the batch frame may lack (the findings'
        account, regions and change context are read from them).
    ignored : IgnoredEvents or None
        Events of the batch the model did not judge, and why.
    """

    windows: list[WindowScore] = field(default_factory=list)
    events: pd.DataFrame | None = None
    ignored: IgnoredEvents | None = None


WindowSource = Callable[[Sequence[Hit]], ModelWindows]
"""Gives the model's windows once the rule hits are known (the service's incremental state:
only the windows a finding can hold are computed)."""


def evaluate_rules(
    events: pd.DataFrame,
    policy: Policy | None = None,
    history: pd.DataFrame | IdentityHistory | None = None,
    *,
    rule_settings: RuleSettings | None = None,
    now: datetime | None = None,
    rules: Sequence[Rule] = RULES,
    summary: BatchSummary | None = None,
    aws_ranges: AwsRanges | Literal["installed"] | None = "installed",
) -> Evaluation:
    """Run the rule stage of :func:`score_events`: the rules, then the suppressions."""
    context = RuleContext.build(
        history, policy=policy, settings=rule_settings, now=now, aws_ranges=aws_ranges
    )
    evaluation = evaluate(events, context, rules, summary=summary)
    for rule_id, error in evaluation.failed:
        logger.warning("rule %s failed and was skipped: %s", rule_id, error)
    return evaluation


def combine_findings(
    events: pd.DataFrame | Callable[[], pd.DataFrame],
    evaluation: Evaluation,
    model: ModelWindows,
    policy: Policy | None = None,
    *,
    settings: CombineSettings | None = None,
    scorer: ScorerInfo | None = None,
    scored: int | None = None,
) -> ScoreResult:
    """Run the last stage of :func:`score_events`: the evidence's facts, then :func:`combine`.

    ``events`` is the frame the findings' facts are read from, or a function that builds
    it: called only when a finding needs facts (a rule hit or an alerting window), so a
    caller that has no frame yet builds none for a quiet batch (ADR 0062); ``scored``
    is then required. ``scored`` is the number of events scored (default: ``len(events)``).
    """
    if scored is None:
        if callable(events):
            raise TypeError("combine_findings needs `scored` when the events are built on demand")
        scored = len(events)
    windows = model.windows
    settings = settings or CombineSettings()
    alerting = [w for w in windows if not w.cold_start and settings.band(w.percentile) is not None]
    findings: list[Finding] = []
    # Without a hit or an alerting window every group :func:`combine` forms is quiet (cold
    # or below every band) and makes no finding: the answer is known, nothing is read.
    if evaluation.hits or alerting:
        evidence = {i for hit in evaluation.hits for i in hit.event_ids}
        evidence.update(i for window in alerting for i in window.event_ids)
        frame = events() if callable(events) else events
        facts = _facts_of(frame, model.events, evidence, policy)
        findings = combine(windows, evaluation.hits, facts, settings=settings, scorer=scorer)
    logger.info(
        "scored %d events: %d hits, %d windows, %d findings",
        scored if callable(events) else len(events),
        len(evaluation.hits),
        len(windows),
        len(findings),
    )
    return ScoreResult(
        findings=findings,
        hits=evaluation.hits,
        suppressed=evaluation.suppressed,
        failed=evaluation.failed,
        windows=windows,
        events=scored,
        scorer=scorer,
        ignored=model.ignored,
        rehearsed=evaluation.rehearsed,
        armed=evaluation.armed,
    )


def _facts_of(
    events: pd.DataFrame, extra: pd.DataFrame | None, evidence: set[str], policy: Policy | None
) -> dict[str, EventFacts]:
    """Return the :func:`event_facts` of the ``evidence`` events: ``events``', then ``extra``'s.

    A finding reads the facts of its evidence alone (the hits' and alerting windows' event
    ids), and each event's facts are its own (its columns, its verdict), so only the
    evidence's rows are read; ``extra`` (the model's events the frame may lack) adds those
    ``events`` does not hold.
    """
    wanted = list(evidence)
    mine = events["event_id"].isin(wanted).to_numpy()
    facts = _facts_at(events, np.flatnonzero(mine), policy)
    if extra is not None and len(extra):
        more = (
            extra["event_id"].isin(wanted).to_numpy()
            & ~extra["event_id"].isin(list(facts)).to_numpy()
        )
        if more.any():
            facts.update(_facts_at(extra, np.flatnonzero(more), policy))
    return facts


def score_events(
    events: pd.DataFrame,
    policy: Policy | None = None,
    scorer: Scorer | None = None,
    history: pd.DataFrame | IdentityHistory | None = None,
    *,
    settings: CombineSettings | None = None,
    rule_settings: RuleSettings | None = None,
    now: datetime | None = None,
    rules: Sequence[Rule] = RULES,
    summary: BatchSummary | None = None,
    windows: WindowSource | None = None,
    context: pd.DataFrame | None = None,
    aws_ranges: AwsRanges | Literal["installed"] | None = "installed",
) -> ScoreResult:
    """Score one batch of canonical events: rules, the model if any, then :func:`combine`.

    The one scoring path of the command line, Spark (per identity group) and the service
    (ADR 0019): :func:`evaluate_rules`, the model's windows, :func:`combine_findings`.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events (``features.read_events`` or ``records_to_table``).
    policy : Policy, optional
        Windows, tickets, freezes, organisation, allow-lists, suppressions.
    scorer : Scorer, optional
        The detector; ``None`` scores with the rules only.
    history : pandas.DataFrame or IdentityHistory, optional
        Canonical events that precede the batch (the rules' identity history), or
        the :class:`IdentityHistory` they make (rules only: a model needs the events).
    settings : CombineSettings, optional
        The combining table's numbers.
    rule_settings : RuleSettings, optional
        The rules' thresholds.
    now : datetime, optional
        Evaluation time for suppression expiry; the wall clock when not given.
    rules : sequence of Rule
        The rules to run; every registered rule by default.
    summary : BatchSummary, optional
        The batch's summary, when the caller has counted it already.
    windows : callable, optional
        Gives the model's windows from the rule hits, instead of ``scorer.score_windows``
        (the service's incremental model state); ``scorer`` then only names the model.
    context : pandas.DataFrame, optional
        Events of *other* identities that the rules may follow a chain through (Spark
        gives each identity group the organisation's snapshot-chain steps): the rules see
        them beside ``events`` and findings may cite them, but their identities get no
        hit, window or finding here (they get them in their own group).
    aws_ranges : features.AwsRanges, None or "installed"
        AWS's published IP ranges the rules judge addresses by (``None``: none); by
        default the newest snapshot installed where this runs (``features.default_ranges``).
        Spark gives every group the driver's, so executors judge as the driver (ADR 0052).
    """
    info = scorer.info() if scorer is not None else None
    if scorer is not None and windows is None and isinstance(history, IdentityHistory):
        raise ValueError("a model scores against the past events, not their IdentityHistory")
    if not len(events):
        return ScoreResult(scorer=info)
    judged = events
    if context is not None and len(context):
        judged = pd.concat([events, context], ignore_index=True)
    judged = _in_order(judged)
    evaluation = evaluate_rules(
        judged,
        policy,
        history,
        rule_settings=rule_settings,
        now=now,
        rules=rules,
        summary=summary,
        aws_ranges=aws_ranges,
    )
    if context is not None and len(context):
        evaluation = _own(evaluation, set(events["identity_key"].astype(str)))
    if windows is not None:
        model = windows(evaluation.hits)
    elif scorer is not None:
        past = history if not isinstance(history, IdentityHistory) else None
        scores = _model_scores(scorer, events, past)
        model = ModelWindows(scores.windows, ignored=scores.ignored)
    else:
        model = ModelWindows()
    return combine_findings(
        judged, evaluation, model, policy, settings=settings, scorer=info, scored=len(events)
    )


def _in_order(events: pd.DataFrame) -> pd.DataFrame:
    """Order events by time, then event id: rules meet them in one order, however they came.

    Rules name their evidence in the order they meet it, so two engines that read the same
    events in different orders (a file, Spark's groups, the service's frame) must sort ties
    the same way.
    """
    if len(events) < 2:
        return events
    order = np.lexsort((events["event_id"].to_numpy(dtype=object), to_ns(events["event_time"])))
    if (order == np.arange(len(order))).all():
        return events
    return events.take(order).reset_index(drop=True)


def _own(evaluation: Evaluation, identities: set[str]) -> Evaluation:
    """Keep the hits (and suppressed hits) of ``identities`` alone."""
    return Evaluation(
        hits=[h for h in evaluation.hits if h.identity in identities],
        suppressed=[(h, s) for h, s in evaluation.suppressed if h.identity in identities],
        failed=evaluation.failed,
        rehearsed=[(h, s) for h, s in evaluation.rehearsed if h.identity in identities],
        armed=[(h, a) for h, a in evaluation.armed if h.identity in identities],
    )
