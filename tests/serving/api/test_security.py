"""Keys: parsing, hashing, scopes, 401/403, and refusing to start exposed without a key."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from changewatch.errors import ConfigurationError
from serving.api import Settings, create_app
from serving.api.security import KeyRing, Scope, is_loopback, parse_keys
from tests.serving.api.conftest import ADMIN, KEYS, SCORE, SCORE_SECRET


def test_keys_are_parsed_from_commas_and_lines() -> None:
    text = (
        "a:score:aaaaaaaaaaaaaaaaaaaa, b:admin:bbbbbbbbbbbbbbbbbbbb\n"
        "# comment\nc:score:cccccccccccccccccccc"
    )
    assert [(n, s) for n, s, _ in parse_keys(text)] == [
        ("a", Scope.SCORE),
        ("b", Scope.ADMIN),
        ("c", Scope.SCORE),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a:score", "expected 'name:scope:secret'"),
        ("a:root:aaaaaaaaaaaaaaaaaaaa", "scope must be 'score', 'metrics' or 'admin', got 'root'"),
        ("a:score:short", "at least 16 characters, got 5"),
        (":score:aaaaaaaaaaaaaaaaaaaa", "expected 'name:scope:secret'"),
        ("a:score:aaaaaaaaaaaaaaaaaaaé", "printable ASCII"),
    ],
)
def test_bad_key_entries_name_the_entry_not_the_secret(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        parse_keys(text)
    assert "aaaaaaaaaaaaaaaaaaaa" not in str(caught.value)


def test_keyring_keeps_digests_only_and_matches_in_constant_time() -> None:
    ring = KeyRing(parse_keys(KEYS))
    assert SCORE_SECRET not in repr(ring)
    assert all(SCORE_SECRET.encode() not in key.digest for key in ring._keys)
    found = ring.match(SCORE_SECRET)
    assert found is not None
    assert found.name == "soar"
    assert ring.match(SCORE_SECRET + "x") is None


def test_settings_hold_no_secret(tmp_path: Path) -> None:
    settings = Settings(state=tmp_path / "s.db", api_keys=KEYS)
    assert SCORE_SECRET not in repr(settings)
    assert SCORE_SECRET not in str(settings.model_dump())


def test_keys_file_adds_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("filed:admin:ffffffffffffffffffff\n")
    settings = Settings(state=tmp_path / "s.db", api_keys=KEYS, api_keys_file=path)
    assert settings.api_keys.names == ["soar", "ops", "filed"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_no_key_refuses_to_start_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no API key configured"):
        create_app(Settings(state=tmp_path / "s.db", host="0.0.0.0"))


def test_no_key_on_loopback_serves_openly(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(state=tmp_path / "s.db"))) as client:
        assert client.post("/v1/model/reload").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "says"),
    [
        ("post", "/v1/score", {}, 401, "missing API key"),
        ("post", "/v1/score", {"Authorization": "Bearer nope"}, 401, "unknown API key"),
        ("get", "/v1/windows", SCORE, 403, "has scope 'score'; this route needs 'admin'"),
        ("post", "/v1/model/reload", SCORE, 403, "needs 'admin'"),
        ("get", "/v1/model", {}, 401, "missing API key"),
    ],
)
def test_401_and_403_say_what_is_missing(
    client: TestClient, method: str, path: str, headers: dict[str, str], status: int, says: str
) -> None:
    answer = client.request(method, path, headers=headers, json=[])
    assert answer.status_code == status
    assert says in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_health_routes_need_no_key(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_admin_key_may_score(client: TestClient) -> None:
    assert client.post("/v1/score", json=[], headers=ADMIN).status_code == 200


def test_no_cors_unless_configured(client: TestClient) -> None:
    answer = client.options(
        "/v1/score",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in answer.headers
