"""Settings of the behavioural vectors: window, horizon, cold start, forgetting, buckets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from features._exceptions import ConfigurationError

__all__ = ["FeatureConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureConfig:
    """How behavioural vectors are cut and measured.

    Parameters
    ----------
    window : str
        Tumbling window per identity, a pandas offset (``"1h"``, ``"15min"``, ``"1D"``).
        Windows are aligned to the Unix epoch.
    horizon : str
        How far back the sequence features look (snapshot -> volume -> attach,
        stop -> modify -> start) and the span of the snapshot-burst count.
    forget_days : float
        A value (region, network, client ...) not used by an identity for this long is
        forgotten: using it again counts as novel. An identity inactive this long loses
        its baseline (histograms, counts) and starts a new *epoch*; its first and last
        activity are kept, so dormancy is still measured.
    cold_start_days : float
        An identity whose current epoch started less than this before the window is in
        cold start.
    cold_start_active_days : int
        ... as is one with fewer distinct active days (UTC) before the window.
    rare_share, infrequent_share : float
        GuardDuty-style buckets of how often an identity used a value, as its share of
        the identity's events: below ``rare_share`` is *rare*, below ``infrequent_share``
        *infrequent*, else *frequent*; a value not used within ``forget_days`` is *unseen*.
    rare_hour_fraction : float
        An hour of the week is *rare* for an identity when its count there is below this
        fraction of the identity's mean count per hour of the week.
    org_rare_identities : int
        An action (event name) is organisation-rare when fewer identities than this had
        used it before the window.
    org_accounts : tuple of str
        The organisation's own account ids: sharing to them is not foreign.
    lateness : str
        How late the live service accepts an event (CloudTrail delivers within about
        15 minutes): :meth:`features.FeatureState.advance` folds into the profiles only
        the windows that ended at least this long before the latest event seen. Later
        stragglers are ignored with a warning.
    """

    window: str = "1h"
    horizon: str = "24h"
    forget_days: float = 90.0
    cold_start_days: float = 7.0
    cold_start_active_days: int = 3
    rare_share: float = 0.01
    infrequent_share: float = 0.1
    rare_hour_fraction: float = 0.2
    org_rare_identities: int = 3
    org_accounts: tuple[str, ...] = field(default=())
    lateness: str = "15min"

    def __post_init__(self) -> None:
        for name in ("window", "horizon", "lateness"):
            try:
                value = pd.Timedelta(getattr(self, name))
            except (ValueError, TypeError) as error:
                raise ConfigurationError(
                    f"{name} must be a duration such as '1h', got {getattr(self, name)!r}"
                ) from error
            if value < pd.Timedelta(0) or (name == "window" and value <= pd.Timedelta(0)):
                raise ConfigurationError(f"{name} must be positive, got {getattr(self, name)!r}")
        if pd.Timedelta(self.window) % pd.Timedelta("1s") != pd.Timedelta(0):
            raise ConfigurationError(f"window must be whole seconds, got {self.window!r}")
        if self.forget_days <= 0:
            raise ConfigurationError(f"forget_days must be > 0, got {self.forget_days}")
        if not 0 < self.rare_share <= self.infrequent_share <= 1:
            raise ConfigurationError(
                "rare_share and infrequent_share must satisfy 0 < rare <= infrequent <= 1, "
                f"got {self.rare_share} and {self.infrequent_share}"
            )
        if self.cold_start_days < 0 or self.cold_start_active_days < 0:
            raise ConfigurationError("cold-start thresholds must be >= 0")

    @property
    def window_ns(self) -> int:
        """Window length in nanoseconds."""
        return _duration_ns(self.window)

    @property
    def horizon_ns(self) -> int:
        """Sequence horizon in nanoseconds."""
        return _duration_ns(self.horizon)

    @property
    def lateness_ns(self) -> int:
        """Accepted lateness in nanoseconds."""
        return _duration_ns(self.lateness)

    @property
    def forget_ns(self) -> int:
        """Forgetting time in nanoseconds."""
        return _days_ns(self.forget_days)

    def to_json(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        data = asdict(self)
        data["org_accounts"] = list(self.org_accounts)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureConfig:
        """Rebuild settings written by :meth:`to_json`."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "org_accounts" in known:
            known["org_accounts"] = tuple(known["org_accounts"])
        return cls(**known)


@lru_cache(maxsize=64)
def _duration_ns(text: str) -> int:
    """Return a pandas duration in ns (parsed once per text: asked on every featuriser call)."""
    return int(pd.Timedelta(text).value)


@lru_cache(maxsize=64)
def _days_ns(days: float) -> int:
    """Return ``days`` in ns (computed once per value)."""
    return int(pd.Timedelta(days=days).value)
