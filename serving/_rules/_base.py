"""What a rule is and what it returns.

A rule is a pure function ``(events, context) -> Iterable[Evidence]`` wrapped by
:func:`rule` into a :class:`Rule` that carries its metadata (id, severity, ATT&CK
technique, runbook line) and turns each piece of evidence into a :class:`Hit`.
``events`` is one batch of canonical events sorted by time; the function must not
change it or the context.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from serving._rules._context import RuleContext

__all__ = [
    "DRY_RUN",
    "Evidence",
    "Hit",
    "Rule",
    "RuleFunction",
    "Severity",
    "attempted_changes",
    "describe_names",
    "evidence_of",
    "failed_note",
    "rule",
    "session_table",
    "sessions",
    "to_datetime",
]

DRY_RUN: Final = "Client.DryRunOperation"


class Severity(StrEnum):
    """How urgently a SOC should look at a hit."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a rule function found: the events, whose they are, when, and why it matters."""

    event_ids: tuple[str, ...]
    identity: str
    start: datetime
    end: datetime
    reason: str


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


RuleFunction = Callable[[pd.DataFrame, "RuleContext"], Iterable[Evidence]]


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
        Severity of every hit.
    technique : str
        MITRE ATT&CK technique id, e.g. ``T1537``.
    runbook : str
        The first thing an analyst should do, in one line.
    function : RuleFunction
        The pure detection function.
    """

    id: str
    title: str
    severity: Severity
    technique: str
    runbook: str
    function: RuleFunction

    def __call__(self, events: pd.DataFrame, context: RuleContext) -> list[Hit]:
        """Run the rule over one batch and return its hits."""
        return [
            Hit(
                self.id,
                self.severity,
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
    *, id: str, title: str, severity: Severity, technique: str, runbook: str
) -> Callable[[RuleFunction], Rule]:
    """Turn a detection function into a :class:`Rule` with the given metadata."""

    def wrap(function: RuleFunction) -> Rule:
        return Rule(id, title, severity, technique, runbook, function)

    return wrap


def to_datetime(value: Any) -> datetime:
    """Return a pandas or numpy time as an aware ``datetime`` in UTC."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    result: datetime = stamp.tz_convert("UTC").to_pydatetime()
    return result


def attempted_changes(events: pd.DataFrame, *, by_services: bool = False) -> pd.DataFrame:
    """Return the compute changes of a batch that were attempted (failed ones included).

    Dry runs are left out, and so are calls AWS services make on their own (Auto
    Scaling launching instances, for example) unless ``by_services``.
    """
    mask = events["is_compute_change"].astype(bool) & (events["error_code"] != DRY_RUN)
    if not by_services:
        mask &= ~events["by_service"].astype(bool)
    return events[mask]


def sessions(times: pd.Series[Any], gap: pd.Timedelta) -> pd.Series[Any]:
    """Return a run number per time of a sorted series; a run ends at a pause over ``gap``."""
    return (times.diff() > gap).cumsum()


def evidence_of(group: pd.DataFrame, identity: str, reason: str, *, limit: int) -> Evidence:
    """Build evidence from a time-sorted group of events, naming at most ``limit`` event ids."""
    ids: Sequence[str] = group["event_id"].tolist()
    return Evidence(
        tuple(ids[:limit]),
        identity,
        to_datetime(group["event_time"].iloc[0]),
        to_datetime(group["event_time"].iloc[-1]),
        reason,
    )


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


def session_table(frame: pd.DataFrame, keys: list[str], gap: timedelta) -> pd.DataFrame:
    """Split a frame into sessions: per ``keys``, runs of events no further apart than ``gap``.

    Returns one row per session, ordered by its first event, with the ``keys`` columns
    and ``event_ids``, ``event_names``, ``error_codes`` (lists, in time order),
    ``start`` and ``end``. Done with one sort and one groupby, whatever the count.
    """
    columns = [*keys, "event_id", "event_name", "error_code", "start", "end"]
    if not len(frame):
        return pd.DataFrame(columns=columns)
    ordered = frame.assign(
        **{key: frame[key].astype(object).where(frame[key].notna(), "-") for key in keys}
    ).sort_values([*keys, "event_time"], kind="stable")
    times = pd.to_datetime(ordered["event_time"], utc=True)
    new_key = (ordered[keys] != ordered[keys].shift()).any(axis=1)
    new_session = np.array(new_key | (times.diff() > pd.Timedelta(gap)), dtype=bool)
    new_session[0] = True
    firsts = np.flatnonzero(new_session)
    lasts = np.append(firsts[1:], len(ordered)) - 1

    def split(column: str) -> list[list[Any]]:
        values = ordered[column].astype(object).to_numpy()
        return [part.tolist() for part in np.split(values, firsts[1:])]

    table = pd.DataFrame(
        {
            **{key: ordered[key].to_numpy()[firsts] for key in keys},
            "event_ids": split("event_id"),
            "event_names": split("event_name"),
            "error_codes": split("error_code"),
            "start": times.to_numpy()[firsts],
            "end": times.to_numpy()[lasts],
        }
    )
    return table.sort_values("start", kind="stable").reset_index(drop=True)
