"""Explanations: which features drove a window's score, in words an analyst reads.

The numbers come from :meth:`models.CompiledForest.attributions` (a path-length
decomposition, ADR 0010): for each feature, how many levels earlier, on average over the
trees, the window was isolated because of splits on that feature. This module ranks
those credits and turns the top ones into sentences such as
``"14 snapshots created in one hour; usually 0"``.

Wording is generic: a template per feature name (from the feature catalogue, passed in
as a plain mapping) with the fields ``{name}``, ``{value}`` and ``{usual}``.
"""

from __future__ import annotations

import functools
import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features import ConfigurationError

__all__ = [
    "DEFAULT_TEMPLATE",
    "FeatureExplanation",
    "describe",
    "explain",
    "format_number",
    "rank_features",
]

#: Used for a feature that has no template of its own.
DEFAULT_TEMPLATE = "{name} = {value}; usually {usual}"

_FIELDS = frozenset({"name", "value", "usual"})


@dataclass(frozen=True)
class FeatureExplanation:
    """One feature's part in a window's score.

    Attributes
    ----------
    index : int
        Column of the feature.
    name : str
        Feature name.
    contribution : float
        Levels of isolation depth this feature removed, averaged over trees (positive
        means it made the window more anomalous).
    share : float
        ``contribution`` over the sum of absolute contributions of the window, in [-1, 1].
    value : float
        The window's value.
    usual : float
        The identity's usual value (NaN when not known).
    text : str
        The sentence for an analyst.
    """

    index: int
    name: str
    contribution: float
    share: float
    value: float
    usual: float
    text: str


def rank_features(contributions: npt.ArrayLike, *, positive_only: bool = True) -> list[int]:
    """Column indices ordered by contribution, largest first (ties by column index).

    Parameters
    ----------
    contributions : array-like of shape (n_features,)
        One row of :meth:`CompiledForest.attributions`.
    positive_only : bool, default=True
        Keep only features that pushed the score up.
    """
    c = np.asarray(contributions, dtype=np.float64)
    if c.ndim != 1:
        raise ValueError(f"contributions must be 1-D, got shape {c.shape}")
    order = np.lexsort((np.arange(c.size), -c))  # stable: by -contribution, then index
    if positive_only:
        order = order[c[order] > 0]
    return [int(i) for i in order]


def format_number(x: float) -> str:
    """Short human form of a number: ``14``, ``0.25``, ``3.1``, ``1,250``; NaN is ``unknown``."""
    if math.isnan(x):
        return "unknown"
    if math.isinf(x):
        return "infinite" if x > 0 else "minus infinite"
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.1f}"
    return f"{x:.2g}"


def describe(name: str, value: float, usual: float, template: str | None = None) -> str:
    """Fill a feature's template with its name, the window's value and the usual value.

    Parameters
    ----------
    name : str
        Feature name.
    value, usual : float
        The window's value and the identity's usual value (formatted with
        :func:`format_number`).
    template : str, optional
        ``str.format`` template using only ``{name}``, ``{value}`` and ``{usual}``;
        :data:`DEFAULT_TEMPLATE` when not given.

    Raises
    ------
    ConfigurationError
        The template uses another field or is malformed.
    """
    text = _checked(name, DEFAULT_TEMPLATE if template is None else template)
    return text.format(name=name, value=format_number(value), usual=format_number(usual))


@functools.lru_cache(maxsize=512)
def _checked(name: str, text: str) -> str:
    """Return ``text`` once checked to use only the known fields (kept: every window asks)."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ConfigurationError(f"template for feature {name!r} is malformed: {exc}") from exc
    unknown = fields - _FIELDS
    if unknown:
        raise ConfigurationError(
            f"template for feature {name!r} uses {sorted(unknown)}; expected only {sorted(_FIELDS)}"
        )
    return text


def explain(
    contributions: npt.ArrayLike,
    values: npt.ArrayLike,
    usual: npt.ArrayLike,
    names: Sequence[str],
    *,
    templates: Mapping[str, str] | None = None,
    top: int = 3,
    positive_only: bool = True,
) -> list[FeatureExplanation]:
    """Explain one window: its top features by contribution, each with a sentence.

    Parameters
    ----------
    contributions : array-like of shape (n_features,)
        The window's row of :meth:`CompiledForest.attributions`.
    values : array-like of shape (n_features,)
        The window's feature values.
    usual : array-like of shape (n_features,)
        The identity's usual value per feature (NaN where unknown).
    names : sequence of str
        Feature names, in column order.
    templates : mapping of str to str, optional
        Template per feature name (see :func:`describe`); missing names use
        :data:`DEFAULT_TEMPLATE`.
    top : int, default=3
        At most this many features.
    positive_only : bool, default=True
        Only features that pushed the score up (a very ordinary window may get none).

    Returns
    -------
    list of FeatureExplanation
        Largest contribution first.
    """
    c = np.asarray(contributions, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    u = np.asarray(usual, dtype=np.float64)
    if not (c.shape == v.shape == u.shape == (len(names),)):
        raise ValueError(
            f"contributions, values, usual and names must all have {len(names)} entries, "
            f"got {c.shape}, {v.shape}, {u.shape}"
        )
    total = float(np.abs(c).sum())
    found = templates or {}
    out = []
    for i in rank_features(c, positive_only=positive_only)[: max(top, 0)]:
        name = str(names[i])
        out.append(
            FeatureExplanation(
                index=i,
                name=name,
                contribution=float(c[i]),
                share=float(c[i] / total) if total > 0 else 0.0,
                value=float(v[i]),
                usual=float(u[i]),
                text=describe(name, float(v[i]), float(u[i]), found.get(name)),
            )
        )
    return out
