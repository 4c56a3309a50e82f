"""Which canonical events a :class:`~models.scoring._windows_model.Scope` covers, for a whole frame.

Patterns are matched once per distinct value of a column (accounts, regions and
identities repeat a lot), so a frame of a million events costs a few ``isin`` calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features import ACTIONS
from models.scoring._windows_model import Scope

__all__ = ["scope_covers", "scope_mask"]

BoolArray = npt.NDArray[np.bool_]

_ACTIONS = frozenset(ACTIONS)


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def _column_mask(column: pd.Series[Any], patterns: tuple[str, ...]) -> BoolArray:
    values = column.dropna().unique()
    hits = [value for value in values if _matches(str(value), patterns)]
    return np.asarray(column.isin(hits), dtype=bool)


def _list_column_mask(column: pd.Series[Any], patterns: tuple[str, ...]) -> BoolArray:
    exploded = column.explode()
    hit = _column_mask(exploded, patterns)
    if not len(exploded):
        return np.zeros(len(column), dtype=bool)
    per_row = pd.Series(hit, index=exploded.index).groupby(level=0, sort=False).any()
    return np.asarray(per_row.reindex(column.index, fill_value=False), dtype=bool)


def scope_mask(scope: Scope, events: pd.DataFrame) -> BoolArray:
    """Return, for each row of ``events`` (canonical columns), whether ``scope`` covers it."""
    mask = np.ones(len(events), dtype=bool)
    if scope.is_everything or not len(events):
        return mask
    if scope.accounts:
        mask &= _column_mask(events["account_id"], scope.accounts)
    if scope.regions:
        mask &= _column_mask(events["region"], scope.regions)
    if scope.identities:
        mask &= _column_mask(events["identity_key"], scope.identities) | _column_mask(
            events["principal_arn"], scope.identities
        )
    if scope.resources:
        mask &= _list_column_mask(events["resource_ids"].reset_index(drop=True), scope.resources)
    if scope.actions:
        actions = tuple(a for a in scope.actions if a in _ACTIONS)
        names = tuple(a for a in scope.actions if a not in _ACTIONS)
        by_action = np.asarray(events["action"].isin(actions), dtype=bool)
        by_name = (
            _column_mask(events["event_name"], names) if names else np.zeros(len(events), bool)
        )
        mask &= by_action | by_name
    return mask


def _value_matches(value: Any, patterns: tuple[str, ...]) -> bool:
    return not _missing(value) and _matches(str(value), patterns)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def scope_covers(scope: Scope, event: Mapping[str, Any]) -> bool:
    """Whether ``scope`` covers one event (a mapping of canonical columns), as :func:`scope_mask`.

    For one event at a time, without building a frame (the service judges a request's
    own changes this way).
    """
    if scope.is_everything:
        return True
    if scope.accounts and not _value_matches(event.get("account_id"), scope.accounts):
        return False
    if scope.regions and not _value_matches(event.get("region"), scope.regions):
        return False
    if scope.identities and not (
        _value_matches(event.get("identity_key"), scope.identities)
        or _value_matches(event.get("principal_arn"), scope.identities)
    ):
        return False
    if scope.resources:
        resources = event.get("resource_ids")
        if (
            resources is None
            or isinstance(resources, float)
            or not any(_value_matches(item, scope.resources) for item in resources)
        ):
            return False
    if scope.actions:
        actions = tuple(a for a in scope.actions if a in _ACTIONS)
        names = tuple(a for a in scope.actions if a not in _ACTIONS)
        action = event.get("action")
        by_action = not _missing(action) and action in actions
        if not by_action and not (names and _value_matches(event.get("event_name"), names)):
            return False
    return True
