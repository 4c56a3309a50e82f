"""Stored findings and analysts' verdicts: ``/v1/findings`` and ``/v1/policy``.

Every finding ``POST /v1/score`` returns is kept (``serving._findings_book``); a verdict
resolves it, and a benign one may ask for a narrow, expiring suppression, on at once
or in dry-run. ``GET /v1/policy`` shows each suppression with what it silenced and
what it would have silenced, and each automation entry with the hits it would have
raised in dry-run; ``/metrics`` counts the same.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from features import ConfigurationError, InputError
from models.scoring import Severity, SuppressionSpec, severity_rank
from serving._findings_book import FindingsBook, StoredFinding
from serving._state import StateStore
from serving._verdicts import Recorder, suppression_bodies
from serving.api import findings_schemas as f
from serving.api.deps import AdminKey, StateDep, triage_key
from serving.api.metrics import Metrics
from serving.api.problems import problem_responses
from serving.api.security import ApiKey

__all__ = ["install", "router"]

router = APIRouter(prefix="/v1", tags=["findings"])
TriageKey = Annotated[ApiKey, Depends(triage_key)]

_ERRORS: Final = problem_responses(
    400, 401, 403, 422, _403="The key lacks the `triage` (or `admin`) scope."
)
_MISSING: Final = problem_responses(
    400,
    401,
    403,
    404,
    422,
    _403="The key lacks the `triage` (or `admin`) scope.",
    _404="No finding of that id.",
)


class _AuditCollector(Collector):
    """Reads the suppression audit at scrape time, so every worker reports the same totals."""

    def __init__(self, book: FindingsBook) -> None:
        self._book = book

    def collect(self) -> Iterator[Any]:
        counts = self._book.audit_counts()
        hits = CounterMetricFamily(
            "changewatch_suppressed_hits",
            "Rule hits a suppression dropped (silenced) or, in dry-run, would have (rehearsed)",
            labels=["suppression", "mode"],
        )
        armed = CounterMetricFamily(
            "changewatch_automation_dry_run_hits",
            "Automation.* hits a dry-run automation entry would have raised",
            labels=["automation"],
        )
        for (name, mode), n in sorted(counts.items()):
            if mode == "armed":
                armed.add_metric([name], n)
            else:
                hits.add_metric([name, mode], n)
        yield hits
        yield armed
        statuses = GaugeMetricFamily(
            "changewatch_findings_stored", "Stored findings by status", labels=["status"]
        )
        for name, n in sorted(self._book.status_counts().items()):
            statuses.add_metric([name], n)
        yield statuses


def install(app: FastAPI, store: StateStore, metrics: Metrics) -> Recorder:
    """Open the findings book in the state database and add its routes and metrics.

    The book is opened again when the app starts and closed when it stops, around the
    app's own lifespan.
    """
    recorder = Recorder(FindingsBook(store.path), store)
    app.state.findings = recorder
    metrics.registry.register(_AuditCollector(recorder.book))
    app.include_router(router)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        recorder.book.open()
        try:
            async with inner(application) as state:
                yield state
        finally:
            recorder.book.close()

    app.router.lifespan_context = lifespan
    return recorder


def _recorder(request: Request) -> Recorder:
    recorder: Recorder = request.app.state.findings
    return recorder


RecorderDep = Annotated[Recorder, Depends(_recorder)]


def _cursor(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    try:
        start, _, finding_id = base64.urlsafe_b64decode(text.encode()).decode().partition(" ")
        return int(start), finding_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        bad = f"cursor: not a cursor: {text!r}"
        raise HTTPException(status.HTTP_400_BAD_REQUEST, bad) from None


def _public(stored: StoredFinding, book: FindingsBook | None = None) -> f.FindingRecordPublic:
    silenced = []
    if book is not None:
        for name in stored.suppressions:
            rows = [row for row in book.audit_rows(name) if row.mode != "armed"]
            silenced += [f.AuditPublic(**vars_of(row)) for row in rows]
    return f.FindingRecordPublic(
        finding=stored.finding,
        status=stored.status,  # type: ignore[arg-type]
        resolution=stored.resolution,  # type: ignore[arg-type]
        note=stored.note,
        verdict_by=stored.verdict_by,
        verdict_at=stored.verdict_at,
        suppressions=stored.suppressions,
        silenced=silenced,
        first_seen=stored.first_seen,
        last_seen=stored.last_seen,
        source=stored.source,
    )


def vars_of(row: Any) -> dict[str, Any]:
    """Return the fields of a slotted dataclass row as a dict."""
    return {name: getattr(row, name) for name in row.__slots__}


@router.get(
    "/findings",
    response_model=f.FindingRecordsPublic,
    responses=_ERRORS,
    operation_id="listFindings",
)
def list_findings(
    _: TriageKey,
    recorder: RecorderDep,
    status_: Annotated[
        str | None, Query(alias="status", pattern="^(new|in_progress|suppressed|resolved)$")
    ] = None,
    severity: Annotated[Severity | None, Query(description="This severity and above.")] = None,
    identity: str | None = None,
    since: Annotated[datetime | None, Query(description="Window start at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Window start before.")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> f.FindingRecordsPublic:
    """List stored findings, oldest window first; filters combine; page with ``cursor``."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name}: give a time zone, e.g. Z"
            )
    rows, after = recorder.book.page(
        status=status_,
        min_severity=None if severity is None else severity_rank(severity),
        identity=identity,
        since=since,
        until=until,
        after=_cursor(cursor),
        limit=limit,
    )
    token = None
    if after is not None:
        token = base64.urlsafe_b64encode(f"{after[0]} {after[1]}".encode()).decode()
    return f.FindingRecordsPublic(
        data=[_public(r) for r in rows], count=len(rows), next_cursor=token
    )


