"""What the rules read of a batch's stored history, and nothing more (ADR 0017).

The service scores a batch together with its identities' stored events of the last
horizon (the *frame*, ADR 0015) and hands the rules an :class:`IdentityHistory` of the
older ones. Reading and decoding all of those events was most of a request's time, and
most of them cannot change a hit. :func:`read_rule_inputs` instead, inside the
transaction that admits the batch:

1. builds the history from a digest of the older events (SQL aggregates over the
   index: no event is decoded), :meth:`IdentityHistory.from_digest`;
2. looks up, on the index alone, the recent events some rule reads (each rule's
   :class:`Reads`): rows of its classes, each identity's first event, and calls of
   allow-listed automation from a client or network its entry does not expect, with
   each identity's first call under each entry (the order those rules meet identities);
3. counts the frame from their classes (:meth:`BatchSummary.from_rows`) and keeps the
   rules that can fire on it (:func:`may_fire`);
4. decodes the events those rules read, and only when there is such a rule.

Every rule finds on that smaller frame exactly the hits it finds on the whole frame, so
findings and answers are unchanged: ``tests/serving/test_rule_inputs.py`` and
``tests/serving/api/test_trimmed_reads.py`` compare both on simulated and random streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import compress
from typing import Any, Final
from weakref import WeakKeyDictionary

import numpy as np
import pandas as pd
import pyarrow as pa

from features import ATTEMPTED_CHANGE, CANONICAL_SCHEMA, RULE_INPUTS, row_flags
from models.scoring import (
    RULES,
    AutomationAllowList,
    BatchSummary,
    ChangeCalendar,
    Evaluation,
    IdentityHistory,
    Policy,
    Rule,
    RuleContext,
    RuleSettings,
    Scorer,
    ScoreResult,
    WindowSource,
    combine_findings,
    score_events,
    unexpected_client,
    unexpected_network,
)
from serving._stored_events import Call, StoredEvents, StoredRow

_NO_CHANGES: Final = CANONICAL_SCHEMA.empty_table().to_pandas()

__all__ = [
    "LIGHT_COLUMNS",
    "ReadPlan",
    "RuleInputs",
    "may_fire",
    "read_rule_inputs",
    "score_with_inputs",
]

LIGHT_COLUMNS: Final = tuple(
    dict.fromkeys(
        (
            "event_id",
            "account_id",
            "region",
            "resource_ids",
            "event_name",
            "event_source",
            "error_code",
            "action",
            "resource_type",
            "is_compute_change",
            "by_service",
            "identity_key",
            "principal_arn",
            "client_family",
            "client_version",
            "source_ip",
            "network",
            "asn",
            *sorted({name for one in RULE_INPUTS for name in one.expr.columns()}),
        )
    )
)
"""Canonical columns of the batch that :func:`row_flags` (every rule input's columns), the
automation judgement and the calendar's judgement (``ChangeCalendar.judge``) read."""


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """What a set of rules reads, together (the union of their :class:`Reads`)."""

    flags: int = 0
    first_event: bool = False
    automation: bool = False

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> ReadPlan:
        """Join the rules' declarations."""
        flags, first, automation = 0, False, False
        for one in rules:
            flags |= one.reads.flags
            first |= one.reads.first_event
            automation |= one.reads.automation
        return cls(flags, first, automation)


@dataclass(frozen=True, slots=True)
class RuleInputs:
    """What the rules need of a batch's stored history, read in its admission.

    Attributes
    ----------
    history : IdentityHistory
        What the identities did before the horizon.
    summary : BatchSummary
        The whole frame counted (the recent events and the batch), as ``evaluate`` would.
    rules : list of Rule
        The rules that can fire on the frame, in registry order (none: nothing to score).
    recent : pyarrow.Table or None
        The recent events those rules read (canonical, in time order, ties by id).
    keys : tuple of int
        Their keys in the store, in the same order.
    judged : tuple of (str, str)
        The calendar's verdict on each attempted change of the batch, by event id.
    """

    history: IdentityHistory
    summary: BatchSummary
    rules: list[Rule]
    recent: pa.Table | None
    keys: tuple[int, ...] = ()
    judged: tuple[tuple[str, str], ...] = ()


def _automation(policy: Policy | None) -> AutomationAllowList | None:
    allow = policy.automation if policy is not None else None
    return allow if allow is not None and allow.entries else None


def _unexpected(
    allow: AutomationAllowList, position: int, call: Call, history: IdentityHistory
) -> bool:
    entry, identity = allow.entries[position], call.identity
    return unexpected_client(
        entry, call.client_family, call.client_version, history.clients.get(identity)
    ) or unexpected_network(
        entry,
        call.source_ip,
        call.network,
        history.networks.get(identity),
        call.asn,
        history.asns.get(identity, frozenset()),
    )


def _batch_calls(light: list[Mapping[str, Any]], times: list[int]) -> list[Call]:
    """Return the batch's own calls (not AWS services'), as the automation rules judge them."""
    return [
        Call(
            str(row["identity_key"]),
            row["principal_arn"],
            row["client_family"],
            row["client_version"],
            row["source_ip"],
            row["network"],
            row["asn"],
            moment,
        )
        for row, moment in zip(light, times, strict=True)
        if not row["by_service"]
    ]


@dataclass(slots=True)
class _Found:
    """Recent rows looked up so far, and why: first events, automation calls."""

    rows: dict[str, StoredRow] = field(default_factory=dict)
    firsts: set[str] = field(default_factory=set)
    automation: set[str] = field(default_factory=set)
    unexpected: int = 0

    def add(self, rows: Iterable[StoredRow], why: set[str] | None = None) -> None:
        for row in rows:
            self.rows[row.event_id] = row
            if why is not None:
                why.add(row.event_id)


def _automation_rows(
    stored: StoredEvents,
    since: int,
    allow: AutomationAllowList,
    history: IdentityHistory,
    batch: list[Call],
    found: _Found,
) -> None:
    """Look up unexpected automation calls and each identity's first call under each entry."""
    firsts: dict[tuple[str, int], int] = {}
    odd: list[Call] = []
    for call in stored.calls(since):
        position = allow.position(call.identity, call.principal_arn)
        if position < 0:
            continue
        key = (call.identity, position)
        firsts[key] = min(firsts.get(key, call.first), call.first)
        if _unexpected(allow, position, call, history):
            odd.append(call)
    unexpected = stored.calls_like(since, odd)
    found.add(unexpected, found.automation)
    found.add(stored.at((k, moment) for (k, _), moment in firsts.items()), found.automation)
    in_batch = 0
    for call in batch:
        position = allow.position(call.identity, call.principal_arn)
        in_batch += position >= 0 and _unexpected(allow, position, call, history)
    found.unexpected = len(unexpected) + in_batch


def read_rule_inputs(
    stored: StoredEvents,
    batch: pa.Table,
    *,
    since: int,
    policy: Policy | None,
    settings: RuleSettings,
    rules: Sequence[Rule] = RULES,
) -> RuleInputs:
    """Read what ``rules`` need to judge ``batch`` (see the module docstring).

    ``since`` (microseconds) is where the frame starts: the older events are history.
    Meant as the reader of :meth:`StateStore.admit_reading`.
    """
    plan = ReadPlan.of(rules)
    history = IdentityHistory.from_digest(stored.digest(since), window=settings.burst_window)
    light = batch.select(list(LIGHT_COLUMNS)).to_pylist()
    times = batch.column("event_time").cast(pa.int64()).to_pylist()
    found = _Found()
    if plan.flags:
        found.add(stored.flagged(since, plan.flags))
    if plan.first_event:
        found.add(stored.at(stored.firsts(since).items()), found.firsts)
    allow = _automation(policy)
    if plan.automation and allow is not None:
        _automation_rows(stored, since, allow, history, _batch_calls(light, times), found)
    ordered = sorted(found.rows.values(), key=lambda r: (r.time, r.event_id))
    frame = [(r.identity, r.time, r.flags) for r in ordered]
    frame += [
        (str(row["identity_key"]), moment, row_flags(row))
        for row, moment in zip(light, times, strict=True)
    ]
    summary = BatchSummary.from_rows(frame)
    context = RuleContext(history, policy, settings)
    judged = _judge_batch(policy, light, times)
    verdicts = _verdicts(policy, ordered, judged)
    flags = (flags for *_, flags in frame)
    firing = may_fire(summary, context, flags, found.unexpected, rules, verdicts=verdicts)
    if (
        policy is not None
        and history.start is not None
        and any(one.reads.routines for one in firing)
    ):  # as RuleContext.build learns them from a history frame
        history = _with_routines(stored, since, history, policy.calendar)
    needed = ReadPlan.of(firing)
    keys = tuple(
        r.key
        for r in ordered
        if r.flags & needed.flags
        or (needed.first_event and r.event_id in found.firsts)
        or (needed.automation and r.event_id in found.automation)
    )
    recent = stored.events(keys) if keys else None
    return RuleInputs(history, summary, firing, recent, keys, tuple(judged.items()))


_LEARNED: Final[WeakKeyDictionary[ChangeCalendar, dict[str, tuple[bytes, Any]]]] = (
    WeakKeyDictionary()
)
"""Per calendar, each identity's routine and the keys of the stored changes it was learned from."""
_LEARNED_IDENTITIES: Final = 4096
"""Identities remembered per calendar at most (the memo starts over beyond)."""


def _with_routines(
    stored: StoredEvents, since: int, history: IdentityHistory, calendar: ChangeCalendar
) -> IdentityHistory:
    """Return ``history.with_routines`` of the stored changes before ``since``.

    An identity's routine depends on its own past changes and the calendar alone
    (:meth:`IdentityHistory.learn`), and a stored row never changes under its key (keys
    are never given again): so each identity's routine is remembered per calendar under
    the keys of the changes it was learned from, and only identities whose keys differ
    (a change aged into the history, a late one arrived, one pruned) are decoded and
    learned again. Identities keep the order of their first change, as in the frame.
    """
    keys: dict[str, list[int]] = {}
    for row in stored.older(since, ATTEMPTED_CHANGE.bit):
        keys.setdefault(row.identity, []).append(row.key)
    packed = {identity: np.asarray(k, dtype=np.int64).tobytes() for identity, k in keys.items()}
    memo = _LEARNED.setdefault(calendar, {})
    known = {identity: memo.get(identity) for identity in keys}
    stale = [i for i, hit in known.items() if hit is None or hit[0] != packed[i]]
    if stale:
        table = stored.events(key for identity in stale for key in keys[identity])
        learned = IdentityHistory.learn(
            table.to_pandas() if table is not None else _NO_CHANGES, calendar
        )
        if len(memo) + len(stale) > _LEARNED_IDENTITIES:
            memo.clear()
        for identity in stale:
            known[identity] = memo[identity] = (packed[identity], learned.get(identity))
    routines = {i: hit[1] for i, hit in known.items() if hit is not None and hit[1] is not None}
    return history.with_learned(routines, keys)


def _judge_batch(
    policy: Policy | None, light: Sequence[Mapping[str, Any]], times: Sequence[int]
) -> dict[str, str]:
    """Return the calendar's verdict on each attempted change of the batch, by event id."""
    if policy is None:
        return {}
    return {
        str(row["event_id"]): policy.calendar.judge(row, moment)[0]
        for row, moment in zip(light, times, strict=True)
        if row_flags(row) & ATTEMPTED_CHANGE.bit
    }


def _verdicts(
    policy: Policy | None, stored: Sequence[StoredRow], judged: Mapping[str, str]
) -> set[str] | None:
    """Return the calendar's verdicts on the frame's attempted changes, if all are known.

    The batch's are judged; the stored ones are those remembered. ``None`` when one is
    not known: a stored change no earlier request judged under this policy
    (:func:`score_with_inputs` remembers them).
    """
    if policy is None:
        return None
    found = set(judged.values())
    for row in stored:
        if row.flags & ATTEMPTED_CHANGE.bit:
            verdict = policy.calendar.recall(row.key)
            if verdict is None:
                return None
            found.add(verdict)
    return found


def may_fire(
    summary: BatchSummary,
    context: RuleContext,
    flags: Iterable[int],
    unexpected: int,
    rules: Sequence[Rule] = RULES,
    *,
    verdicts: set[str] | None = None,
) -> list[Rule]:
    """Return the rules that can find something in a frame with these row classes, in order.

    A rule can when its gate holds and the frame has one of its trigger rows: a row of
    one of its classes or, for the automation rules, an unexpected call; and, for the
    change-window rules, when the frame's attempted changes are known to have
    ``verdicts``, one with a verdict it reports. The others would find nothing.
    """
    present = 0
    for value in flags:
        present |= value
    return [
        one
        for one in rules
        if (one.applies is None or one.applies(summary, context))
        and (present & one.reads.flags or (one.reads.automation and unexpected))
        and (verdicts is None or not one.reads.verdicts or one.reads.verdicts & verdicts)
    ]


def score_with_inputs(
    batch: pa.Table,
    inputs: RuleInputs,
    policy: Policy | None,
    settings: RuleSettings,
    stored: Mapping[str, int] | None = None,
    *,
    scorer: Scorer | None = None,
    windows: WindowSource | None = None,
) -> ScoreResult:
    """Score a batch on what :func:`read_rule_inputs` read: the rules, and the model's windows.

    Gives what :func:`models.scoring.score_events` gives on the whole frame (the batch after
    all its identities' recent events, the older ones as history). Only the rules that
    can fire run, on the events they read; when none can and there is no model, nothing
    is built: no frame, no pandas. ``windows`` gives the model's windows from the hits
    (the service's model states); ``scorer`` names the model. The calendar's verdicts on
    the stored changes it judged are remembered under their keys, and those on the
    batch's changes newly ``stored`` (id -> key).
    """
    if policy is not None and stored and inputs.judged:
        new = [(stored[i], verdict) for i, verdict in inputs.judged if i in stored]
        policy.calendar.remember((k for k, _ in new), (v for _, v in new))
    if not inputs.rules:
        if policy is not None:
            policy.suppressions.log_expired(RuleContext(policy=policy).evaluated_at)
        if windows is None:
            return ScoreResult(events=inputs.summary.rows)
        info = scorer.info() if scorer is not None else None
        rows = batch.num_rows + (inputs.recent.num_rows if inputs.recent is not None else 0)
        return combine_findings(
            partial(_frame, batch, inputs),
            Evaluation(),
            windows([]),
            policy,
            scorer=info,
            scored=rows,
        )
    frame = _frame(batch, inputs)
    result = score_events(
        frame,
        policy,
        scorer,
        inputs.history,
        rule_settings=settings,
        rules=inputs.rules,
        summary=inputs.summary,
        windows=windows,
    )
    if policy is not None and inputs.keys:
        _remember(policy, frame.iloc[: len(inputs.keys)], inputs.keys)
    return result


def _frame(batch: pa.Table, inputs: RuleInputs) -> pd.DataFrame:
    """Return the frame the rules judge: the recent events they read, then the batch."""
    table = batch if inputs.recent is None else pa.concat_tables([inputs.recent, batch])
    frame: pd.DataFrame = table.to_pandas(use_threads=False)  # a few rows: no threads
    return frame


def _remember(policy: Policy, recent: pd.DataFrame, keys: Sequence[int]) -> None:
    """Remember the verdicts of the recent stored attempted changes not remembered yet."""
    calendar = policy.calendar
    mask = ATTEMPTED_CHANGE.mask(recent) & np.fromiter(
        (calendar.recall(key) is None for key in keys), dtype=bool, count=len(keys)
    )
    if mask.any():
        verdicts = policy.calendar.verdict_columns(recent[mask])[0].tolist()
        policy.calendar.remember(compress(keys, mask), verdicts)
