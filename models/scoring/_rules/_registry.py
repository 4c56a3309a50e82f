"""The registry of rules and the runner that applies them, and the suppressions, to a batch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import pandas as pd

from models.scoring._rules._base import Hit, Rule
from models.scoring._rules._burst import change_burst, deletion_burst
from models.scoring._rules._change_window import inside_freeze, outside_approved
from models.scoring._rules._context import RuleContext
from models.scoring._rules._ebs import ebs_direct_read
from models.scoring._rules._export import export_task
from models.scoring._rules._identity import (
    automation_unexpected_client,
    automation_unexpected_network,
    dormant_change,
)
from models.scoring._rules._instance_credentials import instance_session_elsewhere
from models.scoring._rules._launch import unusual_instances
from models.scoring._rules._remote_access import (
    admin_port_open_to_world,
    key_pair_created,
    serial_console_enabled,
    ssh_key_pushed,
)
from models.scoring._rules._secrets import password_data_read, user_data_read
from models.scoring._rules._sequence import snapshot_to_new_instance
from models.scoring._rules._sharing import (
    access_removed,
    shared_publicly,
    shared_with_foreign_account,
)
from models.scoring._rules._summary import BatchSummary
from models.scoring._rules._user_data import user_data_modified
from models.scoring._windows_model import SuppressionSpec

__all__ = ["RULES", "Evaluation", "evaluate", "rule_by_id"]

logger = logging.getLogger(__name__)

RULES: Final[tuple[Rule, ...]] = (
    outside_approved,
    inside_freeze,
    shared_publicly,
    shared_with_foreign_account,
    snapshot_to_new_instance,
    dormant_change,
    automation_unexpected_client,
    automation_unexpected_network,
    change_burst,
    deletion_burst,
    ebs_direct_read,
    # compute rule content (ADR 0035): what the public rule sets detect on compute
    user_data_modified,
    user_data_read,
    password_data_read,
    unusual_instances,
    instance_session_elsewhere,
    ssh_key_pushed,
    serial_console_enabled,
    admin_port_open_to_world,
    key_pair_created,
    export_task,
    access_removed,
)
"""Every rule, in the order they run; ids are unique."""


def rule_by_id(rule_id: str) -> Rule:
    """Return the registered rule with id ``rule_id``.

    Raises
    ------
    KeyError
        When no rule has that id.
    """
    for one in RULES:
        if one.id == rule_id:
            return one
    raise KeyError(f"no rule {rule_id!r}; known: {', '.join(r.id for r in RULES)}")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What the rules found in one batch.

    Attributes
    ----------
    hits : list of Hit
        Hits no active suppression covers, in rule order.
    suppressed : list of (Hit, SuppressionSpec)
        Hits dropped, with the suppression that dropped them (for audit).
    failed : list of (str, str)
        Rules that raised, with the error, so one broken rule never sinks the batch.
    """

    hits: list[Hit] = field(default_factory=list)
    suppressed: list[tuple[Hit, SuppressionSpec]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def evaluate(
    events: pd.DataFrame,
    context: RuleContext,
    rules: Sequence[Rule] = RULES,
    *,
    summary: BatchSummary | None = None,
) -> Evaluation:
    """Run ``rules`` over a batch of canonical events and apply the active suppressions.

    Parameters
    ----------
    events : pandas.DataFrame
        One batch of canonical events; it is sorted by time (stably) before the rules see it.
    context : RuleContext
        History, policy, settings and the evaluation time.
    rules : sequence of Rule
        Defaults to every registered rule.
    summary : BatchSummary, optional
        The batch's summary when it is known already (it is counted otherwise).
    """
    batch = _by_time(events)
    result = Evaluation()
    policy = context.policy
    now = context.evaluated_at
    if policy is not None:
        policy.suppressions.log_expired(now)
    if summary is None:
        try:
            summary = BatchSummary.of(batch)
        except Exception:  # an odd frame: let every rule run and fail on its own
            summary = None
    suppressing = policy is not None and bool(policy.suppressions.entries)
    by_id = batch.set_index("event_id", drop=False) if suppressing else batch
    for one in rules:
        try:
            gate = one.applies
            if summary is not None and gate is not None and not gate(summary, context):
                continue  # the rule cannot fire on this batch
            hits = one(batch, context)
        except Exception as error:  # a broken rule must not hide the other rules' hits
            logger.exception("rule %s failed on a batch of %d events", one.id, len(batch))
            result.failed.append((one.id, f"{type(error).__name__}: {error}"))
            continue
        for hit in hits:
            suppression = None
            if policy is not None and suppressing:
                evidence = by_id.loc[by_id.index.intersection(list(hit.event_ids))]
                suppression = policy.suppressions.match(hit.rule_id, evidence, now)
            if suppression is None:
                result.hits.append(hit)
            else:
                result.suppressed.append((hit, suppression))
    return result


def _by_time(events: pd.DataFrame) -> pd.DataFrame:
    """Return the batch sorted by time, stably, on a fresh range index (no sort if in order)."""
    if events["event_time"].is_monotonic_increasing:
        return events.reset_index(drop=True)
    return events.sort_values("event_time", kind="stable").reset_index(drop=True)
