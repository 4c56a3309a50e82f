"""From request records to the answer of ``POST /v1/score``, through :func:`serving.score_events`.

The service adds what a single batch lacks: the identities' recent events from the
state store. Events within the rules' horizon before the batch are scored with it
(so a burst or a snapshot-to-instance chain spread over requests is seen), older
ones are the history; hits, windows and findings that touch none of the request's
events were reported before and are left out.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features import Normalizer, RecordRejected, looks_like_records, records_to_table
from models.scoring import (
    DetectorScorer,
    Finding,
    Hit,
    ModelWindows,
    RuleSettings,
    ScoreResult,
    WindowScore,
    lean,
    score_events,
)
from serving._model_holder import LoadedModel
from serving._model_states import FRAME_HORIZON, ModelRead, read_model_inputs
from serving._rule_inputs import RuleInputs, read_rule_inputs, score_with_inputs
from serving._state import StateStore
from serving._stored_events import StoredEvents
from serving._verdicts import Recorder
from serving.api.metrics import Metrics
from serving.api.schemas import (
    EventHits,
    ExplanationPublic,
    IgnoredByModel,
    RejectedRecord,
    RuleFailure,
    RuleHitPublic,
    ScorePublic,
    WindowScorePublic,
)

__all__ = ["extract_records", "score_records", "window_public"]

logger = logging.getLogger(__name__)

_RULES = RuleSettings()
_HORIZON: Final = FRAME_HORIZON
"""Stored events this close before a batch are scored with it."""
_US: Final = timedelta(microseconds=1)
_ECHOED: Final = ("event_id", "identity_key", "event_name", "event_time")
"""Columns of each event the answer repeats."""


@dataclass(slots=True)
class _NotAfter(Normalizer):
    """A request's normaliser: an event dated after ``latest_us`` is a rejected record.

    The state keeps each identity's newest events, so events dated in the future would
    evict its real history; the store refuses them too (``StateStore.max_future``).
    """

    latest_us: int = 0
    ahead: timedelta = timedelta(0)
    future: int = 0

    def __call__(self, raw: Any) -> Any:
        row = Normalizer.__call__(self, raw)
        if row[1] > self.latest_us:
            self.future += 1
            moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=row[1])
            clock = datetime.now(UTC).isoformat(timespec="seconds")
            raise RecordRejected(
                "eventTime",
                f"{moment.isoformat()} is more than {self.ahead} after the server's clock"
                f" ({clock}): not scored, not stored",
            )
        return row


def extract_records(body: Any) -> list[Any]:
    """Return the records of a request.

    ``{"Records": [...]}`` (CloudTrail), ``{"records": [...]}`` (Azure Event Hubs), a JSON
    array, or one record of any format the readers know (an EventBridge envelope, a
    CloudTrail, Azure, Google Cloud or OCSF record, a Pub/Sub push request).

    Raises
    ------
    ValueError
        When the body is none of these.
    """
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("Records", "records"):
            if key in body:
                records = body[key]
                if not isinstance(records, list):
                    raise ValueError(f"{key!r} must be an array, got {type(records).__name__}")
                return records
        if "detail-type" in body or "eventName" in body or looks_like_records(body.keys()):
            return [body]
        raise ValueError(
            "expected {'Records': [...]}, {'records': [...]}, an array, or one record "
            "(CloudTrail, EventBridge, Azure, Google Cloud, OCSF)"
        )
    raise ValueError(f"expected a JSON object or array, got {type(body).__name__}")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def window_public(window: WindowScore) -> WindowScorePublic:
    """Return a detector window as the API shows it."""
    return WindowScorePublic(
        identity=window.identity,
        window_start=window.window_start,
        window_end=window.window_end,
        score=None if window.cold_start else _finite(window.score),
        percentile=None if window.cold_start else window.percentile,
        cold_start=window.cold_start,
        explanations=[
            ExplanationPublic(
                feature=e.feature, value=_finite(e.value), usual=_finite(e.usual), text=e.text
            )
            for e in window.explanations
        ],
        event_ids=list(window.event_ids),
    )


def _ignored_public(result: ScoreResult, ids: set[str]) -> IgnoredByModel | None:
    """Return how many of the request's events (``ids``) the model left out, and why."""
    if result.ignored is None:
        return None
    count = sum(1 for event_id in result.ignored.event_ids if event_id in ids)
    return IgnoredByModel(events=count, reason=result.ignored.reason) if count else None


