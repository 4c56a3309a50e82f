"""Benchmark: behavioural vectors on Spark local[1] and local[2] against one machine.

Generates a simulated month (``bench/_generate.py``), writes it as canonical Parquet,
then featurises it three ways and prints events/s:

* ``single``: ``features.read_events`` + ``features.behaviour_vectors`` in this process;
* ``local[1]`` and ``local[2]``: ``spark.read.parquet`` + ``training.spark.spark_vectors``
  written to Spark's ``noop`` sink, each in a fresh process (its own JVM). The session
  start is reported apart; the timed part is one full job (org_first_use, shuffle,
  featurise), run twice and the best kept.

It shows what Spark costs on data one machine handles, and how it scales with cores
(on a 2-core machine local[2] can at best halve local[1]).

Usage::

    .venv/bin/python -P bench/spark.py [--events 300000] [--identities 400]
"""

from __future__ import annotations

# ruff: noqa: PLC0415 - the parent process must not start a JVM; children import Spark
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]


def _spark_run(master: str, path: str, buckets: int) -> dict[str, float]:
    from training.spark import spark_session, spark_vectors

    started = time.perf_counter()
    spark = spark_session(master, shuffle_partitions=buckets)
    session = time.perf_counter() - started
    best, windows = float("inf"), 0
    for _ in range(2):
        started = time.perf_counter()
        events = spark.read.parquet(path)
        vectors = spark_vectors(events, buckets=buckets)
        vectors.write.format("noop").mode("overwrite").save()
        best = min(best, time.perf_counter() - started)
    windows = spark_vectors(spark.read.parquet(path), buckets=buckets).count()
    spark.stop()
    return {"session_s": session, "seconds": best, "windows": float(windows)}


def main() -> None:
    """Run the comparison and print a table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--identities", type=int, default=400)
    parser.add_argument("--buckets", type=int, default=8, help="identity groups on Spark")
    parser.add_argument("--child", nargs=2, metavar=("MASTER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_spark_run(args.child[0], args.child[1], args.buckets)))
        return

    import pyarrow as pa
    import pyarrow.parquet as pq

    from features import CANONICAL_SCHEMA, behaviour_vectors, read_events

    sys.path.append(_HERE)
    from _generate import generate

    events = generate(args.events, args.identities, seed=11)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.parquet")
        table = pa.Table.from_pandas(events, schema=CANONICAL_SCHEMA, preserve_index=False)
        pq.write_table(table, path)
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            vectors = behaviour_vectors(read_events(path))
            best = min(best, time.perf_counter() - started)
        results["single"] = {"session_s": 0.0, "seconds": best, "windows": float(len(vectors))}
        for master in ("local[1]", "local[2]"):
            child = subprocess.run(
                [
                    sys.executable,
                    "-P",
                    os.path.abspath(__file__),
                    "--buckets",
                    str(args.buckets),
                    "--child",
                    master,
                    path,
                ],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            results[master] = json.loads(child.stdout.strip().splitlines()[-1])
    n = len(events)
    print(f"{n:,} events, {args.identities} identities, {args.buckets} identity groups on Spark")
    print(f"{'engine':<10}{'session s':>11}{'job s':>9}{'events/s':>12}{'windows':>10}")
    for name, r in results.items():
        rate = n / r["seconds"]
        print(
            f"{name:<10}{r['session_s']:>11.1f}{r['seconds']:>9.2f}{rate:>12,.0f}{r['windows']:>10,.0f}"
        )
        r["events_per_second"] = rate
    assert len({r["windows"] for r in results.values()}) == 1, "engines disagree on windows"
    print(json.dumps({"events": n, **results}))


if __name__ == "__main__":
    main()
