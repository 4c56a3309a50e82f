"""Bootstrap intervals of the headline evaluation figures, resampling whole clusters.

Windows are not independent: an attack spans several windows of one scenario, and an
identity's ordinary windows look alike. Each resample therefore draws attack scenarios
(for the positive windows) and identities (for the negative windows) with replacement,
and weighs every window by how often its cluster was drawn. The metrics are computed
on the weights directly (cumulative sums over the windows sorted once by score), so a
few hundred resamples of ten thousand windows take well under a second.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["RESAMPLES", "bootstrap_intervals", "weighted_ranking"]

RESAMPLES: Final = 400
"""Resamples per interval."""
LEVEL: Final = 0.90
"""Coverage of the intervals."""
_CHUNK: Final = 50

F64 = npt.NDArray[np.float64]


def weighted_ranking(score: F64, positive: npt.NDArray[np.bool_], weights: F64) -> tuple[F64, F64]:
    """Return (average precision, ROC-AUC) of each row of ``weights`` (one per resample).

    Ties in ``score`` form one threshold, as in scikit-learn's ``average_precision_score``
    and ``roc_auc_score``; with unit weights both equal scikit-learn's figures.
    """
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    w = weights[:, order]
    pos = positive[order]
    tp = np.cumsum(w * pos, axis=1)[:, ends]
    fp = np.cumsum(w * ~pos, axis=1)[:, ends]
    total_p, total_n = tp[:, -1:], fp[:, -1:]
    recall = tp / total_p
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    steps = np.diff(np.c_[np.zeros(len(w)), recall], axis=1)
    average_precision = np.sum(steps * precision, axis=1)
    tpr = np.c_[np.zeros(len(w)), recall]
    fpr = np.c_[np.zeros(len(w)), fp / total_n]
    auc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2.0, axis=1)
    return average_precision, auc


def _cluster_weights(codes: npt.NDArray[np.int64], rng: np.random.Generator, reps: int) -> F64:
    """Weights (reps x len(codes)): how often each row's cluster was drawn."""
    clusters = int(codes.max()) + 1
    drawn = rng.multinomial(clusters, np.full(clusters, 1.0 / clusters), size=reps)
    return drawn[:, codes].astype(np.float64)


def bootstrap_intervals(
    windows: pd.DataFrame, *, resamples: int = RESAMPLES, seed: int = 0
) -> dict[str, float]:
    """Return ``<metric>_low`` and ``<metric>_high`` of PR-AUC, ROC-AUC, precision, recall.

    Parameters
    ----------
    windows : pandas.DataFrame
        Labelled windows: ``score``, ``positive``, ``alerted``, ``scenario`` and
        ``identity`` (or ``identity_key``).
    resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling (the same windows give the same intervals).

    Returns
    -------
    dict of str to float
        Empty when the windows lack positives or negatives.
    """
    positive = windows["positive"].to_numpy(dtype=bool)
    if positive.all() or not positive.any():
        return {}
    score = np.nan_to_num(windows["score"].to_numpy(dtype=float), nan=-1.0)
    alert = windows["alerted"].to_numpy(dtype=bool)
    who = windows["identity" if "identity" in windows.columns else "identity_key"]
    pos_codes = pd.factorize(windows.loc[positive, "scenario"])[0]
    neg_codes = pd.factorize(who[~positive])[0]
    rng = np.random.default_rng(seed)
    figures: dict[str, list[F64]] = {k: [] for k in ("pr_auc", "roc_auc", "prec", "rec")}
    for start in range(0, resamples, _CHUNK):
        reps = min(_CHUNK, resamples - start)
        weights = np.empty((reps, len(windows)))
        weights[:, positive] = _cluster_weights(pos_codes, rng, reps)
        weights[:, ~positive] = _cluster_weights(neg_codes, rng, reps)
        ap, auc = weighted_ranking(score, positive, weights)
        caught = (weights * (alert & positive)).sum(axis=1)
        raised = (weights * alert).sum(axis=1)
        figures["pr_auc"].append(ap)
        figures["roc_auc"].append(auc)
        figures["prec"].append(
            np.divide(caught, raised, out=np.full(reps, np.nan), where=raised > 0)
        )
        figures["rec"].append(caught / (weights * positive).sum(axis=1))
    names = {
        "pr_auc": "eval_pr_auc",
        "roc_auc": "eval_roc_auc",
        "prec": "eval_precision_at_threshold",
        "rec": "eval_recall_at_threshold",
    }
    tail = (1.0 - LEVEL) / 2.0 * 100.0
    out: dict[str, float] = {}
    for key, values in figures.items():
        drawn = np.concatenate(values)
        drawn = drawn[np.isfinite(drawn)]
        if len(drawn):
            out[f"{names[key]}_low"] = float(np.percentile(drawn, tail))
            out[f"{names[key]}_high"] = float(np.percentile(drawn, 100.0 - tail))
    return out