def _hit_public(hit: Hit) -> RuleHitPublic:
    return RuleHitPublic(
        rule_id=hit.rule_id,
        severity=hit.severity,
        technique=hit.technique,
        runbook=hit.runbook,
        identity=hit.identity,
        start=hit.start,
        end=hit.end,
        reason=hit.reason,
        event_ids=list(hit.event_ids),
    )


def _split(history: pa.Table | None, batch: pa.Table, horizon: timedelta) -> Any:
    """Return the frame to score (recent history, then the batch) and the older history.

    Events at or after ``horizon`` before the batch's first event are scored with it;
    the rest are the rules' history. Done on Arrow, so that each part is converted
    to pandas once.
    """
    if history is None or not history.num_rows:
        return batch.to_pandas(), None
    first = pc.min(batch.column("event_time")).as_py()
    cut = pa.scalar(first - horizon, type=history.schema.field("event_time").type)
    recent = pc.greater_equal(history.column("event_time"), cut)
    frame = pa.concat_tables([history.filter(recent), batch]).to_pandas()
    older = history.filter(pc.invert(recent))
    return frame, (older.to_pandas() if older.num_rows else None)


def _touches(ids: Sequence[str], batch: set[str]) -> bool:
    return any(i in batch for i in ids)


def concerns_request(
    event_ids: Sequence[str],
    identity: str,
    start: datetime,
    end: datetime,
    ids: set[str],
    times: Mapping[str, Sequence[datetime]],
) -> bool:
    """Whether a hit, window or finding is about this request's events.

    Either it names one of them, or one of them is the same identity's and falls in its
    time span: evidence lists are capped (``RuleSettings.max_evidence``), so a long
    session's hit may not name the request's event although it covers it.
    """
    if _touches(event_ids, ids):
        return True
    return any(start <= moment <= end for moment in times.get(identity, ()))


def _score(frame: pd.DataFrame, store: StateStore, model: LoadedModel, past: Any) -> Any:
    """Score the whole frame (the reference path): the model measures each identity apart."""
    policy = store.policy()
    scorer = model.scorer
    if scorer is None:
        return score_events(frame, policy, None, past), model.reason
    windows = None
    if isinstance(scorer, DetectorScorer):
        windows = partial(_identities, scorer, frame, past)
    try:
        return score_events(frame, policy, scorer, past, windows=windows), None
    except Exception as error:
        logger.exception("model %s failed on a batch; scored with the rules alone", model.uri)
        return score_events(frame, policy, None, past), f"rules only: the model failed: {error!r}"


def _identities(
    scorer: DetectorScorer, frame: pd.DataFrame, past: pd.DataFrame | None, hits: Any
) -> ModelWindows:
    return ModelWindows(scorer.score_identities(frame, past), ignored=scorer.ignored(frame))


def _rules_only(batch: pa.Table, store: StateStore) -> tuple[ScoreResult, frozenset[str]]:
    """Admit and score with the rules alone, reading only the stored events they read."""
    policy = store.policy()
    if not batch.num_rows:
        return score_events(batch.to_pandas(), policy), frozenset()
    first: int = pc.min(batch.column("event_time")).cast(pa.int64()).as_py()
    reader = partial(
        read_rule_inputs,
        batch=batch,
        since=first - _HORIZON // _US,
        policy=policy,
        settings=_RULES,
    )
    changes = bool(pc.any(batch.column("is_compute_change")).as_py())
    admitted = store.admit_reading(batch, reader, keys=changes)
    result = score_with_inputs(batch, admitted.read, policy, _RULES, admitted.keys)
    return result, admitted.seen


def _with_model(
    batch: pa.Table, store: StateStore, model: LoadedModel, scorer: DetectorScorer
) -> tuple[ScoreResult, frozenset[str], str | None]:
    """Admit and score with the rules and the model's state of each identity (ADR 0032).

    The rules read what they read (as :func:`_rules_only`); the model's windows come from
    each identity's :class:`~models.scoring.IdentityState`, which the admission brings up
    to date with what other processes stored, or rebuilds from the store.
    """
    policy = store.policy()
    first: int = pc.min(batch.column("event_time")).cast(pa.int64()).as_py()
    since = first - _HORIZON // _US
    identities = sorted(set(batch.column("identity_key").to_pylist()))
    states = model.states
    with states.locked(identities):
        held = states.held(scorer, identities)

        def reader(stored: StoredEvents) -> tuple[RuleInputs, ModelRead]:
            rules = read_rule_inputs(stored, batch, since=since, policy=policy, settings=_RULES)
            return rules, read_model_inputs(stored, scorer, held, since=since * 1000)

        admitted = store.admit_reading(batch, reader, keys=True)
        rules, read = admitted.read
        frame = lean(batch)
        windows = partial(states.windows, scorer, frame, read, admitted.keys, since=since * 1000)
        try:
            result = score_with_inputs(
                batch, rules, policy, _RULES, admitted.keys, scorer=scorer, windows=windows
            )
            return result, admitted.seen, None
        except Exception as error:
            logger.exception("model %s failed on a batch; scored with the rules alone", model.uri)
            states.forget(identities)
            reason = f"rules only: the model failed: {error!r}"
    result = score_with_inputs(batch, rules, policy, _RULES, admitted.keys)
    return result, admitted.seen, reason


