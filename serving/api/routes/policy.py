"""Change windows, tickets, freezes, allow-list entries and suppressions: CRUD and paging.

The five resources behave alike, so one factory builds their routes from a table;
every write is validated as part of the whole policy before it is stored. Lists are
pages (``limit``, ``cursor``) in name order; a create answers 201 with ``Location``.
"""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ValidationError

from features import ConfigurationError
from models.scoring import PolicyFile
from serving._state import POLICY_KINDS, StateStore, StoredObject
from serving.api import schemas as s
from serving.api.deps import AdminKey, StateDep, accepts_json
from serving.api.problems import VALIDATION, FieldProblem, ProblemError, field_problems
from serving.api.problems import problem_responses as errors
from serving.api.suppressions import suppression_id, suppression_problems, twins

__all__ = ["policy_items", "resolve_item", "router", "write"]

router = APIRouter(prefix="/v1", tags=["policy"])


@dataclass(frozen=True, slots=True)
class _Kind:
    kind: str
    path: str
    key: str
    one: str
    many: str
    create: type[BaseModel]
    public: type[BaseModel]
    page: type[BaseModel]


_KINDS: Final = (
    _Kind(
        "window",
        "windows",
        "name",
        "Window",
        "Windows",
        *(s.WindowCreate, s.WindowPublic, s.WindowsPublic),
    ),
    _Kind(
        "ticket",
        "tickets",
        "id",
        "Ticket",
        "Tickets",
        *(s.TicketCreate, s.TicketPublic, s.TicketsPublic),
    ),
    _Kind(
        "freeze",
        "freezes",
        "name",
        "Freeze",
        "Freezes",
        *(s.FreezeCreate, s.FreezePublic, s.FreezesPublic),
    ),
    _Kind(
        "automation",
        "automation",
        "name",
        "Automation",
        "Automation",
        *(s.AutomationCreate, s.AutomationPublic, s.AutomationsPublic),
    ),
    _Kind(
        "suppression",
        "suppressions",
        "id",
        "Suppression",
        "Suppressions",
        *(s.SuppressionCreate, s.SuppressionPublic, s.SuppressionsPublic),
    ),
)
_JSON: Final = [Depends(accepts_json)]


