"""``changewatch serve`` with a model that cannot be loaded stops at start, naming it and why.

``--allow-degraded`` starts it with the rules alone instead (and every answer says why);
``--model none`` is the rules alone by choice and starts as before. A hostile
``--windows`` file (too deep, too big, an alias bomb) and an unsigned bundle under
``--bundle-key`` stop the start the same way: one line naming the file and why, no
traceback (these run the command in-process with the click runner, uvicorn not started).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from bench._generate import generate
from changewatch.cli import cli
from models import ChangeDetector, save_bundle, sign_bundle
from models.scoring import MAX_YAML_BYTES, MAX_YAML_DEPTH
from serving._model_holder import ModelHolder, ModelInfo
from serving.api import free_port
from tests.serving.conftest import alias_bomb


def _serve(*args: str, state: Path, port: int = 0) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [sys.executable, "-m", "changewatch", "serve", "--state", str(state)]
    return subprocess.Popen(
        [*command, "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "extra", "named"),
    [
        pytest.param("{tmp}/no-such-bundle", (), "is not a directory", id="missing-path"),
        pytest.param("{tmp}/empty", (), "{tmp}/empty/manifest.json", id="not-a-bundle"),
        pytest.param(
            "models:/changewatch@champion",
            ("--tracking-uri", "sqlite:///{tmp}/absent.db"),
            "no MLflow tracking store at",
            id="registry-without-store",
        ),
    ],
)
def test_a_model_that_cannot_load_stops_the_start(
    model: str, extra: tuple[str, ...], named: str, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    model, named = model.format(tmp=tmp_path), named.format(tmp=tmp_path)
    args = [a.format(tmp=tmp_path) for a in extra]
    process = _serve("--model", model, *args, state=tmp_path / "state.db")
    try:
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 1
    [line] = [x for x in err.splitlines() if x.startswith("changewatch: error:")]
    assert f"model {model!r} cannot be loaded: " in line
    assert named in line
    assert "Nothing was started" in line
    assert "--allow-degraded" in line
    assert "keeping the current one" not in err
    assert "rules only" not in err  # it does not start with the rules alone
    assert not (tmp_path / "absent.db").exists()  # reading never creates a store


@pytest.fixture
def degraded(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A service told to start although its model cannot be loaded."""
    port = free_port()
    missing = str(tmp_path / "no-such-bundle")
    process = _serve("--model", missing, "--allow-degraded", state=tmp_path / "state.db", port=port)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
                break
            except OSError:
                time.sleep(0.3)
        assert process.poll() is None, process.communicate()[1]
        yield url, missing
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_allow_degraded_serves_the_rules_and_says_why(degraded: tuple[str, str]) -> None:
    url, missing = degraded
    with urllib.request.urlopen(f"{url}/readyz", timeout=10) as answer:
        ready = json.loads(answer.read())
    assert ready["status"] == "degraded"
    assert missing in ready["degraded_reason"]
    assert "could not be loaded" in ready["degraded_reason"]


def test_the_start_load_is_not_done_twice() -> None:
    calls: list[str] = []

    def loader(uri: str) -> tuple[None, ModelInfo]:
        calls.append(uri)
        return None, ModelInfo()

    holder = ModelHolder("none", loader)
    assert holder.load_before_start() == (True, None)
    assert holder.reload() == (True, None)  # the service's start-up load: already done
    assert calls == ["none"]
    holder.reload()  # a later reload loads again
    assert calls == ["none", "none"]


def test_a_failed_start_load_is_reported_again_by_the_start_up_reload() -> None:
    def loader(uri: str) -> tuple[None, ModelInfo]:
        raise OSError("disk gone")

    holder = ModelHolder("/models/x", loader)
    installed, why = holder.load_before_start()
    assert not installed
    assert why is not None
    assert "disk gone" in why
    assert holder.reload() == (False, why)
    assert holder.current.degraded
    assert holder.current.reason is not None
    assert "/models/x" in holder.current.reason


# ------------------------------------------------------------------ hostile files, keys (issue 16)

HANG = 60.0
"""Seconds a start may take before the test calls it hung (a guard, not a measurement)."""


