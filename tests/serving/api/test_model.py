"""The model holder and routes: degraded without a model, failed reloads keep the old one."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from serving._model_holder import ModelHolder
from serving.api import create_app
from tests.serving.api.conftest import ADMIN, SCORE, settings_for


def test_rules_only_is_degraded_everywhere(client: TestClient) -> None:
    ready = client.get("/readyz").json()
    model = client.get("/v1/model", headers=SCORE).json()
    assert ready["status"] == "degraded"
    assert ready["degraded"] is True
    assert model["loaded"] is False
    assert "--model none" in model["degraded_reason"]
    assert "changewatch_degraded 1.0" in client.get("/metrics").text


def test_unloadable_model_serves_rules_and_says_why(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-bundle")
    app = create_app(settings_for(tmp_path / "s.db", model=missing))
    with TestClient(app) as client:
        ready = client.get("/readyz", headers=ADMIN).json()  # the reason: to a key only
        reload = client.post("/v1/model/reload", headers=ADMIN)
        scored = client.post("/v1/score", json=[], headers=SCORE).json()
    assert ready["status"] == "degraded"
    assert missing in ready["degraded_reason"]
    assert reload.status_code == 409
    assert "reload failed" in reload.json()["detail"]
    assert scored["degraded"] is True


def test_failed_reload_keeps_the_current_model_object() -> None:
    holder = ModelHolder("/nonexistent/bundle")
    before = holder.current
    ok, why = holder.reload()
    assert not ok
    assert why is not None
    assert holder.last_error == why
    assert holder.current.degraded
    assert holder.current.error == why
    assert before is not holder.current  # first failure records the reason
    second = holder.current
    holder.reload()
    assert holder.current is second or holder.current.error == why
