"""The demo, as `make demo` runs it: what a newcomer is shown, and that each of it works.

The demo is run once for the module (simulate, ingest, train, register, promote, score);
the tests then check what it built and printed, that a second run reuses it, that busy
ports stop it before any work, and (slow) that the services it starts answer the very
commands it prints.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from changewatch.cli import cli
from changewatch.demo_examples import ATTACK_SCENARIO, check_ports, curl_examples, registry_links
from changewatch.errors import ConfigurationError
from serving.api import free_port

pytestmark = pytest.mark.xdist_group("demo")  # one worker builds the demo and serves it

ARGS = ["--days", "21", "--seed", "11"]


@dataclass(frozen=True)
class DemoRun:
    """The demo's folder and what its first run printed."""

    out: Path
    first: Result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """One demo run without the services; MLflow kept in its own store and model cache."""
    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setenv("CHANGEWATCH_CACHE", str(root / "cache"))
        out = root / "demo"
        first = CliRunner().invoke(cli, ["demo", "--out", str(out), *ARGS, "--no-serve"])
        yield DemoRun(out, first)


def test_the_demo_builds_everything(demo: DemoRun) -> None:
    assert demo.first.exit_code == 0, demo.first.output
    assert "registered as challenger" in demo.first.output
    assert "promotion: first" in demo.first.output
    findings = [json.loads(line) for line in (demo.out / "findings.jsonl").read_text().splitlines()]
    assert {"critical", "high"} & {f["severity"] for f in findings}
    assert "severity  score  when (UTC)" in demo.first.output  # the findings table was printed
    assert "the analyst's loop: a benign verdict through the API" in demo.first.output
    assert "is now suppressed" in demo.first.output
    assert "kind=hard_negative" in demo.first.output


def test_the_demo_keeps_the_champions_run_for_its_links(demo: DemoRun) -> None:
    run = json.loads((demo.out / "model.json").read_text())
    assert run["name"] == "changewatch"
    assert run["version"] == "1"
    assert re.fullmatch(r"[0-9a-f]{32}", run["run_id"])
    links = dict(registry_links("http://127.0.0.1:5000", run))
    assert links["run"] == (
        f"http://127.0.0.1:5000/#/experiments/{run['experiment_id']}/runs/{run['run_id']}"
        "?workflowType=machine_learning"
    )
    assert links["registered model"] == "http://127.0.0.1:5000/#/models/changewatch"
    assert links["its version"] == "http://127.0.0.1:5000/#/models/changewatch/versions/1"


def test_the_demo_writes_an_attack_of_the_test_week_to_replay(demo: DemoRun) -> None:
    example = demo.out / "examples" / "snapshot-share-exfil.json"
    records = json.loads(example.read_text())["Records"]
    labels = pd.read_parquet(demo.out / "sim" / "labels.parquet")
    attack = labels[(labels["scenario"] == ATTACK_SCENARIO) & (labels["kind"] == "attack")]
    assert sorted(r["eventID"] for r in records) == sorted(attack["event_id"])
    test_start = json.loads((demo.out / "sim" / "manifest.json").read_text())["test"]["start"]
    assert all(r["eventTime"] >= test_start for r in records)  # inside the model's time frame
    assert "ModifySnapshotAttribute" in {r["eventName"] for r in records}


def test_a_second_run_reuses_what_the_first_built(demo: DemoRun) -> None:
    second = CliRunner().invoke(cli, ["demo", "--out", str(demo.out), *ARGS, "--no-serve"])
    assert second.exit_code == 0, second.output
    assert "reusing the simulated organisation" in second.output
    assert "reusing the registered model" in second.output


@pytest.mark.parametrize("busy", ["api", "ui"])
def test_a_busy_port_stops_the_demo_before_any_work(busy: str, tmp_path: Path) -> None:
    api, ui = free_port(), free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", api if busy == "api" else ui))
        taken.listen()
        ports = ["--api-port", str(api), "--ui-port", str(ui)]
        result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "demo"), *ports])
    assert result.exit_code == 1
    assert "already in use, so nothing was started" in result.output
    assert re.search(r"make demo API_PORT=\d+ UI_PORT=\d+", result.output)
    assert str(api if busy == "api" else ui) in result.output
    assert not (tmp_path / "demo").exists()


def test_one_port_for_both_services_is_refused() -> None:
    port = free_port()
    with pytest.raises(ConfigurationError, match="cannot share port"):
        check_ports("127.0.0.1", port, port)


def test_the_examples_are_the_scored_attack_and_the_ignored_recording(tmp_path: Path) -> None:
    examples = curl_examples("http://127.0.0.1:8000", tmp_path / "attack.json")
    said = " ".join(comment for comment, _ in examples)
    commands = [command for _, command in examples]
    assert "the model scores it" in said
    assert "ignored_by_model says why" in said
    assert any(f"@{tmp_path / 'attack.json'}" in c for c in commands)
    assert any("aws.exfiltration.ec2-share-ebs-snapshot.json" in c for c in commands)


def _printed(process: subprocess.Popen[str], until: str, seconds: float) -> list[str]:
    """Lines the demo printed up to the one containing ``until``."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line.rstrip("\n"))
        if until in line:
            return lines
    raise AssertionError("the demo did not get to " + repr(until) + ":\n" + "\n".join(lines))


def _shell(command: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_a_newcomer_pastes_what_the_demo_prints(demo: DemoRun, tmp_path: Path) -> None:
    env = {**os.environ, "CHANGEWATCH_CACHE": str(tmp_path / "cache")}
    env.pop("MLFLOW_TRACKING_URI", None)
    api, ui = free_port(), free_port()
    command = [sys.executable, "-m", "changewatch", "demo", "--out", str(demo.out), *ARGS]
    command += ["--api-port", str(api), "--ui-port", str(ui)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        lines = _printed(process, "Ctrl-C stops both.", 240)
        text = "\n".join(lines)
        assert f"MLflow UI    http://127.0.0.1:{ui}" in text
        assert "?workflowType=machine_learning" in text
        assert f"http://127.0.0.1:{ui}/#/models/changewatch/versions/1" in text
        [export] = [line.strip() for line in lines if "export MLFLOW_TRACKING_URI=" in line]
        commands = [line.strip() for line in lines if line.strip().startswith("curl ")]
        assert len(commands) == 4

        ready, attack, recording, model = (_shell(c, env) for c in commands)
        assert json.loads(ready)["status"] == "ready"
        percentiles = [float(v) for v in re.findall(r'"percentile": ([0-9.]+)', attack)]
        assert percentiles
        assert max(percentiles) >= 99
        assert '"severity": "critical"' in attack or '"severity": "high"' in attack
        assert '"ignored_by_model": {' in recording
        assert "older than the model's profiles" in recording
        assert json.loads(model)["alias"] == "champion"

        # the printed store is the one the model is in: `score` finds it, creates nothing
        findings = tmp_path / "findings.jsonl"
        example = demo.out / "examples" / "snapshot-share-exfil.json"
        scored = _shell(
            f"{export} && {sys.executable} -m changewatch score --model "
            f"models:/changewatch@champion --events {example} --out {findings}",
            {**env, "HOME": str(tmp_path)},
        )
        summary = json.loads(scored.splitlines()[-1])
        assert summary["windows_scored"] >= 1
        assert summary["findings"] >= 1
        assert not (Path.cwd() / "mlruns.db").exists()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
