"""The detector's contract: what a scorer returns for the combiner to read.

The detector only has to return :class:`WindowScore` objects (one per identity and
window) whose ``percentile`` places the window against the training distribution
(0-100) and whose ``explanations`` say why in words; :class:`ScorerInfo` names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Explanation", "IgnoredEvents", "ModelScores", "ScorerInfo", "WindowScore"]


@dataclass(frozen=True, slots=True)
class ScorerInfo:
    """Name and version of the scorer that produced window scores (``isolation-forest``, ``3``)."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True, slots=True)
class Explanation:
    """One feature's part in a window's score, in words (see :func:`models.explain`).

    Attributes
    ----------
    feature : str
        Feature name, e.g. ``snapshots_created``.
    value : float
        The window's value.
    usual : float
        The identity's usual value (NaN when unknown).
    text : str
        The analyst sentence, e.g. ``"14 snapshots created in one hour; usually 0"``.
    """

    feature: str
    value: float
    usual: float
    text: str

    @classmethod
    def from_feature(cls, explained: Any) -> Explanation:
        """Build from a :class:`models.FeatureExplanation` (name, value, usual, text)."""
        return cls(
            str(explained.name), float(explained.value), float(explained.usual), str(explained.text)
        )


@dataclass(frozen=True, slots=True)
class WindowScore:
    """What the detector says about one identity in one window.

    Attributes
    ----------
    identity : str
        The identity key.
    window_start, window_end : datetime
        Aware bounds of the window, ``[start, end)``.
    score : float
        Raw anomaly score (higher is more anomalous); kept for audit only.
    percentile : float
        The score's percentile (0-100) against the training distribution.
    cold_start : bool
        The identity has no baseline yet; the combiner then ignores the score.
    explanations : tuple of Explanation
        Top features first.
    event_ids : tuple of str
        The events of the window.
    peers : str
        When the identity has no baseline of its own and was scored against its peers,
        who they are (``"4 other PowerUserAccess users"``); ``""`` otherwise.
    """

    identity: str
    window_start: datetime
    window_end: datetime
    score: float
    percentile: float
    cold_start: bool = False
    explanations: tuple[Explanation, ...] = ()
    event_ids: tuple[str, ...] = ()
    peers: str = ""

    def __post_init__(self) -> None:
        if self.window_start.tzinfo is None or self.window_end.tzinfo is None:
            raise ValueError(f"window of {self.identity!r}: times must be timezone-aware")
        if self.window_end <= self.window_start:
            raise ValueError(
                f"window of {self.identity!r}: end {self.window_end.isoformat()} must come "
                f"after start {self.window_start.isoformat()}"
            )
        if not self.cold_start and not 0.0 <= self.percentile <= 100.0:
            raise ValueError(
                f"window of {self.identity!r}: percentile must be in [0, 100], "
                f"got {self.percentile}"
            )


@dataclass(frozen=True, slots=True)
class IgnoredEvents:
    """Events of a batch the model did not judge, and why (the rules judged them all).

    Attributes
    ----------
    event_ids : tuple of str
        The events left out, in batch order.
    reason : str
        Why, in words a caller can show as it is.
    """

    event_ids: tuple[str, ...]
    reason: str

    @property
    def count(self) -> int:
        """How many events the model left out."""
        return len(self.event_ids)


@dataclass(frozen=True, slots=True)
class ModelScores:
    """What a scorer says about a batch: its windows, and the events it did not judge.

    Attributes
    ----------
    windows : list of WindowScore
        One per identity and window the model scored.
    ignored : IgnoredEvents or None
        Events of the batch the model left out and why; ``None`` when it judged all.
    """

    windows: list[WindowScore] = field(default_factory=list)
    ignored: IgnoredEvents | None = None
