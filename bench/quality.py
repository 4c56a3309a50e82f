"""The alert budget on simulated organisations: what a day of findings costs, what it catches.

For each organisation, seed and baseline length: simulate the organisation, train the
detector on the baseline, score the 7-day test period with the baseline as history and the
organisation's own change policy (as ``changewatch score --history ... --windows ...`` does),
and judge the findings against the labels (``training.findings_budget``). Prints, per run,
scenarios caught at medium+, hard negatives flagged, benign findings per day by severity,
identity kind and rule, and the window ROC-AUC, then a table. The model's quality test
(``tests/models/test_quality_budget.py``) asserts the same numbers' floors.

    .venv/bin/python -P bench/quality.py                       # both organisations, 14 and 28 days
    .venv/bin/python -P bench/quality.py --orgs small --baselines 14 --seeds 3 4
    .venv/bin/python -P bench/quality.py --json quality.json   # also write every budget
    .venv/bin/python -P bench/quality.py --clouds aws azure gcp --orgs small --baselines 14

Goals (issue #13): every attack scenario at medium or higher, 0 hard negatives at medium or
higher, at most 2 benign medium+ findings a day, window ROC-AUC >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from typing import Any

from training import simulated_budget

ORGANISATIONS: dict[str, dict[str, Any]] = {"small": {"org": "small"}, "large": {"org": "large"}}
"""Simulator options of each organisation: the simulator's presets (docs/simulator.md)."""


def run(
    org: str, seed: int, baseline: int, scale: float | None = None, cloud: str = "aws"
) -> dict[str, Any]:
    out = tempfile.mkdtemp(prefix=f"cw-quality-{org}-", dir=os.environ.get("TMPDIR"))
    started = time.perf_counter()
    try:
        result = simulated_budget(
            os.path.join(out, "sim"),
            seed=seed,
            baseline_days=baseline,
            simulate_options=ORGANISATIONS[org]
            | ({"scale": scale} if scale else {})
            | {"cloud": cloud},
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    budget = result.budget.to_json()
    return {
        "org": org,
        "cloud": cloud,
        "seed": seed,
        "baseline_days": baseline,
        "seconds": round(time.perf_counter() - started, 1),
        "window_auc": None if result.window_auc is None else round(result.window_auc, 4),
        **budget,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--orgs", nargs="+", default=list(ORGANISATIONS), choices=list(ORGANISATIONS)
    )
    parser.add_argument(
        "--clouds",
        nargs="+",
        default=["aws"],
        choices=["aws", "azure", "gcp", "all"],
        help="clouds simulated (ADR 0054); each is measured on its own",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[11])
    parser.add_argument("--scale", type=float, help="simulator scale (default: the preset's)")
    parser.add_argument("--baselines", nargs="+", type=int, default=[14, 28])
    parser.add_argument("--json", help="write every run's budget here")
    parser.add_argument("--examples", action="store_true", help="print each benign medium+ finding")
    args = parser.parse_args()
    runs = []
    for cloud, org, seed, baseline in (
        (c, o, s, b)
        for c in args.clouds
        for o in args.orgs
        for s in args.seeds
        for b in args.baselines
    ):
        one = run(org, seed, baseline, args.scale, cloud)
        runs.append(one)
        print(
            f"{cloud:>5} {org:>5} seed {seed:>3} {baseline:>2}-day baseline: caught {one['caught']}"
            f" (missed {', '.join(one['missed']) or '-'}), hard negatives flagged "
            f"{one['hard_negatives_flagged']} ({', '.join(one['flagged']) or '-'}), "
            f"benign medium+ {one['benign_medium_plus_per_day']}/day, "
            f"AUC {one['window_auc']} [{one['seconds']} s]"
        )
        print(f"      benign per day by severity {one['benign_per_day']}")
        print(f"      benign medium+ per day by kind {one['benign_by_kind']}")
        print(f"      benign medium+ per day by rule {one['benign_by_rule']}")
        if args.examples:
            for example in one["benign_examples"]:
                print(f"        {json.dumps(example)}")
    print()
    print(
        "| cloud | org | seed | baseline | caught | hard negatives flagged | benign medium+/day | "
        "benign low/day | benign info/day | window AUC |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for one in runs:
        per_day = one["benign_per_day"]
        print(
            f"| {one['cloud']} | {one['org']} | {one['seed']} | {one['baseline_days']} d | {one['caught']} | "
            f"{one['hard_negatives_flagged']} | {one['benign_medium_plus_per_day']} | "
            f"{per_day['low']} | {per_day['info']} | {one['window_auc']} |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(runs, handle, indent=2)


if __name__ == "__main__":
    main()
