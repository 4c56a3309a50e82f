"""The compute resource type of an id, whatever cloud wrote it.

Each cloud names its resources its own way, and each taxonomy tells the type from the id
alone: an EC2 id by its prefix (``vol-0a1b...``), an Azure ARM id by its typed segment
(``/subscriptions/<s>/resourcegroups/<g>/providers/microsoft.compute/disks/<d>``), a Google
Cloud path by its collection (``projects/<p>/zones/<z>/disks/<d>``). The rules and
features that follow resources across calls (the snapshot chain, stop -> modify -> start)
ask this module, so one declaration of a step means the same in every cloud (ADR 0048).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from features._taxonomy import resource_type_of_id
from features._taxonomy_azure import resource_type_of_arm_id
from features._taxonomy_gcp import resource_type_of_gcp_id

__all__ = ["ids_by_type", "ids_of_type", "resource_type_of", "short_id"]


@lru_cache(maxsize=1 << 16)
def resource_type_of(resource_id: str) -> str | None:
    """Return the compute resource type an id of any cloud names, or ``None``.

    Examples
    --------
    >>> resource_type_of("vol-0123456789abcdef0")
    'volume'
    >>> resource_type_of("/subscriptions/s/resourcegroups/g/providers/microsoft.compute/disks/d")
    'volume'
    >>> resource_type_of("projects/p/zones/europe-west1-b/instances/web-1")
    'instance'
    """
    if resource_id.startswith("/subscriptions/"):
        return resource_type_of_arm_id(resource_id)
    if resource_id.startswith("projects/"):
        return resource_type_of_gcp_id(resource_id)
    return resource_type_of_id(resource_id)


def ids_of_type(values: Any, resource_type: str) -> list[str]:
    """Return the ids among ``values`` (a list, an array or a missing value) of one type."""
    if values is None or isinstance(values, (str, float)):
        return []
    found: Iterable[Any] = values
    return [text for text in (str(v) for v in found) if resource_type_of(text) == resource_type]


def ids_by_type(values: Any) -> dict[str | None, list[str]]:
    """Return the ids among ``values`` grouped by their type (one pass, for several types)."""
    grouped: dict[str | None, list[str]] = {}
    if values is None or isinstance(values, (str, float)):
        return grouped
    for value in values:
        text = str(value)
        grouped.setdefault(resource_type_of(text), []).append(text)
    return grouped


def short_id(resource_id: str) -> str:
    """Return an id as a finding names it: an EC2 id whole, a path's last segment.

    Examples
    --------
    >>> short_id("projects/p/global/snapshots/nightly-1")
    'nightly-1'
    >>> short_id("snap-0123456789abcdef0")
    'snap-0123456789abcdef0'
    """
    return resource_id.rstrip("/").rsplit("/", 1)[-1]