def _serve_in_process(
    monkeypatch: pytest.MonkeyPatch, *args: str, state: Path
) -> tuple[Result, list[Any]]:
    """Run ``changewatch serve`` with the click runner; uvicorn is not run, its app is kept.

    The run happens in a thread joined with a timeout, so a start that hangs (a stalled
    parse) fails the test instead of the session.
    """
    for name in [n for n in os.environ if n.startswith("CHANGEWATCH_")]:
        monkeypatch.delenv(name)  # the settings are the command line's alone
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: started.append(app))
    argv = ["serve", "--state", str(state), "--port", "0", *args]
    done: list[Result] = []
    runner = threading.Thread(target=lambda: done.append(CliRunner().invoke(cli, argv)))
    runner.daemon = True
    runner.start()
    runner.join(HANG)
    assert done, f"changewatch serve {' '.join(args)} did not finish within {HANG} s"
    return done[0], started


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        pytest.param(
            "version: 1\nwindows: " + "[" * 100 + "]" * 100 + "\n",
            f":2: nested deeper than {MAX_YAML_DEPTH} levels",
            id="too-deep",
        ),
        pytest.param(
            "version: 1\nwindows: " + "[" * 10_000 + "]" * 10_000 + "\n",
            ":2: not valid YAML: exceeded maximum nesting depth",  # libyaml's own bound
            id="10k-deep",
        ),
        pytest.param(
            "version: 1\n# " + "x" * (9 << 20) + "\n",
            f"characters; a YAML document may have {MAX_YAML_BYTES}",
            id="too-big",
        ),
        pytest.param(alias_bomb(), "with aliases expanded (an alias bomb?)", id="alias-bomb"),
    ],
)
def test_a_hostile_windows_file_stops_the_start_in_one_line(
    document: str, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows = tmp_path / "windows.yaml"
    windows.write_text(document)
    result, started = _serve_in_process(
        monkeypatch, "--model", "none", "--windows", str(windows), state=tmp_path / "state.db"
    )
    assert not started
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # the CLI's own exit, not a crash
    assert "Traceback" not in result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("changewatch: error:")]
    assert line.startswith(f"changewatch: error: {windows}")
    assert reason in line
    assert len(line) < 300


@pytest.fixture(scope="module")
def unsigned_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small detector bundle saved without a signature."""
    events = generate(2000, 5, seed=5)
    bundle = tmp_path_factory.mktemp("bundle") / "model"
    save_bundle(ChangeDetector(n_estimators=5, random_state=1).fit(events), bundle)
    return bundle


@pytest.fixture
def bundle_key(tmp_path: Path) -> Path:
    """A key file of 32 bytes."""
    key = tmp_path / "bundle.key"
    key.write_bytes(b"k" * 32)
    return key


def test_an_unsigned_bundle_with_a_bundle_key_stops_the_start(
    unsigned_bundle: Path, bundle_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = str(unsigned_bundle)
    result, started = _serve_in_process(
        monkeypatch, "--model", model, "--bundle-key", str(bundle_key), state=tmp_path / "s.db"
    )
    assert not started
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("changewatch: error:")]
    assert f"model {model!r} cannot be loaded: " in line
    assert "not signed" in line
    assert "Nothing was started" in line


def test_an_unsigned_bundle_with_a_bundle_key_and_allow_degraded_says_why(
    unsigned_bundle: Path, bundle_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("--model", str(unsigned_bundle), "--bundle-key", str(bundle_key), "--allow-degraded")
    result, [app] = _serve_in_process(monkeypatch, *args, state=tmp_path / "s.db")
    assert result.exit_code == 0, result.stderr
    with TestClient(app) as client:  # no key configured, on loopback: every caller is admin
        ready = client.get("/readyz").json()
    assert ready["status"] == "degraded"
    assert str(unsigned_bundle) in ready["degraded_reason"]
    assert "not signed" in ready["degraded_reason"]


def test_a_signed_bundle_with_its_key_starts_with_the_model(
    unsigned_bundle: Path, bundle_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = tmp_path / "signed"
    shutil.copytree(unsigned_bundle, signed)
    sign_bundle(signed, bundle_key.read_bytes())
    args = ("--model", str(signed), "--bundle-key", str(bundle_key))
    result, [app] = _serve_in_process(monkeypatch, *args, state=tmp_path / "s.db")
    assert result.exit_code == 0, result.stderr
    with TestClient(app) as client:
        ready = client.get("/readyz").json()
    assert ready["status"] == "ready", ready
