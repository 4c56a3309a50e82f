"""What a rule is and what it returns.

A rule is a pure function ``(events, context) -> Iterable[Evidence]`` wrapped by
:func:`rule` into a :class:`Rule` that carries its metadata (id, severity, ATT&CK
technique, runbook line) and turns each piece of evidence into a :class:`Hit`.
``events`` is one batch of canonical events sorted by time; the function must not
change it or the context.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from features import ATTEMPTED_CHANGE
from models.scoring._calendar import event_micros
from models.scoring._rules._reads import DRY_RUN, Reads

if TYPE_CHECKING:
    from models.scoring._rules._context import RuleContext
    from models.scoring._rules._summary import BatchSummary

__all__ = [
    "DRY_RUN",
    "Evidence",
    "Hit",
    "Rule",
    "RuleFunction",
    "RuleGate",
    "Severity",
    "at_most",
    "attempted_changes",
    "attempted_mask",
    "describe_names",
    "evidence_of",
    "failed_note",
    "identity_sessions",
    "ids_named",
    "listed",
    "rule",
    "session_records",
    "session_spans",
    "session_table",
    "shifted",
    "take_columns",
    "to_datetime",
]


class Severity(StrEnum):
    """How urgently a SOC should look at a hit."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def shifted(severity: Severity | str, steps: int) -> Severity:
    """Return ``severity`` moved ``steps`` levels, kept between info and critical."""
    levels = tuple(Severity)
    index = levels.index(Severity(severity)) + steps
    return levels[min(max(index, 0), len(levels) - 1)]


