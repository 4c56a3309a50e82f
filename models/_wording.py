"""Sentence templates of the catalogue features, for explanations an analyst reads.

One template per feature of :data:`features.CATALOGUE` (a test checks none is missing),
using ``{value}`` and ``{usual}`` (see :func:`models.describe`) and ``{window}``, which
:func:`templates_for` replaces with the window length in words (``"in one hour"``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import pandas as pd

__all__ = ["TEMPLATES", "templates_for", "window_phrase"]

_USUAL = "; usually {usual}"

TEMPLATES: Final[dict[str, str]] = {
    "n_events": "{value} API calls {window}" + _USUAL,
    "n_changes": "{value} compute changes {window}" + _USUAL,
    "n_change_create": "{value} compute resources created {window}" + _USUAL,
    "n_change_delete": "{value} compute resources deleted {window}" + _USUAL,
    "n_change_modify": "{value} compute resources modified {window}" + _USUAL,
    "n_change_attach": "{value} attachments {window}" + _USUAL,
    "n_change_detach": "{value} detachments {window}" + _USUAL,
    "n_change_share": "{value} sharing permission changes {window}" + _USUAL,
    "n_change_copy": "{value} snapshots or images copied {window}" + _USUAL,
    "n_change_start": "{value} instances started {window}" + _USUAL,
    "n_change_stop": "{value} instances stopped {window}" + _USUAL,
    "n_change_instance": "{value} instance changes {window}" + _USUAL,
    "n_change_volume": "{value} volume changes {window}" + _USUAL,
    "n_change_snapshot": "{value} snapshot changes {window}" + _USUAL,
    "n_change_image": "{value} image changes {window}" + _USUAL,
    "n_change_launch_template": "{value} launch template changes {window}" + _USUAL,
    "n_change_other_resource": "{value} other compute changes {window}" + _USUAL,
    "n_distinct_resources": "{value} distinct resources changed {window}" + _USUAL,
    "n_distinct_regions": "calls from {value} regions {window}" + _USUAL,
    "n_distinct_networks": "calls from {value} networks {window}" + _USUAL,
    "n_distinct_clients": "{value} different API clients {window}" + _USUAL,
    "error_ratio": "share of failed calls {value}" + _USUAL,
    "is_new_identity": "first activity ever of this identity ({value})" + _USUAL,
    "days_dormant": "active again after {value} days" + _USUAL,
    "history_days": "{value} days of history" + _USUAL,
    "active_days": "{value} active days so far" + _USUAL,
    "cold_start": "no baseline yet ({value})" + _USUAL,
    "novel_action_share": "share of calls with an API action new for this identity {value}"
    + _USUAL,
    "novel_resource_type_share": "share of calls on a resource type new for this identity "
    "{value}" + _USUAL,
    "novel_region_share": "share of calls from a region new for this identity {value}" + _USUAL,
    "novel_network_share": "share of calls from a network new for this identity {value}" + _USUAL,
    "novel_country_share": "share of calls from a country new for this identity {value}" + _USUAL,
    "novel_asn_share": "share of calls from an autonomous system new for this identity {value}"
    + _USUAL,
    "novel_client_family_share": "share of calls with an API client new for this identity "
    "{value}" + _USUAL,
    "novel_client_version_share": "share of calls with a client version new for this "
    "identity {value}" + _USUAL,
    "rare_context_share": "share of calls from a place or client rare for this identity {value}"
    + _USUAL,
    "rare_hour_share": "share of calls at an hour of the week rare for this identity {value}"
    + _USUAL,
    "hour_surprise": "hour-of-week surprise {value} bits" + _USUAL,
    "change_count_ratio": "{value} times this identity's mean number of changes per window"
    + _USUAL,
    "change_count_tail": "share of this identity's windows with as many changes {value}" + _USUAL,
    "seq_snapshot_volume_attach": "{value} volumes restored from a snapshot and attached to a "
    "new instance {window}" + _USUAL,
    "seq_own_snapshot_volume_attach": "{value} own snapshots restored and attached to a new "
    "instance {window}" + _USUAL,
    "share_foreign": "{value} snapshots or images shared with a foreign account {window}" + _USUAL,
    "share_public": "{value} snapshots or images made public {window}" + _USUAL,
    "seq_stop_modify_start": "{value} instances stopped, modified and started again {window}"
    + _USUAL,
    "snapshots_in_horizon": "{value} snapshots created or copied in the last day" + _USUAL,
    "org_rare_action_share": "share of calls almost nobody in the organisation makes {value}"
    + _USUAL,
    "org_action_rarity_max": "rarest action in the organisation: {value} bits" + _USUAL,
}
"""Template per catalogue feature."""

_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))
_ONE = {"day": "one day", "hour": "one hour", "minute": "one minute", "second": "one second"}


def window_phrase(window: str) -> str:
    """Window length in words: ``"1h"`` -> ``"in one hour"``, ``"15min"`` -> ``"in 15 minutes"``."""
    seconds = int(pd.Timedelta(window).total_seconds())
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"in {_ONE[unit]}" if count == 1 else f"in {count} {unit}s"
    return f"in {window}"


@functools.lru_cache(maxsize=32)
def templates_for(window: str) -> Mapping[str, str]:
    """Return the templates with ``{window}`` filled in for this window length.

    Made once per window length (every scored window asks) and shared, so read-only.
    """
    phrase = window_phrase(window)
    return MappingProxyType(
        {name: text.replace("{window}", phrase) for name, text in TEMPLATES.items()}
    )
