"""Change windows, tickets, freezes, allow-list entries and suppressions: CRUD and import.

The five resources behave alike, so one factory builds their routes from a table;
every write is validated as part of the whole policy before it is stored.
"""

import hashlib
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ValidationError

from features import ConfigurationError
from models.scoring import PolicyFile, load_yaml_model
from serving._state import POLICY_KINDS, StateStore, StoredObject
from serving.api import schemas as s
from serving.api.deps import AdminKey, StateDep

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["policy"])


@dataclass(frozen=True, slots=True)
class _Kind:
    kind: str
    path: str
    key: str
    create: type[BaseModel]
    public: type[BaseModel]
    many: type[BaseModel]


_KINDS: Final = (
    _Kind("window", "windows", "name", s.WindowCreate, s.WindowPublic, s.WindowsPublic),
    _Kind("ticket", "tickets", "id", s.TicketCreate, s.TicketPublic, s.TicketsPublic),
    _Kind("freeze", "freezes", "name", s.FreezeCreate, s.FreezePublic, s.FreezesPublic),
    _Kind(
        "automation",
        "automation",
        "name",
        s.AutomationCreate,
        s.AutomationPublic,
        s.AutomationsPublic,
    ),
    _Kind(
        "suppression",
        "suppressions",
        "id",
        s.SuppressionCreate,
        s.SuppressionPublic,
        s.SuppressionsPublic,
    ),
)
_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"description": "No API key, or an unknown one."},
    403: {"description": "The key lacks the `admin` scope."},
}


def _resolve(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate one object as a policy file would, with naive times read as UTC."""
    key, _ = POLICY_KINDS[kind]
    try:
        resolved = PolicyFile.model_validate({"version": 1, key: [body]}).resolved()
    except (ValidationError, ValueError) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    item: BaseModel = getattr(resolved, key)[0]
    dumped: dict[str, Any] = item.model_dump(mode="json", exclude_none=True)
    return dumped


def _suppression_id(body: dict[str, Any]) -> str:
    return "s-" + hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def _public(k: _Kind, stored: StoredObject) -> BaseModel:
    extra: dict[str, Any] = {"updated_at": stored.updated_at}
    if k.kind == "suppression":
        extra["id"] = stored.name
    return k.public.model_validate({**stored.body, **extra})


def _write(store: StateStore, items: list[tuple[str, str, dict[str, Any]]], **kw: Any) -> None:
    try:
        store.put_objects(items, **kw)
    except ConfigurationError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


def _routes(k: _Kind) -> None:
    where = f"/{k.path}"
    missing = {404: {"description": f"No {k.kind} of that name."}, **_ERRORS}

    def list_all(_: AdminKey, store: StateDep) -> BaseModel:
        stored = store.list_objects(k.kind)
        return k.many.model_validate(
            {"data": [_public(k, o) for o in stored], "count": len(stored)}
        )

    def create(body: BaseModel, _: AdminKey, store: StateDep) -> BaseModel:
        data = _resolve(k.kind, body.model_dump(mode="json", exclude_none=True))
        name = _suppression_id(data) if k.kind == "suppression" else str(data[k.key])
        if store.get_object(k.kind, name) is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"{k.kind} {name!r} exists; use PUT")
        _write(store, [(k.kind, name, data)])
        return _public(k, store.get_object(k.kind, name))  # type: ignore[arg-type]

    def read(name: str, _: AdminKey, store: StateDep) -> BaseModel:
        stored = store.get_object(k.kind, name)
        if stored is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {k.kind} {name!r}")
        return _public(k, stored)

    def replace(name: str, body: BaseModel, _: AdminKey, store: StateDep) -> BaseModel:
        data = _resolve(k.kind, body.model_dump(mode="json", exclude_none=True))
        if k.kind != "suppression" and data[k.key] != name:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{k.key} {data[k.key]!r} in the body differs from {name!r} in the path",
            )
        _write(store, [(k.kind, name, data)])
        return _public(k, store.get_object(k.kind, name))  # type: ignore[arg-type]

    def delete(name: str, _: AdminKey, store: StateDep) -> Response:
        if not store.delete_object(k.kind, name):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {k.kind} {name!r}")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    create.__annotations__["body"] = k.create
    replace.__annotations__["body"] = k.create
    for handler, what in (
        (list_all, f"List every {k.kind}."),
        (create, f"Create a {k.kind}."),
        (read, f"Read one {k.kind}."),
        (replace, f"Create or replace the {k.kind} of that name."),
        (delete, f"Delete one {k.kind}."),
    ):
        handler.__doc__ = what
    tag: list[str | Enum] = [k.path]
    add = router.add_api_route
    add(
        where,
        list_all,
        methods=["GET"],
        response_model=k.many,
        responses=_ERRORS,
        tags=tag,
        name=f"list_{k.path}",
    )
    add(
        where,
        create,
        methods=["POST"],
        response_model=k.public,
        status_code=201,
        tags=tag,
        responses={409: {"description": "It exists."}, 422: {}, **_ERRORS},
        name=f"create_{k.kind}",
    )
    add(
        f"{where}/{{name}}",
        read,
        methods=["GET"],
        response_model=k.public,
        responses=missing,
        tags=tag,
        name=f"read_{k.kind}",
    )
    add(
        f"{where}/{{name}}",
        replace,
        methods=["PUT"],
        response_model=k.public,
        tags=tag,
        responses={422: {}, **_ERRORS},
        name=f"replace_{k.kind}",
    )
    add(
        f"{where}/{{name}}",
        delete,
        methods=["DELETE"],
        status_code=204,
        responses=missing,
        tags=tag,
        name=f"delete_{k.kind}",
        response_class=Response,
    )


for _kind in _KINDS:
    _routes(_kind)


_YAML_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {
                "schema": {"type": "string"},
                "example": "version: 1\ntimezone: Europe/Berlin\nwindows:\n"
                "  - name: weekly\n    rrule: FREQ=WEEKLY;BYDAY=TU;BYHOUR=22\n    duration: 4h\n",
            }
        },
    }
}


@router.post(
    "/policy/import",
    response_model=s.ImportPublic,
    openapi_extra=_YAML_BODY,
    responses={422: {"description": "The file is not a valid change policy."}, **_ERRORS},
    tags=["policy"],
)
async def import_policy(
    request: Request,
    _: AdminKey,
    store: StateDep,
    replace: bool = Query(False, description="Remove every stored object first."),
) -> s.ImportPublic:
    """Import a change-policy YAML file (docs/change-windows.md); upserts by name."""
    text = (await request.body()).decode("utf-8", errors="replace")
    try:
        document = load_yaml_model(PolicyFile, text, source="<request>").resolved()
    except (ConfigurationError, ValueError) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    items = policy_items(document)
    _write(store, items, replace_all=replace)
    counts: dict[str, int] = {}
    for kind, _name, _body in items:
        counts[kind] = counts.get(kind, 0) + 1
    return s.ImportPublic(imported=counts, replaced=replace)


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
                name = _suppression_id(body)
            elif kind == "organization":
                name = "organization"
            else:
                name = str(body["id" if kind == "ticket" else "name"])
            items.append((kind, name, body))
    return items
