"""The demo, as `make demo` runs it (without starting the services)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from changewatch.cli import cli


@pytest.fixture
def isolated_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo points MLflow at its own store; keep that from leaking into other tests."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("CHANGEWATCH_CACHE", str(tmp_path / "cache"))


@pytest.mark.usefixtures("isolated_mlflow")
def test_the_demo_builds_everything_then_reuses_it(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--days", "21", "--seed", "11", "--no-serve"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "registered as challenger" in first.output
    assert "promotion: first" in first.output
    findings = [json.loads(line) for line in (out / "findings.jsonl").read_text().splitlines()]
    assert findings
    assert {"critical", "high"} & {f["severity"] for f in findings}
    assert "severity  score  when (UTC)" in first.output  # the findings table was printed
    assert "the analyst's loop: a benign verdict through the API" in first.output
    assert "is now suppressed" in first.output
    assert "kind=hard_negative" in first.output

    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "reusing the simulated organisation" in second.output
    assert "reusing the registered model" in second.output
