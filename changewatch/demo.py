"""The demo: a month of an organisation's CloudTrail, from simulation to a running API.

Each step writes into one folder and is skipped when its output is already there, so a
second ``make demo`` starts the services at once. Heavy packages (MLflow, FastAPI) are
imported only by the steps that need them. What a newcomer is handed at the end (example
requests, links into MLflow) is in :mod:`changewatch.demo_examples`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["DemoPlan", "prepare", "serve_until_interrupted"]

logger = logging.getLogger(__name__)

MODEL_NAME = "changewatch"
CHAMPION_URI = f"models:/{MODEL_NAME}@champion"

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """Where the demo keeps everything, and its settings."""

    folder: Path
    days: int = 28
    seed: int = 7
    scale: float = 1.0
    host: str = "127.0.0.1"
    api_port: int = 8000
    ui_port: int = 5000

    @property
    def sim(self) -> Path:
        """The simulated organisation (trail, labels, policy, GeoIP, manifest)."""
        return self.folder / "sim"

    @property
    def events(self) -> Path:
        """The canonical event table."""
        return self.folder / "events.parquet"

    @property
    def tracking_uri(self) -> str:
        """The demo's own MLflow store (SQLite, artifacts beside it)."""
        return f"sqlite:///{(self.folder / 'mlflow.db').resolve()}"

    @property
    def findings(self) -> Path:
        """Findings of the test week, JSON lines."""
        return self.folder / "findings.jsonl"

    @property
    def policy(self) -> list[Path]:
        """The organisation's change policy files."""
        return [self.sim / "change_windows.yaml", self.sim / "automation.yaml"]

    @property
    def model_record(self) -> Path:
        """The champion's run, experiment, name and version (JSON), for the MLflow links."""
        return self.folder / "model.json"

    @property
    def attack_example(self) -> Path:
        """A request body: an attack of the test week, replayed as CloudTrail records."""
        return self.folder / "examples" / "snapshot-share-exfil.json"

    @property
    def api_url(self) -> str:
        """Where the scoring API listens."""
        return f"http://{self.host}:{self.api_port}"

    @property
    def ui_url(self) -> str:
        """Where the MLflow UI listens."""
        return f"http://{self.host}:{self.ui_port}"


def _manifest(plan: DemoPlan) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((plan.sim / "manifest.json").read_text())
    return data


def _quiet_mlflow() -> None:
    """Keep MLflow's own progress bars, schema notes and source warnings off the demo's output."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\..*")


def _simulate(plan: DemoPlan, say: Say) -> None:
    marker = plan.sim / "manifest.json"
    if marker.exists():
        manifest = _manifest(plan)
        if manifest.get("seed") == plan.seed and manifest.get("days") == plan.days:
            say(f"reusing the simulated organisation in {plan.sim}")
            return
        say(f"{plan.sim} holds another simulation (seed/days differ): simulating afresh")
        shutil.rmtree(plan.sim)
        for made in (plan.events, plan.model_record, plan.attack_example):
            made.unlink(missing_ok=True)  # and so the model is trained again
    from training.simulation import simulate

    say(f"simulating {plan.days} days of CloudTrail (seed {plan.seed}), attacks in the last week")
    result = simulate(plan.sim, days=plan.days, seed=plan.seed, scale=plan.scale, test_days=7)
    say(f"  {result.events:,} events in {result.files:,} files")


def _ingest(plan: DemoPlan, say: Say) -> None:
    if plan.events.exists():
        say(f"reusing {plan.events}")
        return
    from features import IngestOptions, ingest

    say("ingesting the trail into the canonical event table")
    report = ingest(
        [plan.sim / "AWSLogs"],
        plan.events,
        options=IngestOptions(geoip=str(plan.sim / "geo.mmdb"), jobs=os.cpu_count() or 1),
    )
    say(
        f"  {report.kept:,} events kept, {report.rejected} rejected, {report.duplicates} duplicates"
    )


def _champion_exists(plan: DemoPlan) -> bool:
    # MLflow stays inside training/: ask it through training.describe_model.
    from changewatch.errors import ConfigurationError
    from training import describe_model

    try:
        describe_model(CHAMPION_URI, tracking_uri=plan.tracking_uri)
    except ConfigurationError:
        return False
    return True


def _train(plan: DemoPlan, say: Say) -> None:
    if plan.model_record.exists() and _champion_exists(plan):
        say(f"reusing the registered model {CHAMPION_URI}")
        return
    from training import promote, train

    until = _manifest(plan)["baseline"]["end"]
    say(f"training on the baseline weeks (until {until}) and logging the run to MLflow")
    result = train(
        [str(plan.events)],
        until=until,
        labels=plan.sim / "labels.parquet",
        register_as=MODEL_NAME,
        tracking_uri=plan.tracking_uri,
        experiment="changewatch-demo",
        run_name="demo",
    )
    nan = float("nan")
    metrics = result.metrics
    say(
        f"  run {result.run_id}: test-week ROC-AUC {metrics.get('eval_roc_auc', nan):.3f}, "
        f"PR-AUC {metrics.get('eval_pr_auc', nan):.3f}; registered as challenger"
    )
    decision = promote(MODEL_NAME, tracking_uri=plan.tracking_uri)
    say(f"  promotion: {decision.to_json().get('decision', decision)}")
    record = {
        "name": MODEL_NAME,
        "version": str(result.version),
        "run_id": result.run_id,
        "experiment_id": result.experiment_id,
    }
    plan.model_record.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def _examples(plan: DemoPlan, say: Say) -> None:
    from changewatch.demo_examples import ATTACK_SCENARIO, write_attack_example

    if plan.attack_example.exists():
        return
    count = write_attack_example(plan.sim, plan.attack_example)
    say(f"  the {ATTACK_SCENARIO} attack ({count} records) written to {plan.attack_example}")


def _score(plan: DemoPlan, say: Say) -> list[Any]:
    from changewatch.model_uri import load_cli_scorer
    from features import read_events
    from models.scoring import load_policy, score_events

    say("scoring the test week with the champion model, the rules and the change windows")
    events = read_events(plan.events)
    end = pd.Timestamp(_manifest(plan)["baseline"]["end"])
    scorer = load_cli_scorer(CHAMPION_URI, plan.tracking_uri)
    policy = load_policy(*plan.policy)
    baseline = events[events["event_time"] < end]
    result = score_events(events[events["event_time"] >= end], policy, scorer, history=baseline)
    with plan.findings.open("w", encoding="utf-8") as out:
        for finding in result.findings:
            out.write(finding.model_dump_json() + "\n")
    say(f"  {len(result.findings)} findings written to {plan.findings}")
    return list(result.findings)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def findings_table(findings: list[Any], top: int = 12) -> str:
    """Return the top findings as a fixed-width table an analyst can read in a terminal."""
    ranked = sorted(findings, key=lambda f: f.score, reverse=True)[:top]
    lines = [f"{'severity':9} {'score':>5}  {'when (UTC)':16}  {'identity':38}  why"]
    for finding in ranked:
        identity = finding.identity.split(":", 5)[-1]
        why = "; ".join(finding.reasons[:2])
        lines.append(
            f"{finding.severity:9} {finding.score:5.1f}  "
            f"{finding.window_start:%Y-%m-%d %H:%M}  {_cut(identity, 38):38}  {_cut(why, 110)}"
        )
        if finding.rules:
            lines.append(f"{'':35}  rules: {', '.join(finding.rules)}")
    return "\n".join(lines)


def prepare(plan: DemoPlan, say: Say) -> list[Any]:
    """Simulate, ingest, train, register, promote and score; return the findings."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = plan.tracking_uri
    _quiet_mlflow()
    _simulate(plan, say)
    _ingest(plan, say)
    _train(plan, say)
    findings = _score(plan, say)
    _examples(plan, say)
    return findings


