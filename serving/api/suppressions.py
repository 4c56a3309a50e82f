"""What a suppression must be before it is stored.

A suppression names a rule (an ``fnmatch`` pattern) and a scope, and ends at ``expires``.
One that matches no rule, or has already expired, would silently suppress nothing; two
with the same rule and scope would leave a reader guessing which one counts. So a
written suppression must name a known rule or a pattern matching one, expire in the
future, and differ in rule or scope from every other stored one. Its id is derived from
its rule and scope: creating the same suppression twice is a conflict, and importing a
file again replaces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Final

import orjson

from models.scoring import RULES
from serving.api.problems import FieldProblem

__all__ = ["KNOWN_RULES", "same_suppression", "suppression_id", "suppression_problems", "twins"]

KNOWN_RULES: Final = tuple(sorted(r.id for r in RULES))


def _identity(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(
        {"rule": body["rule"], "scope": body.get("scope") or {}}, option=orjson.OPT_SORT_KEYS
    )


def suppression_id(body: Mapping[str, Any]) -> str:
    """Return the id of a suppression: ``s-`` and a digest of its rule and scope."""
    return "s-" + hashlib.sha256(_identity(body)).hexdigest()[:12]


def same_suppression(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Whether two suppressions have the same rule and scope."""
    return _identity(one) == _identity(other)


def suppression_problems(
    body: Mapping[str, Any], now: datetime, *, at: str = ""
) -> list[FieldProblem]:
    """Return what is wrong with a (resolved) suppression; ``at`` is its JSON Pointer."""
    problems = []
    rule = str(body["rule"])
    if not any(fnmatchcase(known, rule) for known in KNOWN_RULES):
        problems.append(
            FieldProblem(
                detail=f"{rule!r} is no rule and matches none; the rules are "
                + ", ".join(KNOWN_RULES),
                pointer=f"{at}/rule",
            )
        )
    expires = datetime.fromisoformat(str(body["expires"]))
    if expires <= now:
        problems.append(
            FieldProblem(
                detail=f"expires {expires.isoformat()}, which is not in the future "
                f"(now {now.isoformat(timespec='seconds')})",
                pointer=f"{at}/expires",
            )
        )
    return problems


def twins(body: Mapping[str, Any], name: str, stored: Iterable[tuple[str, Any]]) -> list[str]:
    """Names of stored suppressions other than ``name`` with the same rule and scope."""
    return [
        other for other, existing in stored if other != name and same_suppression(body, existing)
    ]
