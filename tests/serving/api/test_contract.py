"""The API contract a generated client relies on (issue 20), in-process.

One error format (RFC 9457 problems) declared and answered everywhere, chosen operation
ids, ``Location`` and paging, checked suppressions, a typed score body, and a reload
that says what it did.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.api.problems import PROBLEM_MEDIA_TYPE
from tests.serving.api.conftest import ADMIN, SCORE

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def _is_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    return body


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, o) for p, ms in spec["paths"].items() for m, o in ms.items()]


def test_every_error_response_in_the_spec_is_a_problem(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    declared = 0
    for path, method, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                declared += 1
                content = response.get("content", {})
                assert list(content) == [PROBLEM_MEDIA_TYPE], (method, path, status)
                assert content[PROBLEM_MEDIA_TYPE]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
    assert declared > 40
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_operation_ids_are_chosen_short_and_unique(client: TestClient) -> None:
    ids = [o["operationId"] for _, _, o in _operations(client.get("/openapi.json").json())]
    assert len(ids) == len(set(ids))
    assert {"score", "scoreVectors", "listWindows", "createWindow", "importPolicy"} <= set(ids)
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("post", "/v1/score", {}, "[]", 401),
        ("post", "/v1/windows", SCORE, "{}", 403),
        ("get", "/v1/windows/nope", ADMIN, None, 404),
        ("post", "/v1/score", SCORE, "{not json", 400),
        ("post", "/v1/windows", ADMIN, "{not json", 400),
        ("post", "/v1/score", SCORE, '{"Records": 3}', 422),
        ("post", "/v1/windows", ADMIN, '{"name": "w"}', 422),
        ("get", "/v1/windows?limit=0", ADMIN, None, 422),
    ],
)
def test_every_error_is_a_problem(
    client: TestClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: str | None,
    status: int,
) -> None:
    sent = {**headers, "Content-Type": "application/json"}
    _is_problem(client.request(method, path, content=body, headers=sent), status)


def test_validation_errors_point_at_the_field(client: TestClient) -> None:
    answer = client.post("/v1/windows", json={"name": "w", "duration": "4h"}, headers=ADMIN)
    problem = _is_problem(answer, 422)
    pointers = {e.get("pointer") for e in problem["errors"]}
    assert "/duration" in pointers or "/schedule" in pointers, problem


def test_malformed_json_is_400_on_every_body_route(client: TestClient) -> None:
    sent = {**ADMIN, "Content-Type": "application/json"}
    for path in ("/v1/score", "/v1/windows", "/v1/policy/import"):
        _is_problem(client.post(path, content=b"{oops", headers=sent), 400)


@pytest.mark.parametrize("path", ["/v1/score", "/v1/windows", "/v1/policy/import"])
def test_other_content_types_are_415(client: TestClient, path: str) -> None:
    sent = {**ADMIN, "Content-Type": "text/csv"}
    _is_problem(client.post(path, content=b"a,b\n", headers=sent), 415)


def test_other_content_codings_are_415(client: TestClient) -> None:
    sent = {**SCORE, "Content-Type": "application/json", "Content-Encoding": "br"}
    _is_problem(client.post("/v1/score", content=b"[]", headers=sent), 415)


def test_create_answers_location_and_lists_are_paged(client: TestClient) -> None:
    for n in range(5):
        window = {"name": f"w{n}", "rrule": "FREQ=WEEKLY;BYDAY=SA", "duration": "PT4H"}
        created = client.post("/v1/windows", json=window, headers=ADMIN)
        assert created.status_code == 201, created.text
        assert created.headers["location"] == f"/v1/windows/w{n}"
        assert client.get(created.headers["location"], headers=ADMIN).status_code == 200
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/windows", params=params, headers=ADMIN).json()
        assert len(page["data"]) <= 2
        assert page["count"] == 5
        seen += [w["name"] for w in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"w{n}" for n in range(5)]


def _suppression(
    rule: str, days: float = 7, scope: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(days=days)
    return {
        "rule": rule,
        "scope": scope or {"identities": ["arn:aws:iam::111122223333:role/ci"]},
        "owner": "soc",
        "expires": expires.isoformat(),
        "reason": "CI role rotates its keys nightly",
    }


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (_suppression("NoSuch.Rule"), "/rule"),
        (_suppression("Nothing.*"), "/rule"),
        (_suppression("Burst.Deletions", days=-365 * 6), "/expires"),
    ],
)
def test_suppressions_that_would_suppress_nothing_are_refused(
    client: TestClient, body: dict[str, Any], pointer: str
) -> None:
    problem = _is_problem(client.post("/v1/suppressions", json=body, headers=ADMIN), 422)
    assert pointer in {e.get("pointer") for e in problem["errors"]}


def test_a_suppression_matching_a_known_rule_by_pattern_is_stored(client: TestClient) -> None:
    answer = client.post("/v1/suppressions", json=_suppression("Burst.*"), headers=ADMIN)
    assert answer.status_code == 201, answer.text


def test_the_same_suppression_twice_is_a_conflict(client: TestClient) -> None:
    body = _suppression("Burst.Deletions")
    first = client.put("/v1/suppressions/mine", json=body, headers=ADMIN)
    assert first.status_code == 201, first.text
    _is_problem(client.post("/v1/suppressions", json=body, headers=ADMIN), 409)


def test_reload_in_rules_only_mode_says_it_loaded_nothing(client: TestClient) -> None:
    answer = client.post("/v1/model/reload", headers=ADMIN).json()
    assert answer["reloaded"] is False
    assert answer["outcome"] == "rules_only"


def test_the_score_body_schema_names_records_and_envelopes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/score"]["post"]["requestBody"]["content"]["application/json"]
    refs = {branch.get("$ref", "").rsplit("/", 1)[-1] for branch in body["schema"]["anyOf"]}
    assert {"RecordsBatch", "EventBridgeEnvelope", "CloudTrailRecord"} <= refs
    schemas = spec["components"]["schemas"]
    assert schemas["RecordsBatch"]["properties"]["Records"]["maxItems"] > 0
    assert {"eventTime", "eventName"} <= set(schemas["CloudTrailRecord"]["required"])
    severity = schemas["RuleHitPublic"]["properties"]["severity"]
    assert severity == schemas["FindingRule"]["properties"]["severity"]


def test_policy_import_is_declared_as_json_and_yaml(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    content = spec["paths"]["/v1/policy/import"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/yaml"} <= set(content)


def test_policy_import_takes_json(client: TestClient) -> None:
    document = {
        "version": 1,
        "windows": [{"name": "sat", "rrule": "FREQ=WEEKLY;BYDAY=SA;BYHOUR=2", "duration": "PT4H"}],
    }
    answer = client.post("/v1/policy/import", json=document, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["imported"] == {"window": 1}