def _wait_for(url: str, seconds: float, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status < 500:
                    return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    return False


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _introduce(plan: DemoPlan, ui_up: bool, say: Say) -> None:
    """Print where everything is, how to reach the store, and requests to paste."""
    from changewatch.demo_examples import curl_examples, registry_links

    say("")
    say(f"scoring API  {plan.api_url}   (OpenAPI docs at /docs; no API keys: loopback only)")
    say(f"MLflow UI    {plan.ui_url}{'' if ui_up else '   (still starting)'}")
    if plan.model_record.exists():
        run = json.loads(plan.model_record.read_text())
        for label, link in registry_links(plan.ui_url, run):
            say(f"  {label + ':':18}{link}")
    say("")
    say("the demo's MLflow store, for changewatch score/serve/promote in another shell:")
    say(f"  export MLFLOW_TRACKING_URI={plan.tracking_uri}")
    say("")
    say("try:")
    for comment, example in curl_examples(plan.api_url, plan.attack_example):
        say(f"  # {comment}")
        say(f"  {example}")
    say("")
    say("Ctrl-C stops both.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_until_interrupted(plan: DemoPlan, say: Say) -> int:
    """Start the scoring API and the MLflow UI, print how to use them, stop both on Ctrl-C."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": plan.tracking_uri}
    # Ctrl-C and `kill` both stop the demo cleanly, even when started from a script that
    # ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    api = [
        sys.executable, "-m", "changewatch", "serve", "--model", CHAMPION_URI,
        "--host", plan.host, "--port", str(plan.api_port),
        "--state", str(plan.folder / "state.db"),
        *[arg for path in plan.policy for arg in ("--windows", str(path))],
    ]  # fmt: skip
    ui = [
        sys.executable, "-m", "mlflow", "server", "--backend-store-uri", plan.tracking_uri,
        "--host", plan.host, "--port", str(plan.ui_port), "--workers", "1",
    ]  # fmt: skip
    processes = [
        subprocess.Popen(api, env=env),
        subprocess.Popen(ui, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        api_up = _wait_for(f"http://{plan.host}:{plan.api_port}/healthz", 60, processes[0])
        ui_up = _wait_for(f"http://{plan.host}:{plan.ui_port}/health", 90, processes[1])
        if not api_up:
            say("the scoring API did not start; see its messages above")
            return 1
        _introduce(plan, ui_up, say)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        say("a service stopped; stopping the other")
        return 1
    except KeyboardInterrupt:
        say("\nstopping the scoring API and the MLflow UI")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop(processes)
