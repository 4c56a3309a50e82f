"""Identities keyed per person whose names never repeat: probably automation (ADR 0020)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import pandas as pd

__all__ = ["SessionKeyedRole", "never_repeating_person_keys"]

logger = logging.getLogger(__name__)

_MIN_KEYS: Final = 10
_ONCE_SHARE: Final = 0.9


@dataclass(frozen=True, slots=True)
class SessionKeyedRole:
    """A role keyed per person whose per-person keys almost never come back."""

    role: str
    keys: int
    seen_one_day: float


def never_repeating_person_keys(
    events: pd.DataFrame, *, min_keys: int = _MIN_KEYS, once_share: float = _ONCE_SHARE
) -> list[SessionKeyedRole]:
    """Roles with at least ``min_keys`` per-person keys, ``once_share`` of them seen on one day.

    People come back on other days; generated session names (a misconfigured
    ``--person-role``, automation that sets e-mail-like names) do not. Each role found is
    logged as a warning naming it, so the keying patterns can be fixed.
    """
    if not len(events):
        return []
    keys = events["identity_key"].astype(str)
    person = keys.str.contains(":role/[^/]+/", regex=True)
    if not person.any():
        return []
    frame = pd.DataFrame(
        {
            "role": keys[person].str.replace(r"(:role/[^/]+)/.*$", r"\1", regex=True),
            "key": keys[person],
            "day": pd.to_datetime(events.loc[person, "event_time"], utc=True).dt.floor("D"),
        }
    )
    days = frame.groupby(["role", "key"])["day"].nunique().reset_index()
    found: list[SessionKeyedRole] = []
    for role, group in days.groupby("role"):
        share = float((group["day"] == 1).mean())
        if len(group) >= min_keys and share >= once_share:
            found.append(SessionKeyedRole(str(role), len(group), round(share, 3)))
            logger.warning(
                "role %s: %d per-session keys, %.0f%% of them seen on one day only: its sessions "
                "look like automation; check --person-role/--person-session (ADR 0020)",
                role,
                len(group),
                100 * share,
            )
    return found
