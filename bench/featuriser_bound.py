"""Benchmark: how much of a live featuriser call an incremental featuriser could save (ADR 0071).

An incremental featuriser pays for a call's new events only, not again for the identity's
open events. Whatever it keeps beside the events, it cannot cost less than a call whose
state holds no more open events than it needs. So this replays captured
``FeatureState.vectors`` calls with each state's open events cut to its last ``k``
(same profiles, same column form, the codes renumbered before the clock starts) and
reports the CPU per call for each ``k``: the cost at ``k = 1`` against the cost with all
the open events bounds what any incremental design could save on that workload. The
vectors of the cut calls differ (their windows hold fewer events); only their cost is read.

``capture`` runs a script (``bench/model_path.py``, the acceptance check's workload) with
``FeatureState.vectors`` recorded
and keeps its last calls; ``replay`` times them. Rounds alternate over the ``k`` values;
process time.

Usage::

    .venv/bin/python -P bench/featuriser_bound.py capture OUT.pkl bench/model_path.py --rounds 1
    .venv/bin/python bench/featuriser_bound.py replay OUT.pkl [--keep 0 1 4 16] [--rounds 12] [--least N]
    .venv/bin/python bench/featuriser_bound.py families OUT.pkl [--rounds 20]
"""

from __future__ import annotations

import argparse
import atexit
import collections
import os
import pickle
import runpy
import statistics
import sys
import time
from typing import Any

# This script is in bench/, beside bench/features.py: keep its folder off the path while
# the package ``features`` is imported.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import numpy as np  # noqa: E402

import features._vectors as vectors  # noqa: E402
from features import FeatureState  # noqa: E402

Call = tuple[FeatureState, Any, dict[str, Any]]


def capture(out: str, script: str, args: list[str], last: int) -> None:
    """Run ``script`` with ``FeatureState.vectors`` recorded; pickle its last ``last`` calls."""
    calls: list[Call] = []
    original = FeatureState.vectors

    def recorded(self: FeatureState, events: Any, **kwargs: Any) -> Any:
        calls.append((self, events.copy(), kwargs))
        del calls[:-last]
        return original(self, events, **kwargs)

    FeatureState.vectors = recorded  # type: ignore[method-assign]

    def dump() -> None:
        with open(out, "wb") as handle:
            pickle.dump(calls, handle)

    atexit.register(dump)
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


def cut(calls: list[Call], keep: int | None) -> list[Call]:
    """The calls with each state's open events cut to its last ``keep`` (``None``: all)."""
    out: list[Call] = []
    for state, events, kwargs in calls:
        columns = state.open_events
        if keep is None or columns is None or len(columns) <= keep:
            out.append((state, events, kwargs))
            continue
        if keep == 0:
            out.append((FeatureState(state.profiles), events, kwargs))
            continue
        n = len(columns)
        taken = columns.take(np.arange(n - keep, n))
        for name in columns.names:  # renumbered now, not on the clock
            taken.coding(name)
        out.append((FeatureState(state.profiles, taken), events, kwargs))
    return out


def timed(calls: list[Call]) -> float:
    """CPU ms per call of one pass over ``calls``."""
    start = time.process_time()
    for state, events, kwargs in calls:
        state.vectors(events, **kwargs)
    return (time.process_time() - start) * 1000 / len(calls)


def replay(path: str, keeps: list[int], rounds: int, least: int) -> None:
    with open(path, "rb") as handle:
        calls: list[Call] = pickle.load(handle)
    calls = [call for call in calls if call[0].n_recent >= least]
    variants: dict[str, list[Call]] = {str(k): cut(calls, k) for k in keeps}
    variants["all"] = calls
    for _ in range(2):  # warm up
        for variant in variants.values():
            timed(variant)
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, variant in variants.items():
            results[name].append(timed(variant))
    kept = np.array([state.n_recent for state, _, _ in calls])
    print(
        f"{len(calls)} calls; open events per call: mean {kept.mean():.1f}, "
        f"median {np.median(kept):.0f}, max {kept.max()}"
    )
    whole = statistics.median(results["all"])
    print("| open events kept | CPU ms per call (median of rounds) | of all kept |")
    print("|---|---|---|")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.3f} | {100 * median / whole:.0f}% |")


def families(path: str, rounds: int) -> None:
    """Print the wall time per call of each feature family (wrapped; a profile of the fixed cost)."""
    with open(path, "rb") as handle:
        calls: list[Call] = pickle.load(handle)
    spent: collections.Counter[str] = collections.Counter()

    def wrapped(owner: Any, name: str) -> None:
        function = getattr(owner, name)

        def timer(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        setattr(owner, name, timer)

    for name in (
        "__init__",
        "volume",
        "identity_history",
        "priors",
        "rhythm",
        "organisation",
        "table",
    ):
        wrapped(vectors._Featuriser, name)
    for name in ("pooled_events", "prepare", "sequence_counts"):
        wrapped(vectors, name)
    for _ in range(2):
        timed(calls)
    spent.clear()
    start = time.perf_counter()
    for _ in range(rounds):
        timed(calls)
    n = rounds * len(calls)
    print(f"vectors, wall ms per call (wrapped): {(time.perf_counter() - start) * 1000 / n:.3f}")
    print("| step | ms per call |")
    print("|---|---|")
    for name, seconds in spent.most_common():
        print(f"| {name} | {seconds * 1000 / n:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("out")
    cap.add_argument("script")
    cap.add_argument("args", nargs=argparse.REMAINDER)
    cap.add_argument("--last", type=int, default=120)
    rep = sub.add_parser("replay")
    rep.add_argument("path")
    rep.add_argument("--keep", type=int, nargs="+", default=[0, 1, 4, 16])
    rep.add_argument("--rounds", type=int, default=12)
    rep.add_argument("--least", type=int, default=0, help="only calls with this many open events")
    fam = sub.add_parser("families")
    fam.add_argument("path")
    fam.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args()
    if options.command == "capture":
        capture(options.out, options.script, options.args, options.last)
    elif options.command == "families":
        families(options.path, options.rounds)
    else:
        replay(options.path, options.keep, options.rounds, options.least)


if __name__ == "__main__":
    main()
