"""Open an MLflow run page in headless Chromium and save screenshots of it.

Checks what a data scientist sees when reviewing a training run: the experiment's runs
table, the run overview (params, metrics, tags), the model card, the reviewer's pack
(confusion matrix, PR and ROC curves, threshold table, false positives per identity,
intervals), the top-anomalies table, and the registered model and version pages. Starts
its own ``mlflow server`` on a free loopback port against the given store.

Usage::

    python scripts/screenshot_mlflow.py --tracking-uri sqlite:///demo/mlflow.db --out shots/

Needs Debian's ``chromium`` (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1600,1800",
    "--virtual-time-budget=20000",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def latest_run(tracking_uri: str, experiment: str | None) -> tuple[str, str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiments = [e for e in client.search_experiments() if e.name != "Default"]
    if experiment:
        experiments = [e for e in experiments if e.name == experiment]
    runs = client.search_runs(
        [e.experiment_id for e in experiments], order_by=["start_time DESC"], max_results=1
    )
    if not runs:
        raise SystemExit("no run found")
    return runs[0].info.experiment_id, runs[0].info.run_id


def registered(tracking_uri: str, run_id: str) -> list[tuple[str, str]]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    versions = client.search_model_versions(f"run_id = '{run_id}'")
    return [(v.name, str(v.version)) for v in versions]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--experiment")
    parser.add_argument("--out", type=Path, default=Path("shots"))
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    experiment_id, run_id = latest_run(args.tracking_uri, args.experiment)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", args.tracking_uri,
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        args.out.mkdir(parents=True, exist_ok=True)
        run = f"{base}/#/experiments/{experiment_id}/runs/{run_id}"
        pages = {
            "experiment-default-view": f"{base}/#/experiments/{experiment_id}",
            "experiment-runs": f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning",
            "run-overview": run,
            "run-model-card": f"{run}/artifacts/model_card.md",
            "run-confusion-matrix": f"{run}/artifacts/plots/confusion_matrix.png",
            "run-pr-curve": f"{run}/artifacts/plots/pr_curve.png",
            "run-roc-curve": f"{run}/artifacts/plots/roc_curve.png",
            "run-thresholds": f"{run}/artifacts/evaluation/thresholds.json",
            "run-false-positives": f"{run}/artifacts/evaluation/false_positives_by_identity.json",
            "run-intervals": f"{run}/artifacts/evaluation/intervals.json",
            "run-score-distribution": f"{run}/artifacts/plots/score_distribution.png",
            "run-top-anomalies": f"{run}/artifacts/top_windows.json",
            "run-metrics-glossary": f"{run}/artifacts/metrics.md",
        }
        for name, version in registered(args.tracking_uri, run_id):
            pages["registered-model"] = f"{base}/#/models/{name}"
            pages["model-version"] = f"{base}/#/models/{name}/versions/{version}"
        for name, url in pages.items():
            target = args.out / f"{name}.png"
            subprocess.run(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={args.out / '.profile'}", f"--screenshot={target}", url],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
            )  # fmt: skip
            print(f"{target}  <-  {url}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
