"""The promotion rule: a quality floor, a tolerance band, and what to compare on.

* **Floor**: the challenger must reach the metric's floor (``docs/metrics.md``) to be
  promoted at all; the first model too, on a held-out evaluation.
* **Tolerance band**: within ``tolerance`` of the champion counts as a tie, and a tie
  promotes (newer data wins); only a challenger worse by more than the band is rejected.
* **Comparable metrics**: when the two models cut different windows (1h vs 2h),
  window-level metrics are not comparable; the decision then rests on scenarios caught,
  with benign alerts per day (within 10 %) as the tie-break.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

from training._metrics import metric_spec

__all__ = ["DEFAULT_TOLERANCE", "Criterion", "Decision", "criteria", "decide"]

DEFAULT_TOLERANCE: Final = {
    "eval_pr_auc": 0.02,
    "eval_roc_auc": 0.01,
    "eval_recall_at_1pct_fpr": 0.02,
    "eval_scenario_recall": 0.0,
    "eval_scenarios_detected": 0.0,
    "eval_benign_alerts_per_day": 0.1,
    "eval_median_hours_to_detect": 0.1,
}
"""Band per metric: absolute for shares and counts; relative (a fraction of the
champion's value) for the per-day and hour figures."""

_RELATIVE: Final = frozenset({"eval_benign_alerts_per_day", "eval_median_hours_to_detect"})
_WINDOW_INVARIANT_FALLBACK: Final = ("eval_scenarios_detected", "eval_benign_alerts_per_day")


@dataclass(frozen=True, slots=True)
class Criterion:
    """One metric compared, which way is better, and its band."""

    metric: str
    direction: str
    tolerance: float

    def band(self, champion: float) -> float:
        """Return the band in the metric's units around the champion's value."""
        if self.metric in _RELATIVE:
            return abs(champion) * self.tolerance
        return self.tolerance


def criteria(metric: str, *, windows_differ: bool, tolerance: float | None) -> list[Criterion]:
    """Return what to compare, in order: ``metric``, or the window-invariant fallback."""
    names = [metric]
    spec = metric_spec(metric)
    if windows_differ and (spec is None or not spec.window_invariant):
        names = list(_WINDOW_INVARIANT_FALLBACK)
    out = []
    for name in names:
        found = metric_spec(name)
        direction = found.direction if found is not None else "higher"
        band = tolerance if tolerance is not None and name == metric else DEFAULT_TOLERANCE[name]
        out.append(Criterion(name, direction or "higher", band))
    return out


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome: ``first``, ``promoted``, ``rejected`` or ``unchanged``, and why."""

    decision: str
    reason: str
    compared: list[dict[str, Any]] = field(default_factory=list)

    @property
    def promotes(self) -> bool:
        """Whether ``champion`` moves to the challenger."""
        return self.decision in ("first", "promoted")


def _value(values: dict[str, float | None], name: str) -> float | None:
    value = values.get(name)
    return None if value is None or math.isnan(value) else float(value)


def decide(
    rules: list[Criterion],
    challenger: dict[str, float | None],
    champion: dict[str, float | None] | None,
    *,
    floor: float | None,
) -> Decision:
    """Apply the floor to the first criterion, then compare criterion by criterion.

    Parameters
    ----------
    rules : list of Criterion
        From :func:`criteria`.
    challenger, champion : dict
        Metric values (``None`` or NaN when undefined); ``champion`` is ``None`` when
        there is no champion yet.
    floor : float or None
        Least value of the first criterion's metric (for "higher is better" metrics).
    """
    first = rules[0]
    ours = _value(challenger, first.metric)
    if ours is None:
        return Decision("rejected", f"the challenger has no {first.metric} (no labelled attack "
                        "among its evaluated windows, or not evaluated)")  # fmt: skip
    if floor is not None and first.direction == "higher" and ours < floor:
        return Decision("rejected", f"{first.metric} {ours:.4g} is below the floor {floor:g}")
    if champion is None:
        return Decision("first", f"no champion yet; {first.metric} {ours:.4g} passes the floor")
    compared: list[dict[str, Any]] = []
    for rule in rules:
        mine, theirs = _value(challenger, rule.metric), _value(champion, rule.metric)
        compared.append({"metric": rule.metric, "challenger": mine, "champion": theirs,
                         "direction": rule.direction, "tolerance": rule.tolerance})  # fmt: skip
        if mine is None or theirs is None:
            if mine is None:
                return Decision("rejected", f"the challenger has no {rule.metric}", compared)
            continue
        sign = 1.0 if rule.direction == "higher" else -1.0
        gap = sign * (mine - theirs)
        band = rule.band(theirs)
        if gap < -band - 1e-12:
            return Decision(
                "rejected",
                f"{rule.metric} {mine:.4g} is worse than the champion's {theirs:.4g} by more "
                f"than the band {band:.4g}",
                compared,
            )
        if gap > band + 1e-12:
            return Decision(
                "promoted", f"{rule.metric} {mine:.4g} beats the champion's {theirs:.4g}", compared
            )
    return Decision(
        "promoted",
        "within the band of the champion on "
        + ", ".join(r.metric for r in rules)
        + " (newer data wins a tie)",
        compared,
    )
