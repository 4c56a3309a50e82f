"""From an analyst's verdict to narrow, expiring suppressions; from a scoring run to the book.

A benign verdict may ask for a suppression: one per rule of the finding, scoped to
the finding's identity and, as asked, its actions, account or region (never wider),
owned by the API key that asked, with the verdict's note as its reason and an expiry
no later than :data:`MAX_SUPPRESSION` ahead. :class:`Recorder` keeps what a scoring run
returned in the :class:`~serving._findings_book.FindingsBook`, and which suppression
dropped (or, in dry-run, would have dropped) which hit.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import orjson

from features import InputError
from models.scoring import Finding, Hit, ScoreResult, SuppressionSpec
from serving._findings_book import FindingsBook, StoredFinding
from serving._state import StateStore

__all__ = ["MAX_SUPPRESSION", "SCOPES", "Recorder", "suppression_bodies"]

logger = logging.getLogger(__name__)

SCOPES: Final = ("identity", "identity+action", "identity+account", "identity+region")
"""How wide a verdict's suppression may be: always the identity, and at most one more key."""
MAX_SUPPRESSION: Final = timedelta(days=90)
"""The longest a verdict may suppress a rule for."""


def _literal(value: str) -> str:
    """Return an ``fnmatch`` pattern that matches ``value`` only."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in value)


def _narrowing(stored: StoredFinding, rule_id: str, scope: str) -> dict[str, list[str]]:
    finding = stored.finding
    if scope == "identity+account":
        if not finding.account_id:
            raise InputError(f"finding {finding.finding_id}: no account to scope to")
        return {"accounts": [finding.account_id]}
    if scope == "identity+region":
        if not finding.regions:
            raise InputError(f"finding {finding.finding_id}: no region to scope to")
        return {"regions": [_literal(r) for r in finding.regions]}
    if scope == "identity+action":
        ids = [i for h in finding.hits if h.rule_id == rule_id for i in h.event_ids]
        names = sorted({stored.event_names[i] for i in ids if i in stored.event_names})
        if not names:
            raise InputError(
                f"finding {finding.finding_id}: the names of the events of {rule_id} are not "
                "known (they were not scored here); use the scope 'identity'"
            )
        return {"actions": [_literal(n) for n in names]}
    return {}


def suppression_bodies(
    stored: StoredFinding,
    *,
    scope: str,
    duration: timedelta,
    note: str | None,
    owner: str,
    dry_run: bool,
    now: datetime,
) -> list[tuple[str, dict[str, Any]]]:
    """Return ``(name, body)`` of the suppressions a benign verdict asks for, one per rule.

    Raises
    ------
    InputError
        Naming the field: an unknown scope, no note, a duration that is not positive
        or over :data:`MAX_SUPPRESSION`, a finding without rule hits.
    """
    finding = stored.finding
    if scope not in SCOPES:
        raise InputError(f"suppress.scope: expected one of {', '.join(SCOPES)}, got {scope!r}")
    if not note or not note.strip():
        raise InputError("note: a suppression needs a note (it is the suppression's reason)")
    if duration <= timedelta(0) or duration > MAX_SUPPRESSION:
        raise InputError(
            f"suppress.for: expected a duration up to {MAX_SUPPRESSION.days} days, got {duration}"
        )
    if not finding.rules:
        raise InputError(f"finding {finding.finding_id}: no rule hits, nothing to suppress")
    bodies = []
    for rule_id in finding.rules:
        body: dict[str, Any] = {
            "rule": _literal(rule_id),
            "scope": {"identities": [_literal(finding.identity)]}
            | _narrowing(stored, rule_id, scope),
            "reason": note.strip(),
            "owner": owner,
            "expires": (now + duration).isoformat(),
            "dry_run": dry_run,
        }
        body = SuppressionSpec.model_validate(body).model_dump(mode="json", exclude_none=True)
        digest = hashlib.sha256(f"{finding.finding_id} {rule_id}".encode()).hexdigest()[:12]
        bodies.append((f"v-{digest}", body))
    return bodies


def _key(spec: SuppressionSpec | Mapping[str, Any]) -> bytes:
    body = spec if isinstance(spec, Mapping) else spec.model_dump(mode="json", exclude_none=True)
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


class Recorder:
    """Keeps what scoring returned in the book, and which suppression dropped which hit."""

    def __init__(self, book: FindingsBook, store: StateStore | None = None) -> None:
        self.book = book
        self._store = store
        self._names: tuple[int, dict[bytes, str]] | None = None
        self._lock = threading.Lock()

    def _name_of(self, spec: SuppressionSpec) -> str:
        if self._store is None:
            return hashlib.sha256(_key(spec)).hexdigest()[:12]
        version = self._store.version("policy")
        with self._lock:
            if self._names is None or self._names[0] != version:
                stored = self._store.list_objects("suppression")
                self._names = (version, {_key(o.body): o.name for o in stored})
            names = self._names[1]
        return names.get(_key(spec), hashlib.sha256(_key(spec)).hexdigest()[:12])

    def record(
        self,
        result: ScoreResult,
        findings: Iterable[Finding],
        *,
        source: str,
        event_names: Mapping[str, str] | None = None,
    ) -> dict[str, int]:
        """Keep the findings and the audit of one scoring run; return the counts.

        The audit names the suppression that dropped (``silenced``) or would have
        dropped (``rehearsed``) each hit, and the dry-run automation entry that would
        have raised each ``armed`` one.
        """
        kept = self.book.record(findings, source=source, event_names=event_names)
        pairs: dict[str, list[tuple[Hit, str]]] = {"silenced": [], "rehearsed": []}
        for mode, hits in (("silenced", result.suppressed), ("rehearsed", result.rehearsed)):
            pairs[mode] = [(hit, self._name_of(spec)) for hit, spec in hits]
        silenced = self.book.audit("silenced", pairs["silenced"])
        rehearsed = self.book.audit("rehearsed", pairs["rehearsed"])
        armed = self.book.audit("armed", [(hit, entry.name) for hit, entry in result.armed])
        return {"findings": kept, "silenced": silenced, "rehearsed": rehearsed, "armed": armed}
