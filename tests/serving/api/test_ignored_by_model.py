"""``POST /v1/score`` with a model: it scores what is in its time frame and says what it ignored.

The demo's two examples, in-process and over real HTTP: an attack of the simulated test week
replayed as its CloudTrail records (the model scores its window), and a real Stratus Red Team
recording from 2024 (older than the model's profiles: ``ignored_by_model`` says how many
events and why; the rules judge it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from changewatch.demo_examples import ATTACK_SCENARIO, STRATUS_SHARE, attack_records
from serving.api import create_app
from tests.conftest import TrainedOrg
from tests.serving.api.conftest import SCORE, served, settings_for
from tests.serving.conftest import stratus_records

SHARE = "aws.exfiltration.ec2-share-ebs-snapshot"


@pytest.fixture
def client(trained_org: TrainedOrg, tmp_path: Path) -> Iterator[TestClient]:
    """An in-process service scoring with the trained detector and the org's policy."""
    settings = settings_for(
        tmp_path / "state.db", model=str(trained_org.bundle), windows=list(trained_org.policy)
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _modelled(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in answer["windows"] if not w["cold_start"]]


def test_the_demo_uses_the_recording_these_tests_score() -> None:
    assert STRATUS_SHARE.name == f"{SHARE}.json"
    assert STRATUS_SHARE.is_file()


def test_a_recording_older_than_the_model_says_the_model_ignored_it(client: TestClient) -> None:
    answer = client.post("/v1/score", json=stratus_records(SHARE), headers=SCORE).json()
    assert answer["degraded"] is False
    assert answer["model"] is not None
    assert answer["windows"] == []
    ignored = answer["ignored_by_model"]
    assert ignored["events"] == answer["scored"] == 1
    assert "older than the model's profiles" in ignored["reason"]
    assert answer["hits"], "the rules judge what the model leaves out"


def test_an_attack_of_the_test_week_is_scored_by_the_model(
    client: TestClient, trained_org: TrainedOrg
) -> None:
    records = attack_records(trained_org.sim, ATTACK_SCENARIO)
    answer = client.post("/v1/score", json={"Records": records}, headers=SCORE).json()
    assert answer["ignored_by_model"] is None
    [window] = _modelled(answer)
    assert window["percentile"] >= 99
    assert window["explanations"]
    [finding] = answer["findings"]
    assert finding["model"]["percentile"] >= 99
    assert finding["severity"] in {"high", "critical"}


def test_over_http_the_answer_says_both(trained_org: TrainedOrg, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "state.db", model=str(trained_org.bundle))
    with served(create_app(settings)) as url:
        old = httpx.post(f"{url}/v1/score", json=stratus_records(SHARE), headers=SCORE)
        attack = {"Records": attack_records(trained_org.sim, ATTACK_SCENARIO)}
        new = httpx.post(f"{url}/v1/score", json=attack, headers=SCORE, timeout=30)
    assert old.status_code == new.status_code == 200
    assert old.json()["ignored_by_model"]["events"] == 1
    assert new.json()["ignored_by_model"] is None
    assert _modelled(new.json())


def test_an_old_event_already_stored_is_not_counted_again(client: TestClient) -> None:
    first = client.post("/v1/score", json=stratus_records(SHARE), headers=SCORE).json()
    other = stratus_records("aws.exfiltration.ec2-share-ami")
    second = client.post("/v1/score", json=other, headers=SCORE).json()
    assert first["ignored_by_model"]["events"] == 1
    assert second["ignored_by_model"]["events"] == second["scored"] == 1
