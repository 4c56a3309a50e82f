"""`ingest` and `score` exit 1 when nothing usable was read, unless `--allow-empty`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from changewatch.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def summary(result: Result) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def write(path: Path, content: Any) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


INPUTS = {
    "a file that is not CloudTrail": lambda d, make: [write(d / "x.json", {"hello": "x"})],
    "an empty folder": lambda d, make: [d],
    "every record rejected": lambda d, make: [
        write(d / "t.json", {"Records": [make(eventTime=None), make(eventName=7)]})
    ],
    "only an empty file": lambda d, make: [write(d / "t.json", "")],
    "an empty delivery file": lambda d, make: [write(d / "t.json", {"Records": []})],
}


@pytest.mark.parametrize("inputs", INPUTS.values(), ids=INPUTS.keys())
def test_ingest_of_nothing_usable_exits_1_after_its_summary(
    inputs: Any, make: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = [str(p) for p in inputs(folder, make)]
    out = str(tmp_path / "e.parquet")
    result = run("ingest", *paths, "--out", out)
    assert result.exit_code == 1
    assert summary(result)["kept"] == 0
    assert "nothing usable was read" in result.stderr
    assert "--allow-empty" in result.stderr
    allowed = run("ingest", *paths, "--out", out, "--allow-empty")
    assert allowed.exit_code == 0
    timing = {"seconds", "records_per_second"}
    assert {k: v for k, v in summary(allowed).items() if k not in timing} == {
        k: v for k, v in summary(result).items() if k not in timing
    }


def test_ingest_with_one_usable_record_exits_0(make: Any, tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", {"Records": [make()]})
    bad = write(tmp_path / "bad.json", {"hello": "x"})
    result = run("ingest", str(good), str(bad), "--out", str(tmp_path / "e.parquet"))
    assert result.exit_code == 0
    assert summary(result)["not_read"] == [
        {
            "path": str(bad),
            "reason": (
                'JSON object is neither {"Records": [...]} nor a record of CloudTrail, Azure, '
                "Google Cloud or OCSF"
            ),
        }
    ]
    assert f"  {bad}: JSON object is neither" in result.stderr


def test_score_of_nothing_usable_exits_1_and_keeps_its_rejects(tmp_path: Path) -> None:
    bad = write(tmp_path / "x.json", {"hello": "not cloudtrail"})
    rejects = tmp_path / "rejects.jsonl"
    args = ["score", "--model", "none", "--events", str(bad), "--out", str(tmp_path / "f.jsonl")]
    result = run(*args, "--rejects", str(rejects))
    assert result.exit_code == 1
    assert summary(result)["events"] == 0
    assert f"see {rejects}" in result.stderr
    [line] = [json.loads(text) for text in rejects.read_text().splitlines()]
    assert (line["kind"], line["source"]) == ("source", str(bad))
    assert run(*args, "--allow-empty").exit_code == 0


def test_score_with_events_exits_0(make: Any, tmp_path: Path) -> None:
    good = write(tmp_path / "t.json", {"Records": [make()]})
    result = run(
        "score", "--model", "none", "--events", str(good), "--out", str(tmp_path / "f.jsonl")
    )
    assert result.exit_code == 0
    assert summary(result)["events"] == 1
