"""The Makefile's installs: the demo's is lean, the developer's brings the dev tools and Spark."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _planned(target: str, venv: Path) -> str:
    """The commands ``make TARGET`` would run on a machine without ``venv`` (nothing is run)."""
    return subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_demo_installs_changewatch_alone(tmp_path: Path) -> None:
    planned = _planned("demo", tmp_path / "venv")
    assert "pip install --quiet -e .\n" in planned
    assert "changewatch demo" in planned
    assert "spark" not in planned
    assert "[dev" not in planned


@pytest.mark.parametrize("target", ["install", "test", "lint", "typecheck"])
def test_the_developer_targets_install_the_dev_tools_and_spark(target: str, tmp_path: Path) -> None:
    assert "pip install --quiet -e '.[dev,spark]'" in _planned(target, tmp_path / "venv")