def at_most(severity: Severity | str, ceiling: Severity) -> Severity:
    """Return the lower of ``severity`` and ``ceiling``."""
    levels = tuple(Severity)
    return min(Severity(severity), ceiling, key=levels.index)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a rule function found: the events, whose they are, when, and why it matters.

    ``severity``, when given, is this hit's severity instead of the rule's (a rule that
    weighs what it found against the identity's past: a routine change is context).
    """

    event_ids: tuple[str, ...]
    identity: str
    start: datetime
    end: datetime
    reason: str
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One finding of one rule, with the rule's metadata."""

    rule_id: str
    severity: Severity
    technique: str
    runbook: str
    event_ids: tuple[str, ...]
    identity: str
    start: datetime
    end: datetime
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the hit as JSON-ready values."""
        return {
            "rule_id": self.rule_id,
            "severity": str(self.severity),
            "technique": self.technique,
            "runbook": self.runbook,
            "event_ids": list(self.event_ids),
            "identity": self.identity,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "reason": self.reason,
        }


_READS_ALL: Final = Reads()

RuleFunction = Callable[[pd.DataFrame, "RuleContext"], Iterable[Evidence]]
RuleGate = Callable[["BatchSummary", "RuleContext"], bool]


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule function and its metadata.

    Attributes
    ----------
    id : str
        ``Family.Name``, e.g. ``ChangeWindow.OutsideApproved``.
    title : str
        What the rule detects, in one line.
    severity : Severity
        Severity of a hit, unless its evidence says otherwise (``Evidence.severity``).
    technique : str
        MITRE ATT&CK technique id, e.g. ``T1537``.
    runbook : str
        The first thing an analyst should do, in one line.
    function : RuleFunction
        The pure detection function.
    applies : RuleGate or None
        A cheap necessary condition on the batch's :class:`BatchSummary`: when it is
        false the function would yield nothing, so :func:`evaluate` skips the rule.
        ``None`` means the rule always runs.
    reads : Reads
        The rows the function reads (:mod:`models.scoring._rules._reads`); the service reads
        no other stored events for it. The default reads every event.
    kept_when_approved : bool
        The rule means exfiltration, destruction or stolen credentials (public or foreign
        sharing, EBS direct reads, mass deletion, automation calling from elsewhere): its
        hits keep their severity inside an approved window or ticket. Other hits of a
        finding whose changes are all approved drop to low (ADR 0021).
    """

    id: str
    title: str
    severity: Severity
    technique: str
    runbook: str
    function: RuleFunction
    applies: RuleGate | None = None
    reads: Reads = _READS_ALL
    kept_when_approved: bool = False

    def __call__(self, events: pd.DataFrame, context: RuleContext) -> list[Hit]:
        """Run the rule over one batch and return its hits."""
        return [
            Hit(
                self.id,
                found.severity or self.severity,
                self.technique,
                self.runbook,
                found.event_ids,
                found.identity,
                found.start,
                found.end,
                found.reason,
            )
            for found in self.function(events, context)
        ]


def rule(
    *,
    id: str,
    title: str,
    severity: Severity,
    technique: str,
    runbook: str,
    applies: RuleGate | None = None,
    reads: Reads | None = None,
    kept_when_approved: bool = False,
) -> Callable[[RuleFunction], Rule]:
    """Turn a detection function into a :class:`Rule` with the given metadata, gate and reads."""

    def wrap(function: RuleFunction) -> Rule:
        return Rule(
            id,
            title,
            severity,
            technique,
            runbook,
            function,
            applies,
            reads or Reads(),
            kept_when_approved,
        )

    return wrap


def to_datetime(value: Any) -> datetime:
    """Return a pandas or numpy time as an aware ``datetime`` in UTC."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    result: datetime = stamp.tz_convert("UTC").to_pydatetime()
    return result


def attempted_changes(events: pd.DataFrame) -> pd.DataFrame:
    """Return the compute changes of a batch that were attempted (failed ones included).

    Dry runs are left out, and so are calls AWS services make on their own (Auto
    Scaling launching instances, for example): ``features.ATTEMPTED_CHANGE``.
    """
    return events[attempted_mask(events)]


def take_columns(
    events: pd.DataFrame, rows: npt.NDArray[np.intp], columns: Sequence[str]
) -> pd.DataFrame:
    """Return ``columns`` of the rows at positions ``rows``, in one copy (index kept).

    What ``events.loc[mask, columns]`` gives, without pandas' label lookups: rules copy the
    few columns they read of the rows they report. A missing column raises ``KeyError``.
    """
    found = events.columns.get_indexer(pd.Index(columns))
    if (found < 0).any():
        missing = [c for c, at in zip(columns, found, strict=True) if at < 0]
        raise KeyError(f"missing columns: {missing}")
    return events.iloc[rows, found]


def attempted_mask(events: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Return the rows :func:`attempted_changes` keeps, as a boolean array (one per row)."""
    return ATTEMPTED_CHANGE.mask(events)


def evidence_of(
    group: pd.DataFrame,
    identity: str,
    reason: str,
    *,
    limit: int,
    severity: Severity | None = None,
) -> Evidence:
    """Build evidence from a time-sorted group of events, naming at most ``limit`` event ids."""
    ids: Sequence[str] = group["event_id"].tolist()
    return Evidence(
        tuple(ids[:limit]),
        identity,
        to_datetime(group["event_time"].iloc[0]),
        to_datetime(group["event_time"].iloc[-1]),
        reason,
        severity,
    )


def session_spans(
    rows: pd.DataFrame, keys: Sequence[str], gap: timedelta
) -> list[tuple[tuple[Any, ...], npt.NDArray[np.intp]]]:
    """Split rows (sorted by time) per ``keys`` into runs no further apart than ``gap``.

    Returns ``(key values, row positions)`` per run, in the order nested
    ``groupby(key, sort=False)`` calls, one per key, then a split at every pause over
    ``gap``, would give them: outer groups in order of first appearance, inner ones in
    order of first appearance within theirs, runs in time order. Rows with a missing key
    belong to no run. One ``lexsort`` whatever the count of groups: rules only build a
    frame for the runs they report (:func:`identity_sessions` builds one per run).
    """
    count = len(rows)
    if not count or not keys:
        return []
    valid = np.ones(count, dtype=bool)
    levels: list[npt.NDArray[np.intp]] = []
    combined = np.zeros(count, dtype=np.int64)
    for key in keys:
        codes, uniques = pd.factorize(rows[key].to_numpy(dtype=object), sort=False)
        valid &= codes >= 0
        # an inner group is numbered by its first appearance among all rows: within its
        # outer group that is the order an inner groupby meets it
        combined = pd.factorize(combined * (len(uniques) + 1) + codes, sort=False)[0]
        levels.append(combined)
    positions = np.flatnonzero(valid)
    if not len(positions):
        return []
    order = positions[np.lexsort((positions, *(level[positions] for level in reversed(levels))))]
    group = levels[-1][order]
    times = event_micros(rows)[order]
    known = times != np.iinfo(np.int64).min  # NaT: no pause before or after it, as diff says
    pause = (np.diff(times) > gap // timedelta(microseconds=1)) & known[1:] & known[:-1]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (group[1:] != group[:-1]) | pause
    starts = np.flatnonzero(new)
    columns = [rows[key].to_numpy(dtype=object) for key in keys]
    return [
        (tuple(column[order[start]] for column in columns), run)
        for start, run in zip(starts.tolist(), np.split(order, starts[1:]), strict=True)
    ]


def identity_sessions(rows: pd.DataFrame, gap: timedelta) -> Iterator[tuple[str, pd.DataFrame]]:
    """Yield each identity's runs of ``rows`` (sorted by time) no further apart than ``gap``.

    Identities in order of first appearance, each one's runs in time order
    (:func:`session_spans`); each run is a frame of its rows, index kept.
    """
    for (identity,), run in session_spans(rows, ["identity_key"], gap):
        yield str(identity), rows.take(run)


def ids_named(run: pd.DataFrame, prefix: str) -> list[str]:
    """Return the distinct resource ids of a run starting with ``prefix``, in order."""
    named = (str(i) for ids in run["resource_ids"] for i in ids)
    return list(dict.fromkeys(i for i in named if i.startswith(prefix)))


def listed(names: Sequence[str], limit: int = 5) -> str:
    """Return at most ``limit`` names of a list: ``"a, b, c and 2 more"``."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def describe_names(group: pd.DataFrame | Iterable[str], limit: int = 4) -> str:
    """``"RunInstances x3, StopInstances"``: the event names of a group, most frequent first."""
    names = group["event_name"] if isinstance(group, pd.DataFrame) else group
    counts = Counter(str(name) for name in names).most_common()
    parts = [name if count == 1 else f"{name} x{count}" for name, count in counts]
    more = f" and {len(parts) - limit} more" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more


def failed_note(group: pd.DataFrame | Iterable[Any]) -> str:
    """Return ``" (2 failed: Client.UnauthorizedOperation)"`` when calls failed, else ``""``."""
    values = group["error_code"] if isinstance(group, pd.DataFrame) else group
    errors = [str(code) for code in values if isinstance(code, str) and code]
    if not errors:
        return ""
    return f" ({len(errors)} failed: {', '.join(sorted(set(errors)))})"


def session_records(frame: pd.DataFrame, keys: list[str], gap: timedelta) -> list[dict[str, Any]]:
    """Split a frame into sessions: per ``keys``, runs of events no further apart than ``gap``.

    Returns one dict per session, ordered by its first event (ties in key order),
    with the ``keys`` (missing values as ``"-"``) and ``event_ids``, ``event_names``,
    ``error_codes`` (lists, in time order), ``start`` and ``end`` (aware timestamps).
    Rows are ordered by the keys, then by time, stably; done with one ``lexsort``
    whatever the count, and without building a frame (the change-window rules run
    this on every batch, mostly on one or two events).
    """
    count = len(frame)
    if not count:
        return []
    codes: list[npt.NDArray[np.intp]] = []
    filled: list[npt.NDArray[Any]] = []
    for key in keys:
        values = frame[key].to_numpy(dtype=object)
        values = np.where(pd.isna(values), "-", values)
        inverse = np.unique(values, return_inverse=True)[1]
        codes.append(inverse.reshape(-1))
        filled.append(values)
    times = pd.to_datetime(frame["event_time"], utc=True).dt.tz_localize(None).to_numpy()
    order = np.lexsort((times.view(np.int64), *reversed(codes)))
    times = times[order]
    new = np.zeros(count, dtype=bool)
    new[0] = True
    new[1:] = np.diff(times) > np.timedelta64(gap)
    for code in codes:
        ordered = code[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    firsts = np.flatnonzero(new)
    lasts = np.append(firsts[1:], count) - 1
    source = dict(zip(keys, filled, strict=True))  # a key column is split as filled
    lists = {
        name: [
            part.tolist()
            for part in np.split(
                source.get(column, frame[column].astype(object).to_numpy())[order], firsts[1:]
            )
        ]
        for name, column in (
            ("event_ids", "event_id"),
            ("event_names", "event_name"),
            ("error_codes", "error_code"),
        )
    }
    starts = [pd.Timestamp(times[i]).tz_localize("UTC") for i in firsts]
    ends = [pd.Timestamp(times[i]).tz_localize("UTC") for i in lasts]
    found = [
        {
            **{key: values[order[first]] for key, values in zip(keys, filled, strict=True)},
            "event_ids": lists["event_ids"][n],
            "event_names": lists["event_names"][n],
            "error_codes": lists["error_codes"][n],
            "start": starts[n],
            "end": ends[n],
        }
        for n, first in enumerate(firsts)
    ]
    return sorted(found, key=lambda session: session["start"])


def session_table(frame: pd.DataFrame, keys: list[str], gap: timedelta) -> pd.DataFrame:
    """:func:`session_records` as a frame, one row per session, in the same order.

    Columns: the ``keys``, ``event_ids``, ``event_names``, ``error_codes``, ``start``, ``end``.
    """
    columns = [*keys, "event_ids", "event_names", "error_codes", "start", "end"]
    return pd.DataFrame(session_records(frame, keys, gap), columns=columns)
