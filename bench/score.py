"""Single-row latency and batch throughput: CompiledForest against IsolationForest.score_samples.

Run: ``.venv/bin/python bench/score.py`` (single-threaded: BLAS/OpenMP pinned to one thread
below, joblib runs scikit-learn's scoring sequentially by default). Takes a few minutes; then
explained scores (score and attributions): one walk of the trees against two (ADR 0058).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402

import models._forest as forest_module  # noqa: E402
from models import CompiledForest  # noqa: E402


def windows(rng: np.random.Generator, n: int, n_features: int) -> np.ndarray:
    """Behavioural-window-shaped rows: sparse counts, counts, ratios, heavy-tailed volumes."""
    data = np.empty((n, n_features))
    for j in range(n_features):
        kind = j % 4
        if kind == 0:
            data[:, j] = rng.poisson(0.3, n) * rng.integers(0, 2, n)
        elif kind == 1:
            data[:, j] = rng.poisson(12.0, n)
        elif kind == 2:
            data[:, j] = rng.beta(0.5, 3.0, n)
        else:
            data[:, j] = rng.lognormal(2.0, 1.0, n)
    return data


def latencies(fn: Callable[[np.ndarray], object], rows: np.ndarray, budget_s: float) -> np.ndarray:
    """Per-call seconds scoring one row at a time, cycling through ``rows`` within a budget."""
    for row in rows[:20]:  # warm up
        fn(row[None])
    out = []
    deadline = time.perf_counter() + budget_s
    for i in range(len(rows)):
        row = rows[i][None]
        start = time.perf_counter()
        fn(row)
        out.append(time.perf_counter() - start)
        if start > deadline:
            break
    return np.asarray(out)


def best_of_interleaved(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best wall time of each function, alternating runs so load changes hit both alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=40)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--single-calls", type=int, default=3000)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    data = windows(rng, args.train_rows, args.features)
    forest = IsolationForest(n_estimators=100, random_state=0).fit(data)
    compiled = CompiledForest.from_sklearn(forest)
    batch = windows(np.random.default_rng(1), args.batch_rows, args.features)
    rows = batch[: args.single_calls]
    print(
        f"forest: 100 trees, max_samples={forest.max_samples_}, {args.features} features, "
        f"depth {compiled.max_depth}; threads: OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
    )

    diff = np.abs(compiled.score_samples(batch) - forest.score_samples(batch)).max()
    print(f"parity on {len(batch):,} rows: max |compiled - sklearn| = {diff:.1e}")

    sk = latencies(forest.score_samples, rows, budget_s=20.0)
    cf = latencies(compiled.score_samples, rows, budget_s=10.0)
    sk50, sk99 = np.percentile(sk, [50, 99]) * 1e6
    cf50, cf99 = np.percentile(cf, [50, 99]) * 1e6
    print(
        f"single row, sklearn score_samples : p50 {sk50:8.1f} us  p99 {sk99:8.1f} us  ({len(sk)} calls)"
    )
    print(
        f"single row, CompiledForest        : p50 {cf50:8.1f} us  p99 {cf99:8.1f} us  ({len(cf)} calls)"
    )

    threads = forest_module._THREADS

    def one_thread() -> object:
        forest_module._THREADS = 1
        try:
            return compiled.score_samples(batch)
        finally:
            forest_module._THREADS = threads

    sk_s, cf_s, cf1_s = best_of_interleaved(
        [lambda: forest.score_samples(batch), lambda: compiled.score_samples(batch), one_thread],
        repeat=5,
    )
    print(
        f"batch of {len(batch):,}, sklearn score_samples : {len(batch) / sk_s:12,.0f} rows/s ({sk_s:.3f} s)"
    )
    print(
        f"batch of {len(batch):,}, CompiledForest (1 thread) : {len(batch) / cf1_s:8,.0f} rows/s ({cf1_s:.3f} s)"
    )
    print(
        f"batch of {len(batch):,}, CompiledForest ({threads} threads): {len(batch) / cf_s:8,.0f} rows/s ({cf_s:.3f} s)"
    )
    print(
        f"compiled is {sk50 / cf50:.0f}x faster on one row (p50; {sk99 / cf99:.0f}x at p99) "
        f"and {sk_s / cf_s:.1f}x faster on batches of {len(batch):,} "
        f"({sk_s / cf1_s:.1f}x on one thread; scikit-learn's score_samples uses one)"
    )
    explained(compiled, batch, rows)


def explained(compiled: CompiledForest, batch: np.ndarray, rows: np.ndarray) -> None:
    """Explained scores (score and attributions, as every scored window needs): two walks or one.

    Before ADR 0058 the detector called ``anomaly_score`` and ``attributions`` (two walks
    of the trees); it now calls ``scores_and_attributions`` (one walk, the same answers).
    """

    def two(x: np.ndarray) -> object:
        return compiled.anomaly_score(x), compiled.attributions(x)

    two_rows = latencies(two, rows, budget_s=10.0)
    one_rows = latencies(compiled.scores_and_attributions, rows, budget_s=10.0)
    t50, t99 = np.percentile(two_rows, [50, 99]) * 1e6
    o50, o99 = np.percentile(one_rows, [50, 99]) * 1e6
    print(f"explained, single row, two walks : p50 {t50:8.1f} us  p99 {t99:8.1f} us")
    print(f"explained, single row, one walk  : p50 {o50:8.1f} us  p99 {o99:8.1f} us")
    two_s, one_s = best_of_interleaved(
        [lambda: two(batch), lambda: compiled.scores_and_attributions(batch)], repeat=3
    )
    print(
        f"explained, batch of {len(batch):,}: two walks {len(batch) / two_s:,.0f} rows/s, "
        f"one walk {len(batch) / one_s:,.0f} rows/s ({two_s / one_s:.2f}x)"
    )


if __name__ == "__main__":
    main()
