"""Benchmark: behavioural vectors of one million canonical events on one core.

Generates a simulated month (``bench/_generate.py``), featurises it with
:func:`features.behaviour_vectors`, and compares events/s with the straightforward
``groupby().apply`` implementation of the same catalogue (``bench/baseline_features.py``).
The baseline is far too slow for a million events, so both run on the same sample of
identities (``--baseline-events``) and the full run is timed for ours only; the sample's
vectors are also checked to be equal.

Usage::

    .venv/bin/python bench/features.py [--events 1000000] [--baseline-events 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# This script is bench/features.py: keep its folder off the path while the package
# ``features`` is imported, then add it back for the generator and the baseline.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from features import FeatureConfig, behaviour_vectors  # noqa: E402

sys.path.append(_HERE)
from _generate import generate  # noqa: E402
from baseline_features import baseline_vectors  # noqa: E402

CPU: dict[str, float] = {}


def _timed(fn, *args, repeat: int = 1):  # type: ignore[no-untyped-def]
    """Best wall time of ``repeat`` calls (CPU time of that call kept in ``CPU``)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        wall = time.perf_counter() - started
        if wall < best:
            best, CPU["last"] = wall, time.process_time() - cpu
    return best, result


def _sample(events: pd.DataFrame, target: int, seed: int = 1) -> pd.DataFrame:
    """Whole identities, drawn at random, until about ``target`` events."""
    counts = events["identity_key"].value_counts()
    rng = np.random.default_rng(seed)
    chosen, total = [], 0
    for key in rng.permutation(counts.index.to_numpy()):
        if total + counts[key] > target * 1.2:
            continue
        chosen.append(key)
        total += counts[key]
        if total >= target:
            break
    return events[events["identity_key"].isin(chosen)].reset_index(drop=True)


def plain_aggregation(events: pd.DataFrame) -> pd.DataFrame:
    """Reference floor: counts and distinct values per identity-hour, plain pandas."""
    keys = [events["identity_key"], events["event_time"].dt.floor("1h")]
    return events.groupby(keys).agg(
        n_events=("event_id", "size"),
        n_changes=("is_compute_change", "sum"),
        n_regions=("region", "nunique"),
        n_networks=("network", "nunique"),
        n_clients=("user_agent", "nunique"),
        n_errors=("error_code", "count"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with contextlib.suppress(AttributeError, OSError):  # one core, as the goal says
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    config = FeatureConfig()

    started = time.perf_counter()
    events = generate(args.events)
    print(
        f"generated {len(events):,} events, {events['identity_key'].nunique()} identities "
        f"in {time.perf_counter() - started:.1f} s"
    )
    seconds, vectors = _timed(behaviour_vectors, events, None, repeat=args.repeat)
    rate = len(events) / seconds
    print(
        f"changewatch  full : {len(events):>9,} events -> {len(vectors):,} vectors in "
        f"{seconds:6.2f} s = {rate:>12,.0f} events/s (CPU {CPU['last']:.2f} s; wall > CPU "
        "means the shared core was busy)"
    )

    plain_s, plain = _timed(plain_aggregation, events, repeat=args.repeat)
    print(
        f"reference   full : plain pandas groupby-agg of 6 counts per identity-hour "
        f"({len(plain):,} rows) in {plain_s:6.2f} s"
    )

    sample = _sample(events, args.baseline_events)
    ours_s, ours = _timed(behaviour_vectors, sample, None, repeat=args.repeat)
    base_s, base = _timed(baseline_vectors, sample, config)
    print(
        f"changewatch sample: {len(sample):>9,} events -> {len(ours):,} vectors in "
        f"{ours_s:6.2f} s = {len(sample) / ours_s:>12,.0f} events/s"
    )
    print(
        f"baseline    sample: {len(sample):>9,} events -> {len(base):,} vectors in "
        f"{base_s:6.2f} s = {len(sample) / base_s:>12,.0f} events/s"
    )
    names = [
        c
        for c in ours.columns
        if c not in ("identity_key", "window_start", "window_end", "schema_version")
    ]
    equal = len(ours) == len(base) and all(
        np.allclose(ours[c].to_numpy(), base[c].to_numpy(dtype=float)) for c in names
    )
    print(f"sample vectors equal to the baseline's: {equal}")
    print(
        f"speed-up vs baseline (events/s, full run vs sample): {rate / (len(sample) / base_s):,.0f}x"
    )
    print(f"speed-up vs baseline (same sample): {base_s / ours_s:,.0f}x")
    print(f"one million events in under 10 s: {seconds * 1_000_000 / len(events) < 10}")


if __name__ == "__main__":
    main()
