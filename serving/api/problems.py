"""One error format on every route: RFC 9457 ``application/problem+json``.

Every error the service answers, its own and FastAPI's validation errors alike, is a
:class:`Problem`: ``type``, ``title``, ``status``, ``detail``, ``instance`` and, for
problems with fields, ``errors`` (each a ``detail`` with the JSON Pointer into the body
or the name of the parameter it is about). :func:`install_problems` registers the
handlers; :func:`problem_responses` declares the statuses of a route for the OpenAPI
document, where ``serving.api.openapi`` gives each the problem schema.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Annotated, Any, Final

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response

__all__ = [
    "OVERLOADED",
    "PROBLEM_MEDIA_TYPE",
    "VALIDATION",
    "FieldProblem",
    "Problem",
    "ProblemError",
    "install_problems",
    "problem_body",
    "problem_responses",
]

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
VALIDATION: Final = "urn:changewatch:problem:validation"
"""``type`` of a request that is not JSON or does not fit the schema (400, 422): see ``errors``."""
OVERLOADED: Final = "urn:changewatch:problem:overloaded"
"""``type`` of a 503 from a full scoring queue: retry after ``Retry-After`` seconds."""

_TITLES: Final = {
    VALIDATION: "The request does not fit the schema",
    OVERLOADED: "The scoring queue is full",
}


class FieldProblem(BaseModel):
    """One problem with one part of the request."""

    model_config = ConfigDict(extra="forbid")

    detail: str = Field(description="What is wrong, in words.")
    pointer: Annotated[
        str | None,
        Field(description="JSON Pointer (RFC 6901) into the body; '' is the whole body."),
    ] = None
    parameter: Annotated[str | None, Field(description="The query, path or header parameter.")] = (
        None
    )


class Problem(BaseModel):
    """An error (RFC 9457): the same shape for every status and every route."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Unauthorized",
                    "status": 401,
                    "detail": "missing API key: send 'Authorization: Bearer <key>'",
                    "instance": "/v1/score",
                    "errors": [],
                }
            ]
        },
    )

    type: Annotated[
        str,
        Field(description="'about:blank' (the status says it all) or a changewatch problem URN."),
    ] = "about:blank"
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(ge=400, le=599, description="The HTTP status, repeated.")
    detail: str = Field(description="What went wrong with this request.")
    instance: Annotated[str | None, Field(description="The path of the request.")] = None
    errors: list[FieldProblem] = Field(
        default_factory=list, description="Field problems of a validation error."
    )


class ProblemError(HTTPException):
    """An :class:`HTTPException` that answers as a problem of a given ``type`` with ``errors``."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str = "about:blank",
        errors: Sequence[FieldProblem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail, headers=dict(headers) if headers else None)
        self.type = type
        self.errors = list(errors)


def problem_body(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    type: str = "about:blank",
    errors: Iterable[FieldProblem] = (),
) -> bytes:
    """Return the JSON of a problem (for answers built outside the routes, as middleware)."""
    title = _TITLES.get(type) or HTTPStatus(status).phrase
    problem = {
        "type": type,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "errors": [e.model_dump() for e in errors],
    }
    return orjson.dumps(problem)


def _response(
    request: Request,
    status: int,
    detail: str,
    *,
    type: str = "about:blank",
    errors: Iterable[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = problem_body(status, detail, instance=request.url.path, type=type, errors=errors)
    return Response(body, status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE)


def _pointer(parts: Sequence[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def field_problems(errors: Sequence[Any]) -> list[FieldProblem]:
    """Turn pydantic's errors (``loc``, ``msg``) into field problems."""
    problems = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if loc and loc[0] == "body":
            problems.append(FieldProblem(detail=message, pointer=_pointer(loc[1:])))
        elif len(loc) >= 2 and loc[0] in ("query", "path", "header", "cookie"):
            problems.append(FieldProblem(detail=message, parameter=str(loc[1])))
        else:
            problems.append(FieldProblem(detail=message, pointer=_pointer(loc)))
    return problems


def _invalid(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        where = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (where.get("ctx") or {}).get("error", "JSON decode error")
        return _response(
            request, 400, f"the body is not JSON: {reason}", type=VALIDATION, errors=[]
        )
    problems = field_problems(errors)
    detail = "; ".join(
        f"{p.pointer or p.parameter or '(body)'}: {p.detail}" for p in problems[:3]
    ) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return _response(request, 422, detail, type=VALIDATION, errors=problems)


def _http(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if isinstance(error, ProblemError):
        return _response(
            request,
            error.status_code,
            str(error.detail),
            type=error.type,
            errors=error.errors,
            headers=error.headers,
        )
    return _response(request, error.status_code, str(error.detail), headers=error.headers)


def _crash(request: Request, error: Exception) -> Response:
    logger.error("%s %s failed: %r", request.method, request.url.path, error)
    return _response(request, 500, "internal error; the service log has the details")


def install_problems(app: FastAPI) -> None:
    """Answer every error of ``app`` as an RFC 9457 problem."""
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _crash)


_WHY: Final[Mapping[int, str]] = {
    400: "The body is not JSON (or not valid gzip).",
    401: "No API key, or an unknown one.",
    403: "The key lacks the scope this route needs.",
    404: "Nothing of that name.",
    409: "It exists already.",
    413: "The body (after decompression) or the batch is over the configured limit.",
    415: "A Content-Type or Content-Encoding the route does not read.",
    422: "The body does not fit the schema; `errors` names each field.",
    503: "Overloaded: retry after `Retry-After` seconds.",
}


def problem_responses(*statuses: int, **why: str) -> dict[int | str, dict[str, Any]]:
    """Declare error statuses of a route (``why`` overrides a description: ``_409="..."``)."""
    declared: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description = why.get(f"_{status}") or _WHY.get(status) or HTTPStatus(status).phrase
        declared[status] = {"model": Problem, "description": description}
        if status == 503:
            declared[status]["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before sending again.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
    return declared