def _get(recorder: Recorder, finding_id: str) -> StoredFinding:
    stored = recorder.book.get(finding_id)
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no finding {finding_id!r}")
    return stored


@router.get(
    "/findings/{finding_id}",
    response_model=f.FindingRecordPublic,
    responses=_MISSING,
    operation_id="getFinding",
)
def read_finding(finding_id: str, _: TriageKey, recorder: RecorderDep) -> f.FindingRecordPublic:
    """Read one stored finding, its verdict, and the hits its suppressions silenced since."""
    return _public(_get(recorder, finding_id), recorder.book)


@router.post(
    "/findings/{finding_id}/status",
    response_model=f.FindingRecordPublic,
    responses=_MISSING,
    operation_id="setFindingStatus",
)
def set_status(
    finding_id: str, body: f.StatusCreate, _: TriageKey, recorder: RecorderDep
) -> f.FindingRecordPublic:
    """Take a finding in hand (``in_progress``) or give it back (``new``)."""
    stored = recorder.book.set_status(finding_id, body.status)
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no finding {finding_id!r}")
    return _public(stored)


@router.post(
    "/findings/{finding_id}/verdict",
    response_model=f.VerdictPublic,
    responses=_MISSING | problem_responses(422, _422="A suppression that cannot be made."),
    operation_id="giveVerdict",
)
def give_verdict(
    finding_id: str,
    body: f.VerdictCreate,
    key: TriageKey,
    recorder: RecorderDep,
    store: StateDep,
) -> f.VerdictPublic:
    """Resolve a finding; a benign one may ask for a suppression (``suppress``, expiry required).

    The suppression covers the finding's rules for its identity (and, as asked, its
    actions, account or region) until ``now + for``; its owner is the key's name and
    its reason the note. With ``dry_run`` it only counts what it would silence.
    """
    stored = _get(recorder, finding_id)
    created: list[str] = []
    if body.suppress is not None:
        if body.verdict != "benign":
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"suppress: only a benign finding may be suppressed, not a {body.verdict} one",
            )
        try:
            items = suppression_bodies(
                stored,
                scope=body.suppress.scope,
                duration=body.suppress.for_,
                note=body.note,
                owner=key.name,
                dry_run=body.suppress.dry_run,
                now=datetime.now(UTC),
            )
            store.put_objects([("suppression", name, item) for name, item in items])
        except (InputError, ConfigurationError) as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
        created = [name for name, _ in items]
    on = body.suppress is not None and not body.suppress.dry_run
    after = recorder.book.set_verdict(
        finding_id,
        resolution=body.verdict,
        note=body.note,
        by=key.name,
        suppressions=created,
        status="suppressed" if on else "resolved",
    )
    return f.VerdictPublic(finding=_public(after, recorder.book), created_suppressions=created)


@router.get(
    "/policy",
    response_model=f.PolicyOverviewPublic,
    responses=_ERRORS,
    tags=["policy"],
    operation_id="getPolicyOverview",
)
def policy_overview(_: AdminKey, recorder: RecorderDep, store: StateDep) -> f.PolicyOverviewPublic:
    """Every suppression and automation entry (on or dry-run), with what it did or would have."""
    counts = recorder.book.audit_counts()
    now = datetime.now(UTC)
    rows = []
    for stored in store.list_objects("suppression"):
        spec = SuppressionSpec.model_validate(stored.body)
        rows.append(
            f.SuppressionOverview(
                id=stored.name,
                rule=spec.rule,
                identities=list(spec.scope.identities),
                owner=spec.owner,
                reason=spec.reason,
                expires=spec.expires,
                expired=spec.expires <= now,
                dry_run=spec.dry_run,
                silenced=counts.get((stored.name, "silenced"), 0),
                would_silence=counts.get((stored.name, "rehearsed"), 0),
            )
        )
    automation = [
        {
            "name": o.name,
            "dry_run": False,
            **o.body,
            "would_raise": counts.get((o.name, "armed"), 0),
        }
        for o in store.list_objects("automation")
    ]
    return f.PolicyOverviewPublic(
        suppressions=rows, automation=automation, findings_by_status=recorder.book.status_counts()
    )