def resolve_item(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate one object as a policy file would, with naive times read as UTC."""
    key, _ = POLICY_KINDS[kind]
    try:
        resolved = PolicyFile.model_validate({"version": 1, key: [body]}).resolved()
    except ValidationError as error:
        problems = [
            FieldProblem(detail=p.detail, pointer=(p.pointer or "").removeprefix(f"/{key}/0"))
            for p in field_problems(error.errors(include_url=False))
        ]
        raise ProblemError(
            422, "; ".join(p.detail for p in problems[:3]), type=VALIDATION, errors=problems
        ) from None
    except ValueError as error:
        raise ProblemError(422, str(error), type=VALIDATION) from None
    item: BaseModel = getattr(resolved, key)[0]
    dumped: dict[str, Any] = item.model_dump(mode="json", exclude_none=True)
    return dumped


def write(store: StateStore, items: list[tuple[str, str, dict[str, Any]]], **kw: Any) -> None:
    """Store objects; a policy they would make invalid is a 422 and nothing is written."""
    try:
        store.put_objects(items, **kw)
    except ConfigurationError as error:
        raise ProblemError(422, str(error), type=VALIDATION) from None


def policy_items(document: PolicyFile) -> list[tuple[str, str, dict[str, Any]]]:
    """Return the objects of a resolved policy file, as ``(kind, name, body)``."""
    items: list[tuple[str, str, dict[str, Any]]] = []
    for kind, (key, _) in POLICY_KINDS.items():
        value = getattr(document, key)
        for item in [value] if kind == "organization" else value:
            if item is None:
                continue
            body = item.model_dump(mode="json", exclude_none=True)
            if kind == "suppression":
                name = suppression_id(body)
            elif kind == "organization":
                name = "organization"
            else:
                name = str(body["id" if kind == "ticket" else "name"])
            items.append((kind, name, body))
    return items


def _public(k: _Kind, stored: StoredObject) -> BaseModel:
    extra: dict[str, Any] = {"updated_at": stored.updated_at}
    if k.kind == "suppression":
        extra["id"] = stored.name
    return k.public.model_validate({**stored.body, **extra})


def _cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ProblemError(
            422,
            "cursor is not one this service gave (take next_cursor of the previous page)",
            type=VALIDATION,
            errors=[FieldProblem(detail="not a cursor of this list", parameter="cursor")],
        ) from None


def _location(k: _Kind, name: str) -> str:
    return f"/v1/{k.path}/{quote(name, safe='')}"


def _check_suppression(store: StateStore, name: str, data: dict[str, Any]) -> None:
    problems = suppression_problems(data, datetime.now(UTC))
    if problems:
        raise ProblemError(
            422, "; ".join(p.detail for p in problems), type=VALIDATION, errors=problems
        )
    stored = [(o.name, o.body) for o in store.list_objects("suppression")]
    same = twins(data, name, stored)
    if same:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"suppression {same[0]!r} has the same rule and scope; change it with "
            f"PUT {_location(_KINDS[-1], same[0])}",
        )


@dataclass(frozen=True)
class _Handlers:
    """The five operations on one kind of policy object."""

    list_all: Callable[..., BaseModel]
    create: Callable[..., BaseModel]
    read: Callable[..., BaseModel]
    replace: Callable[..., BaseModel]
    delete: Callable[..., Response]


def _handlers(k: _Kind) -> _Handlers:
    """Return the handlers of kind ``k``: list, create, read, replace and delete."""

    def list_all(
        _: AdminKey,
        store: StateDep,
        limit: int = Query(100, ge=1, le=1000, description="Objects per page."),
        cursor: str | None = Query(None, description="next_cursor of the previous page."),
    ) -> BaseModel:
        stored = store.list_objects(k.kind, after=_after(cursor), limit=limit + 1)
        more = len(stored) > limit
        page = stored[:limit]
        return k.page.model_validate(
            {
                "data": [_public(k, o) for o in page],
                "count": store.count_objects(k.kind),
                "next_cursor": _cursor(page[-1].name) if more else None,
            }
        )

    def create(body: BaseModel, _: AdminKey, store: StateDep, response: Response) -> BaseModel:
        data = resolve_item(k.kind, body.model_dump(mode="json", exclude_none=True))
        name = suppression_id(data) if k.kind == "suppression" else str(data[k.key])
        if store.get_object(k.kind, name) is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"{k.kind} {name!r} exists; use PUT")
        if k.kind == "suppression":
            _check_suppression(store, name, data)
        write(store, [(k.kind, name, data)])
        response.headers["Location"] = _location(k, name)
        return _public(k, store.get_object(k.kind, name))  # type: ignore[arg-type]

    def read(name: str, _: AdminKey, store: StateDep) -> BaseModel:
        stored = store.get_object(k.kind, name)
        if stored is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {k.kind} {name!r}")
        return _public(k, stored)

    def replace(
        name: str, body: BaseModel, _: AdminKey, store: StateDep, response: Response
    ) -> BaseModel:
        data = resolve_item(k.kind, body.model_dump(mode="json", exclude_none=True))
        if k.kind != "suppression" and data[k.key] != name:
            raise ProblemError(
                422,
                f"{k.key} {data[k.key]!r} in the body differs from {name!r} in the path",
                type=VALIDATION,
                errors=[FieldProblem(detail="differs from the path", pointer=f"/{k.key}")],
            )
        if k.kind == "suppression":
            _check_suppression(store, name, data)
        existed = store.get_object(k.kind, name) is not None
        write(store, [(k.kind, name, data)])
        if not existed:
            response.status_code = status.HTTP_201_CREATED
            response.headers["Location"] = _location(k, name)
        return _public(k, store.get_object(k.kind, name))  # type: ignore[arg-type]

    def delete(name: str, _: AdminKey, store: StateDep) -> Response:
        if not store.delete_object(k.kind, name):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {k.kind} {name!r}")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    create.__annotations__["body"] = k.create
    replace.__annotations__["body"] = k.create
    list_all.__doc__ = f"List the stored {k.kind} objects, a page at a time, by name."
    create.__doc__ = f"Create a {k.kind} (409 if it exists)."
    read.__doc__ = f"Read one {k.kind}."
    replace.__doc__ = f"Create (201) or replace (200) the {k.kind} of that name."
    delete.__doc__ = f"Delete one {k.kind}."
    return _Handlers(list_all, create, read, replace, delete)


def _routes(k: _Kind) -> None:
    """Add the routes of kind ``k`` to the router, with their operation ids and responses."""
    where = f"/{k.path}"
    h = _handlers(k)
    tag: list[str | Enum] = [k.path]
    created = {
        "description": f"Created; `Location` names the new {k.kind}.",
        "headers": {
            "Location": {"description": "Path of the object.", "schema": {"type": "string"}}
        },
    }
    routes: tuple[tuple[Any, str, str, str, dict[str, Any]], ...] = (
        (h.list_all, "GET", where, f"list{k.many}", {"responses": errors(401, 403, 422)}),
        (
            h.create,
            "POST",
            where,
            f"create{k.one}",
            {
                "status_code": 201,
                "responses": {201: created, **errors(400, 401, 403, 409, 413, 415, 422)},
                "dependencies": _JSON,
            },
        ),
        (h.read, "GET", f"{where}/{{name}}", f"get{k.one}", {"responses": errors(401, 403, 404)}),
        (
            h.replace,
            "PUT",
            f"{where}/{{name}}",
            f"replace{k.one}",
            {
                "responses": {
                    201: {**created, "model": k.public},
                    **errors(400, 401, 403, 409, 413, 415, 422),
                },
                "dependencies": _JSON,
            },
        ),
        (
            h.delete,
            "DELETE",
            f"{where}/{{name}}",
            f"delete{k.one}",
            {
                "status_code": 204,
                "response_class": Response,
                "responses": errors(401, 403, 404),
            },
        ),
    )
    for handler, method, path, operation, options in routes:
        model = None if handler is h.delete else k.page if handler is h.list_all else k.public
        router.add_api_route(
            path,
            handler,
            methods=[method],
            response_model=model,
            tags=tag,
            name=operation,
            operation_id=operation,
            **options,
        )


for _kind in _KINDS:
    _routes(_kind)