def score_records(
    records: list[Any],
    store: StateStore,
    model: LoadedModel,
    metrics: Metrics,
    *,
    trim: bool = True,
    recorder: Recorder | None = None,
) -> ScorePublic:
    """Normalise, admit to the state, score with the shared scoring function, and answer.

    Only the stored events the rules read are read (``serving._rule_inputs``, ADR 0017);
    with a model, its windows come from the identities' model states (ADR 0032).
    ``trim=False`` reads every stored event of the batch's identities and scores the
    whole frame, the reference both are held to: it gives the same answer.
    """
    normalizer = _NotAfter(latest_us=store.latest_us(), ahead=store.max_future)
    normalised = records_to_table(records, normalizer=normalizer)
    batch = normalised.table
    result: ScoreResult
    if model.scorer is None and trim:
        (result, seen), reason = _rules_only(batch, store), model.reason
    elif isinstance(model.scorer, DetectorScorer) and trim and batch.num_rows:
        result, seen, reason = _with_model(batch, store, model, model.scorer)
    else:
        admission = store.admit(batch)
        seen = admission.seen
        frame, past = _split(admission.rows, batch, _HORIZON)
        result, reason = _score(frame, store, model, past)
    columns = {n: batch.column(n).to_pylist() for n in _ECHOED}
    ids = set(columns["event_id"])
    times: dict[str, list[datetime]] = {}
    for identity, moment in zip(columns["identity_key"], columns["event_time"], strict=True):
        times.setdefault(identity, []).append(moment)
    hits = [
        h
        for h in result.hits
        if concerns_request(h.event_ids, h.identity, h.start, h.end, ids, times)
    ]
    windows = [w for w in result.windows if _touches(w.event_ids, ids)]
    findings: list[Finding] = [
        f
        for f in result.findings
        if concerns_request(f.event_ids, f.identity, f.window_start, f.window_end, ids, times)
        or any(_touches(h.event_ids, ids) for h in f.hits)
    ]
    fired: dict[str, list[str]] = {}
    for hit in hits:
        for event_id in hit.event_ids:
            fired.setdefault(event_id, []).append(hit.rule_id)
    if recorder is not None:  # the findings book (issue 19)
        names = dict(zip(columns["event_id"], columns["event_name"], strict=True))
        recorder.record(result, findings, source="api", event_names=names)
    already_seen = len(seen)
    metrics.count_once(batch.num_rows - already_seen, findings, ids - seen)
    metrics.count_rejected(len(normalised.rejections), future=normalizer.future)
    logger.info(
        "scored %d events (%d rejected, %d seen before): %d hits, %d findings",
        batch.num_rows,
        len(normalised.rejections),
        already_seen,
        len(hits),
        len(findings),
    )
    return ScorePublic(
        degraded=reason is not None,
        degraded_reason=reason,
        model=str(result.scorer) if result.scorer and reason is None else None,
        records=len(records),
        scored=batch.num_rows,
        duplicates=normalised.duplicates,
        already_seen=already_seen,
        rejected=[
            RejectedRecord(position=r.position, field=r.field, reason=r.reason)
            for r in normalised.rejections
        ],
        hits=[_hit_public(h) for h in hits],
        events=[
            EventHits(
                event_id=i, identity=k, event_name=n, event_time=t, rules=sorted(fired.get(i, []))
            )
            for i, k, n, t in zip(*(columns[n] for n in _ECHOED), strict=True)
        ],
        windows=[window_public(w) for w in windows],
        ignored_by_model=_ignored_public(result, ids),
        findings=findings,
        suppressed=len(result.suppressed),
        rules_failed=[RuleFailure(rule_id=r, error=e) for r, e in result.failed],
    )
