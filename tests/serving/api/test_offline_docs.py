"""``/docs`` and ``/redoc`` work without internet: every asset they load comes from the service."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def _assets(page: str) -> list[str]:
    return [url for url in ASSET.findall(page) if not url.startswith("#")]


@pytest.mark.parametrize(
    ("page", "kinds"),
    [
        ("/docs", {".js": "javascript", ".css": "text/css", ".png": "image/png"}),
        ("/redoc", {".js": "javascript", ".png": "image/png"}),
    ],
)
def test_the_documentation_pages_load_their_assets_from_the_service(
    client: TestClient, page: str, kinds: dict[str, str]
) -> None:
    answer = client.get(page)  # no key: the pages are public, as /openapi.json is
    assert answer.status_code == 200
    assert "/openapi.json" in answer.text
    assets = _assets(answer.text)
    assert {url.rsplit(".", 1)[-1] for url in assets} >= {k.lstrip(".") for k in kinds}
    for url in assets:
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
        asset = client.get(url)
        assert asset.status_code == 200, url
        suffix = "." + url.rsplit(".", 1)[-1]
        assert kinds[suffix] in asset.headers["content-type"], url
        assert len(asset.content) > 1000, url
    assert not re.search(r"https?://", "".join(assets))


def test_swagger_ui_is_the_whole_bundle(client: TestClient) -> None:
    [script] = [u for u in _assets(client.get("/docs").text) if u.endswith(".js")]
    assert b"SwaggerUIBundle" in client.get(script).content


def test_over_http_the_docs_need_no_cdn(live_url: str) -> None:
    page = httpx.get(f"{live_url}/docs")
    assert page.status_code == 200
    assert not re.search(r"(src|href)=\"https?://", page.text)
    for url in _assets(page.text):
        assert httpx.get(f"{live_url}{url}").status_code == 200
