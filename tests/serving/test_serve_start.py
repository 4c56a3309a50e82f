"""``changewatch serve`` with a model that cannot be loaded stops at start, naming it and why.

``--allow-degraded`` starts it with the rules alone instead (and every answer says why);
``--model none`` is the rules alone by choice and starts as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving._model_holder import ModelHolder, ModelInfo
from serving.api import free_port


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
