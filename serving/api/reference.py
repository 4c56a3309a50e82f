"""The API reference page (``docs/api-reference.md``), generated from the OpenAPI schema.

``python -m serving.api.reference > docs/api-reference.md`` rewrites it; a test fails
when the page and the schema disagree, so the reference never goes stale.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from serving.api.config import Settings
from serving.api.main import create_app

__all__ = ["openapi_schema", "reference_markdown"]

_METHODS = ("get", "post", "put", "patch", "delete")


def openapi_schema() -> dict[str, Any]:
    """Return the service's OpenAPI schema (built on a throwaway state database)."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(state=Path(folder) / "state.db", model="none"))
        schema: dict[str, Any] = app.openapi()
    return schema


def _example(operation: dict[str, Any]) -> str | None:
    content = (operation.get("requestBody") or {}).get("content") or {}
    for media in content.values():
        if "example" in media:
            return json.dumps(media["example"], indent=2)[:1500]
        for example in (media.get("examples") or {}).values():
            if isinstance(example, dict) and "value" in example:
                return json.dumps(example["value"], indent=2)[:1500]
    return None


def reference_markdown(schema: dict[str, Any] | None = None) -> str:
    """Return the reference page: every route with its summary, auth, body and answers."""
    schema = schema or openapi_schema()
    info = schema.get("info", {})
    lines = [
        "# API reference",
        "",
        f"Generated from the OpenAPI schema of {info.get('title', 'the service')} "
        f"{info.get('version', '')} by `python -m serving.api.reference`; do not edit by hand.",
        "The live schema is served at `/openapi.json` and browsable at `/docs`.",
        "",
    ]
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            lines.append(f"## `{method.upper()} {path}`")
            lines.append("")
            summary = operation.get("summary") or ""
            description = (operation.get("description") or "").strip()
            if summary:
                lines.append(f"**{summary}**")
                lines.append("")
            if description:
                lines.append(description)
                lines.append("")
            secured = bool(operation.get("security"))
            lines.append(f"- auth: {'`Authorization: Bearer <key>`' if secured else 'none'}")
            answers = ", ".join(
                f"{code} {answer.get('description', '')}".strip()
                for code, answer in sorted(operation.get("responses", {}).items())
            )
            lines.append(f"- answers: {answers}")
            example = _example(operation)
            if example:
                lines += ["", "Example body:", "", "```json", example, "```"]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(reference_markdown(), end="")  # noqa: T201 - a generator script's output
