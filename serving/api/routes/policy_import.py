"""``POST /v1/policy/import``: a change-policy file, as YAML or as JSON, stored in one write.

The file is parsed and validated in a worker thread, never on the event loop, under the
loader's bounds (``models.scoring.MAX_YAML_BYTES`` and the others): a YAML alias bomb or a
deeply nested document is a 422 within milliseconds while other requests go on.
"""

from datetime import UTC, datetime
from typing import Any, Final

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from features import ConfigurationError
from models.scoring import PolicyFile, load_yaml_model
from serving._state import StateStore
from serving.api import schemas as s
from serving.api.deps import AdminKey, StateDep, is_json, media_type
from serving.api.problems import VALIDATION, FieldProblem, ProblemError, field_problems
from serving.api.problems import problem_responses as errors
from serving.api.routes.policy import policy_items, write
from serving.api.suppressions import same_suppression, suppression_problems, twins

__all__ = ["checked_suppressions", "router"]

router = APIRouter(prefix="/v1", tags=["policy"])

YAML_TYPES: Final = frozenset(
    {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/vnd.yaml"}
)
_EXAMPLE: Final = {
    "version": 1,
    "timezone": "Europe/Berlin",
    "windows": [{"name": "weekly", "rrule": "FREQ=WEEKLY;BYDAY=TU;BYHOUR=22", "duration": "PT4H"}],
}
_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "A change-policy file (docs/change-windows.md), as YAML or as JSON.",
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/PolicyFile"},
                "example": _EXAMPLE,
            },
            "application/yaml": {
                "schema": {"type": "string"},
                "example": "version: 1\ntimezone: Europe/Berlin\nwindows:\n"
                "  - name: weekly\n    rrule: FREQ=WEEKLY;BYDAY=TU;BYHOUR=22\n    duration: PT4H\n",
            },
        },
    }
}


def _parse(body: bytes, media: str | None) -> PolicyFile:
    """Parse and validate the file (in a worker thread); 415 or 422 when it is not one."""
    if media is None or media in YAML_TYPES:  # YAML reads JSON too
        text = body.decode("utf-8", errors="replace")
        try:
            return load_yaml_model(PolicyFile, text, source="<request>").resolved()
        except (ConfigurationError, ValueError) as error:
            raise ProblemError(422, str(error), type=VALIDATION) from None
    if not is_json(media):
        raise ProblemError(
            415,
            f"Content-Type {media!r} is not read here; send application/yaml or application/json",
        )
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ProblemError(400, f"the body is not JSON: {error}", type=VALIDATION) from None
    try:
        return PolicyFile.model_validate(data).resolved()
    except ValidationError as error:
        problems = field_problems(error.errors(include_url=False))
        detail = "; ".join(f"{p.pointer}: {p.detail}" for p in problems[:3])
        raise ProblemError(422, detail, type=VALIDATION, errors=problems) from None
    except ValueError as error:
        raise ProblemError(422, str(error), type=VALIDATION) from None


def checked_suppressions(
    items: list[tuple[str, str, dict[str, Any]]], store: StateStore, *, replace: bool
) -> list[tuple[str, str]]:
    """Check the file's suppressions; return the stored ones they replace (same rule, scope).

    Raises
    ------
    ProblemError
        422 naming each suppression of the file that is wrong, or given twice.
    """
    now = datetime.now(UTC)
    mine = [(name, body) for kind, name, body in items if kind == "suppression"]
    problems = [
        p
        for n, (_, body) in enumerate(mine)
        for p in suppression_problems(body, now, at=f"/suppressions/{n}")
    ]
    problems += [
        FieldProblem(
            detail="the same rule and scope as an earlier one", pointer=f"/suppressions/{n}"
        )
        for n, (_, body) in enumerate(mine)
        if any(same_suppression(body, other) for _, other in mine[:n])
    ]
    if problems:
        raise ProblemError(
            422, "; ".join(p.detail for p in problems[:3]), type=VALIDATION, errors=problems
        )
    if replace or not mine:
        return []
    stored = [(o.name, o.body) for o in store.list_objects("suppression")]
    return [("suppression", other) for name, body in mine for other in twins(body, name, stored)]


@router.post(
    "/policy/import",
    response_model=s.ImportPublic,
    openapi_extra=_BODY,
    responses=errors(400, 401, 403, 413, 415, 422, _422="The file is not a valid change policy."),
    operation_id="importPolicy",
)
async def import_policy(
    request: Request,
    _: AdminKey,
    store: StateDep,
    replace: bool = Query(False, description="Remove every stored object first."),
) -> s.ImportPublic:
    """Import a change-policy file (YAML or JSON, docs/change-windows.md); upserts by name.

    A suppression replaces a stored one with the same rule and scope.
    """
    media = media_type(request)
    if media is not None and media not in YAML_TYPES and not is_json(media):
        raise ProblemError(
            415,
            f"Content-Type {media!r} is not read here; send application/yaml or application/json",
        )
    body = await request.body()
    document = await run_in_threadpool(_parse, body, media)
    items = policy_items(document)
    gone = checked_suppressions(items, store, replace=replace)
    await run_in_threadpool(write, store, items, replace_all=replace, remove=gone)
    counts: dict[str, int] = {}
    for kind, _name, _body in items:
        counts[kind] = counts.get(kind, 0) + 1
    return s.ImportPublic(imported=counts, replaced=replace)
