"""The OpenAPI document, finished for generated clients.

FastAPI writes the document from the routes; this adds what it cannot know:

* every error response (4xx, 5xx) is ``application/problem+json`` with the
  :class:`~serving.api.problems.Problem` schema, FastAPI's own validation-error schemas
  are gone (the service never answers them);
* the body of ``POST /v1/score`` is typed: ``anyOf`` a ``RecordsBatch``, an array of
  records or envelopes, one ``EventBridgeEnvelope`` or one ``CloudTrailRecord`` (exactly
  what the route accepts; ``anyOf`` since a body may fit several), with ``maxItems`` set
  to this service's ``CHANGEWATCH_MAX_BATCH``;
* the schemas the import route names (``PolicyFile``) are in the components.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from models.scoring import PolicyFile
from serving.api.config import Settings
from serving.api.problems import PROBLEM_MEDIA_TYPE, Problem
from serving.api.records import CloudTrailRecord, EventBridgeEnvelope, RecordsBatch

__all__ = ["install_openapi"]

_REF: Final = "#/components/schemas/{model}"
_EXTRA: Final[tuple[type[BaseModel], ...]] = (
    Problem,
    RecordsBatch,
    CloudTrailRecord,
    EventBridgeEnvelope,
    PolicyFile,
)
_UNUSED: Final = ("HTTPValidationError", "ValidationError")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _components(schema: dict[str, Any]) -> None:
    _, defs = models_json_schema([(m, "validation") for m in _EXTRA], ref_template=_REF)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in defs.get("$defs", {}).items():
        components.setdefault(name, definition)
    for name in _UNUSED:
        components.pop(name, None)


def _problems(schema: dict[str, Any]) -> None:
    problem = {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem")}}
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = dict(problem)


def _score_body(schema: dict[str, Any], max_batch: int) -> None:
    records = schema["components"]["schemas"]["RecordsBatch"]["properties"]["Records"]
    records["maxItems"] = max_batch
    item = {"anyOf": [_ref("CloudTrailRecord"), _ref("EventBridgeEnvelope")]}
    body = schema["paths"]["/v1/score"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = {
        "anyOf": [
            _ref("RecordsBatch"),
            {"type": "array", "items": item, "maxItems": max_batch},
            _ref("EventBridgeEnvelope"),
            _ref("CloudTrailRecord"),
        ]
    }


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` build the finished document (once, then cached)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _components(schema)
            _problems(schema)
            _score_body(schema, settings.max_batch)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
