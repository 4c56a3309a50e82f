"""docs/api-reference.md is the OpenAPI schema, rendered; it must not go stale."""

from __future__ import annotations

from pathlib import Path

from serving.api.reference import openapi_schema, reference_markdown

PAGE = Path(__file__).parents[3] / "docs" / "api-reference.md"


def test_the_reference_page_matches_the_schema() -> None:
    assert PAGE.read_text() == reference_markdown(), (
        "docs/api-reference.md is stale: "
        "run `python -m serving.api.reference > docs/api-reference.md`"
    )


def test_every_route_of_the_schema_is_on_the_page() -> None:
    text = PAGE.read_text()
    for path, item in openapi_schema()["paths"].items():
        for method in item:
            assert f"`{method.upper()} {path}`" in text
