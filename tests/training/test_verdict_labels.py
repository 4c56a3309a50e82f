"""Verdicts become labels: `score --state`, `labels export`, `evaluate`, `retrain`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from changewatch.cli import cli
from serving import FindingsBook
from tests.training.conftest import Labelled
from training import read_labels

NAME = "changewatch"


def _run(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = CliRunner().invoke(cli, list(args), env=env)
    assert done.exit_code == 0, done.output
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def _triage(state: Path, labelled: Labelled) -> dict[str, int]:
    """Give every stored finding the verdict the simulator's labels say (an analyst's work)."""
    attacks = set(labelled.labels.loc[labelled.labels["kind"] == "attack", "event_id"])
    book = FindingsBook(state)
    given = {"benign": 0, "malicious": 0}
    try:
        rows, _ = book.page(limit=10_000)
        for row in rows:
            verdict = "malicious" if attacks & set(row.finding.event_ids) else "benign"
            book.set_verdict(
                row.finding.finding_id, resolution=verdict, note="test", by="t", suppressions=[]
            )
            given[verdict] += 1
    finally:
        book.close()
    return given


def test_export_without_verdicts_is_an_error(tmp_path: Path) -> None:
    FindingsBook(tmp_path / "state.db").close()
    done = CliRunner().invoke(
        cli, ["labels", "export", "--state", str(tmp_path / "state.db"), "--out", "x.parquet"]
    )
    assert done.exit_code == 1
    assert "no benign or malicious verdict" in done.output


@pytest.mark.slow
def test_verdicts_become_labels_evaluate_and_retrain_read(
    labelled: Labelled, tracking_uri: str, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    scored = _run(
        "score", "--model", "none", "--events", str(labelled.test_path),
        "--state", str(state), "--out", str(tmp_path / "findings.jsonl"),
    )  # fmt: skip
    assert scored["stored"]["findings"] == scored["findings"] > 0
    again = _run(
        "score", "--model", "none", "--events", str(labelled.test_path),
        "--state", str(state), "--out", str(tmp_path / "findings.jsonl"),
    )  # fmt: skip
    book = FindingsBook(state)
    assert len(book.page(limit=10_000)[0]) == again["findings"]  # once per finding_id
    book.close()
    given = _triage(state, labelled)
    assert given["malicious"] > 0
    assert given["benign"] > 0

    out = tmp_path / "labels.parquet"
    exported = _run("labels", "export", "--state", str(state), "--out", str(out))
    assert exported["verdicts"] == {**given, "duplicate": 0}
    labels = read_labels(out)
    assert set(labels["kind"]) == {"attack", "hard_negative"}
    assert labels["scenario"].str.startswith("verdict:cw-").all()
    truth = set(labelled.labels.loc[labelled.labels["kind"] == "attack", "event_id"])
    assert set(labels.loc[labels["kind"] == "attack", "event_id"]) & truth

    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    trained = _run(
        "train", "-e", str(labelled.events_path), "--until", str(labelled.test_start),
        "--labels", str(out), "--register", NAME, "--trees", "40", env=env,
    )  # fmt: skip
    evaluated = _run(
        "evaluate", "-m", f"models:/{NAME}/1", "-e", str(labelled.test_path),
        "--labels", str(out), env=env,
    )  # fmt: skip
    assert evaluated["metrics"]["eval_windows"] > 0
    assert trained["model_uri"] == f"models:/{NAME}/1"
    assert _run("promote", "--name", NAME, env=env)["decision"] == "first"

    retrained = _run(
        "retrain", "-e", str(labelled.events_path), "--name", NAME, "--days", "13",
        "--holdout-days", "3", "--labels-from-state", str(state), "--trees", "40", env=env,
    )  # fmt: skip
    from mlflow import MlflowClient

    run = MlflowClient(tracking_uri=tracking_uri).get_run(retrained["run_id"])
    assert run.data.metrics["verdicts_malicious"] == given["malicious"]
    assert run.data.metrics["verdicts_benign"] == given["benign"]
    assert {"verdicts_challenger_precision", "verdicts_champion_precision"} <= set(run.data.metrics)
    assert retrained["promotion"] is not None
