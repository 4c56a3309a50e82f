"""Allow-lists of known automation and time-limited suppressions, as data.

Both come from the change-policy YAML (``automation:`` and ``suppressions:``, see
``docs/change-windows.md``) and are validated like the windows.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pandas as pd

from models.scoring._scope import scope_mask
from models.scoring._windows_model import AutomationSpec, SuppressionSpec

__all__ = ["AutomationAllowList", "Suppressions", "client_allowed", "network_allowed"]

logger = logging.getLogger(__name__)


def client_allowed(entry: AutomationSpec, family: str, version: str | None) -> bool:
    """Whether a client family (and version) is one the entry expects.

    Entries are ``family`` or ``family/version-pattern`` (``terraform/1.7.*``); a
    version pattern never matches an event without a version.
    """
    for client in entry.clients:
        wanted, _, pattern = client.partition("/")
        if wanted != family:
            continue
        if not pattern or (version is not None and fnmatchcase(version, pattern)):
            return True
    return False


@lru_cache(maxsize=65536)
def _address(source_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(source_ip)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def network_allowed(entry: AutomationSpec, source_ip: str | None) -> bool | None:
    """Whether the source address lies in one of the entry's networks.

    Returns ``None`` when that cannot be told: no address, an AWS service name, or an
    address that does not parse (anonymised recordings).
    """
    if not source_ip:
        return None
    address = _address(source_ip)
    if address is None:
        return None
    return any(address in _network(network) for network in entry.networks)


@dataclass(frozen=True, slots=True)
class AutomationAllowList:
    """Known automation identities with the clients and networks they are expected to use."""

    entries: tuple[AutomationSpec, ...] = ()
    _positions: dict[tuple[str, str | None], int] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def entry_for(
        self, identity_key: str, principal_arn: str | None = None
    ) -> AutomationSpec | None:
        """Return the first entry whose identity patterns match the key or the principal ARN.

        Switched-on entries are tried first: a dry-run entry only judges identities no
        switched-on entry covers (trying one out never changes what the others do).
        """
        for dry_run in (False, True):
            for entry in self.entries:
                if entry.dry_run != dry_run:
                    continue
                for pattern in entry.identities:
                    if fnmatchcase(identity_key, pattern) or (
                        principal_arn is not None and fnmatchcase(principal_arn, pattern)
                    ):
                        return entry
        return None

    @property
    def rehearsing(self) -> bool:
        """Whether some entry is in dry-run mode (it only counts the hits it would raise)."""
        return any(entry.dry_run for entry in self.entries)

    def position(self, identity_key: str, principal_arn: str | None = None) -> int:
        """Return the position of :meth:`entry_for`'s entry among :attr:`entries`, or -1.

        Remembered per pair (the service meets the same few identities all day).
        """
        pair = (identity_key, principal_arn)
        found = self._positions.get(pair)
        if found is None:
            entry = self.entry_for(identity_key, principal_arn)
            found = -1 if entry is None else self.entries.index(entry)
            if len(self._positions) >= 1 << 16:
                self._positions.clear()
            self._positions[pair] = found
        return found

    def entry_index(self, events: pd.DataFrame) -> npt.NDArray[np.int64]:
        """Return, per row, the position of the matching entry or -1 (matched once per pair)."""
        if not self.entries or not len(events):
            return np.full(len(events), -1, dtype=np.int64)
        pairs = events[["identity_key", "principal_arn"]].astype(object)
        pairs = pairs.where(pairs.notna(), None)
        cache: dict[tuple[str, str | None], int] = {}
        out = np.empty(len(events), dtype=np.int64)
        for row, (key, arn) in enumerate(pairs.itertuples(index=False, name=None)):
            found = cache.get((key, arn))
            if found is None:
                found = cache[(key, arn)] = self.position(key, arn)
            out[row] = found
        return out


@dataclass(frozen=True, slots=True)
class Suppressions:
    """Time-limited suppressions: a hit is dropped while one is active and covers it."""

    entries: tuple[SuppressionSpec, ...] = ()

    def active(self, now: datetime) -> tuple[SuppressionSpec, ...]:
        """Return the suppressions that have not expired at ``now`` (aware)."""
        return tuple(entry for entry in self.entries if entry.expires > now)

    def expired(self, now: datetime) -> tuple[SuppressionSpec, ...]:
        """Return the suppressions that have expired at ``now``: they suppress nothing."""
        return tuple(entry for entry in self.entries if entry.expires <= now)

    @property
    def rehearsing(self) -> bool:
        """Whether some entry is in dry-run mode (it only counts what it would drop)."""
        return any(entry.dry_run for entry in self.entries)

    def match(
        self, rule_id: str, evidence: pd.DataFrame, now: datetime, *, dry_run: bool = False
    ) -> SuppressionSpec | None:
        """Return the first active suppression of ``rule_id`` whose scope covers every evidence row.

        Parameters
        ----------
        rule_id : str
            The hit's rule id; a suppression's ``rule`` is an ``fnmatch`` pattern.
        evidence : pandas.DataFrame
            The canonical events the hit names.
        now : datetime
            The time of evaluation (aware); expired suppressions never match.
        dry_run : bool
            Match the dry-run entries instead (those that silence nothing but count
            what they would have silenced); switched-on entries are passed over then.
        """
        for entry in self.entries:
            if entry.dry_run != dry_run:
                continue
            if entry.expires <= now or not fnmatchcase(rule_id, entry.rule):
                continue
            if entry.scope.is_everything or bool(scope_mask(entry.scope, evidence).all()):
                return entry
        return None

    def log_expired(self, now: datetime) -> None:
        """Log one warning per expired suppression, so that stale entries get cleaned up."""
        for entry in self.expired(now):
            logger.warning(
                "suppression of %s (owner %s) expired on %s and no longer applies: %s",
                entry.rule,
                entry.owner,
                entry.expires.isoformat(),
                entry.reason,
            )
