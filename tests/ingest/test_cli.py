"""The `changewatch ingest` command, run as a user runs it."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from changewatch.cli import cli


def test_ingest_prints_a_json_summary_on_its_last_line(make: Any, tmp_path: Path) -> None:
    path = tmp_path / "trail.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": [make()]}).encode()))
    result = CliRunner().invoke(cli, ["ingest", str(path), "--out", str(tmp_path / "e.parquet")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["records"] == 1
    assert summary["rejected"] == 0
    assert summary["files"] == 1
    assert summary["resource_type"] == {"snapshot": 1}
    assert summary["action"] == {"create": 1}


def test_strict_failure_is_one_line_without_traceback(make: Any, tmp_path: Path) -> None:
    path = tmp_path / "trail.json"
    path.write_text(json.dumps([make(eventTime=None)]))
    result = CliRunner().invoke(
        cli, ["ingest", str(path), "--out", str(tmp_path / "e.parquet"), "--strict"]
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"changewatch: error: {path}: record 1: field 'eventTime': missing"
    )
    assert "Traceback" not in result.output


def test_the_console_script_reads_standard_input(make: Any, tmp_path: Path) -> None:
    out = tmp_path / "e.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "changewatch", "ingest", "-", "--out", str(out)],
        input=json.dumps({"Records": [make()]}).encode(),
        capture_output=True,
        check=True,
    )
    assert json.loads(done.stdout.decode().splitlines()[-1])["kept"] == 1


def test_help_shows_examples() -> None:
    result = CliRunner().invoke(cli, ["ingest", "--help"])
    assert "Examples:" in result.output
    assert "changewatch ingest AWSLogs/ --out events.parquet" in result.output
