"""One shared model or one model per cloud (issue #18 item 6, ADR 0055): the alert budget of each.

Simulates the organisation in every cloud (``simulate --cloud all``), then for each way of
modelling (``shared``: one detector on every cloud's baseline; ``per-cloud``: one detector
per cloud on its own baseline) scores each cloud's test week with its own labels and the
simulator's policy, and prints a table: scenarios caught at medium+, hard negatives flagged,
benign medium+ findings a day and the window ROC-AUC, per cloud.

    .venv/bin/python -P bench/cloud_models.py                      # small org, seed 5, 14 days
    .venv/bin/python -P bench/cloud_models.py --seeds 5 11 --scale 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from training import cloud_budgets


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--org", default="small", choices=["small", "large"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[5])
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--baseline", type=int, default=14)
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        for models in ("shared", "per-cloud"):
            out = tempfile.mkdtemp(prefix="cw-cloud-models-", dir=os.environ.get("TMPDIR"))
            started = time.perf_counter()
            try:
                runs = cloud_budgets(
                    os.path.join(out, "sim"),
                    seed=seed,
                    baseline_days=args.baseline,
                    models=models,
                    simulate_options={"org": args.org, "scale": args.scale},
                )
            finally:
                shutil.rmtree(out, ignore_errors=True)
            seconds = time.perf_counter() - started
            for cloud, run in runs.items():
                budget = run.budget
                auc = None if run.window_auc is None else round(run.window_auc, 4)
                rows.append(
                    f"| {seed} | {models} | {cloud} | {len(budget.caught)}/{len(budget.scenarios)}"
                    f" ({', '.join(budget.missed) or '-'}) | {len(budget.flagged)}/"
                    f"{len(budget.hard_negatives)} | {budget.benign_medium_plus_per_day} | {auc} |"
                    f" {seconds:.0f} s |"
                )
    print("| seed | models | cloud | caught (missed) | hard negatives flagged | "
          "benign medium+/day | window AUC | run |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
