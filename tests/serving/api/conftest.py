"""Fixtures of the API tests: settings, in-process clients and a live uvicorn on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.api import Settings, create_app, served_in_thread
from serving.api.backpressure import ScoringQueue
from serving.api.problems import ProblemError

SCORE_SECRET = "score-secret-0123456789abcdef"
ADMIN_SECRET = "admin-secret-0123456789abcdef"
KEYS = f"soar:score:{SCORE_SECRET},ops:admin:{ADMIN_SECRET}"
SCORE = {"Authorization": f"Bearer {SCORE_SECRET}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_SECRET}"}


class Outcomes(list[object]):
    """What requests run through a scoring queue came to: each one's result, or its 503."""

    def __init__(self, queue: ScoringQueue) -> None:
        super().__init__()
        self.queue = queue

    async def one(self, work: Callable[[], Any]) -> None:
        """Run ``work`` through the queue as one request; note its result or its refusal."""
        try:
            self.append(await self.queue.run(work))
        except ProblemError as error:
            self.append(error)


def settings_for(state: Path, **overrides: Any) -> Settings:
    """Settings of a test service: its own database, the two test keys, rules only."""
    return Settings(**{"state": state, "api_keys": KEYS, "model": "none", **overrides})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fresh settings with a database of their own."""
    return settings_for(tmp_path / "state.db")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """An in-process client of a freshly built app (lifespan run)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


served = served_in_thread  # the tests serve the app as the demo does


@pytest.fixture(scope="session")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn on 127.0.0.1 and a free port, in a thread; stopped at the end."""
    with served(create_app(settings_for(tmp_path_factory.mktemp("live") / "state.db"))) as url:
        yield url
