"""Fixtures of the API tests: settings, in-process clients and a live uvicorn on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from serving.api import Settings, create_app

SCORE_SECRET = "score-secret-0123456789abcdef"
ADMIN_SECRET = "admin-secret-0123456789abcdef"
KEYS = f"soar:score:{SCORE_SECRET},ops:admin:{ADMIN_SECRET}"
SCORE = {"Authorization": f"Bearer {SCORE_SECRET}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_SECRET}"}


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on 127.0.0.1 and a free port, in a thread."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn on 127.0.0.1 and a free port, in a thread; stopped at the end."""
    with served(create_app(settings_for(tmp_path_factory.mktemp("live") / "state.db"))) as url:
        yield url
