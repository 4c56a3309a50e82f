"""Schemathesis against the in-process app: no generated request gets a 500."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from serving.api import create_app
from tests.serving.api.conftest import ADMIN_SECRET, settings_for

_app = create_app(settings_for(Path(tempfile.mkdtemp(prefix="cw-schemathesis-")) / "s.db"))
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_500(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": f"Bearer {ADMIN_SECRET}"})
    assert response.status_code < 500 or response.status_code == 503, response.text


def test_every_route_is_documented_with_a_summary() -> None:
    paths = _app.openapi()["paths"]
    assert {"/v1/score", "/v1/score/vectors", "/v1/model", "/v1/model/reload", "/healthz"} <= set(
        paths
    )
    for methods in paths.values():
        for operation in methods.values():
            assert operation.get("description") or operation.get("summary")
