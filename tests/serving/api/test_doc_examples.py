"""Every example the docs give is accepted by a live server, as the docs say (issue 20).

The policy files of the docs (YAML blocks that start with ``version:``) are imported into
a real uvicorn, and every ``curl`` command with a JSON body (``-d '...'``) is sent as it is
written; the status must be the one the docs show after it (a documented ``404`` or
``422`` outcome, else 2xx). ``$F`` stands for a finding the server really made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from serving.api import create_app
from tests.serving.api.conftest import ADMIN_SECRET, served, settings_for
from tests.serving.api.test_examples import _a_finding

DOCS = Path(__file__).parents[3] / "docs"
_HEADERS = {"Authorization": f"Bearer {ADMIN_SECRET}"}


@dataclass(frozen=True)
class Call:
    """One documented ``curl`` with a JSON body, and the status the docs show for it."""

    where: str
    method: str
    path: str
    body: str
    expected: int | None  # None: any 2xx


def _blocks(kind: str) -> Iterator[tuple[str, str]]:
    for doc in sorted(DOCS.glob("*.md")):
        for number, block in enumerate(re.findall(rf"```{kind}\n(.*?)```", doc.read_text(), re.S)):
            yield f"{doc.name}#{number}", block


def _commands(block: str) -> Iterator[tuple[str, str]]:
    """Yield each command of a shell block (continuations joined) and the line after it."""
    lines = block.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].removeprefix("$ ")
        index += 1
        if not line.lstrip().startswith("curl"):
            continue
        command = line
        while command.rstrip().endswith("\\") or command.count("'") % 2:
            command = command.rstrip().removesuffix("\\") + "\n" + lines[index]
            index += 1
        after = lines[index] if index < len(lines) else ""
        yield command, after


def _expected(after: str) -> int | None:
    shown = re.match(r"\.\.\. (\d{3}) ", after)
    if shown:
        return int(shown.group(1))
    if '"no finding' in after:
        return 404
    return None


def _calls() -> Iterator[Call]:
    for where, block in _blocks("sh"):
        for command, after in _commands(block):
            body = re.search(r"-d '(.*?)'", command, re.S)
            if body is None:
                continue
            method = re.search(r"-X (\w+)", command)
            url = re.search(r"(?:\$B|https?://[^/\s']+)(/[^\s'\"]*)", command)
            assert url is not None, command
            yield Call(
                where,
                method.group(1) if method else "POST",
                url.group(1),
                body.group(1),
                _expected(after),
            )


CALLS = list(_calls())
POLICIES = [(where, block) for where, block in _blocks("yaml") if block.startswith("version:")]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[str]:
    """A live server of its own: the examples change its policy."""
    with served(create_app(settings_for(tmp_path / "state.db"))) as url:
        yield url


def test_the_docs_have_examples_to_check() -> None:
    assert len(CALLS) >= 4
    assert {c.expected for c in CALLS} >= {None, 404, 422}
    assert POLICIES


@pytest.mark.parametrize(("where", "text"), POLICIES, ids=[w for w, _ in POLICIES])
def test_every_documented_policy_file_is_imported(live: str, where: str, text: str) -> None:
    answer = httpx.post(
        f"{live}/v1/policy/import",
        params={"replace": "true"},
        content=text.encode(),
        headers={**_HEADERS, "Content-Type": "application/yaml"},
    )
    assert answer.status_code == 200, (where, answer.text)


@pytest.mark.parametrize("call", CALLS, ids=[f"{c.where}:{c.method} {c.path}" for c in CALLS])
def test_every_documented_call_answers_as_the_docs_say(live: str, call: Call) -> None:
    path = call.path.replace("$F", _a_finding(live)) if "$F" in call.path else call.path
    json.loads(call.body)  # the documented body is JSON as written
    answer = httpx.request(
        call.method,
        f"{live}{path}",
        content=call.body.encode(),
        headers={**_HEADERS, "Content-Type": "application/json"},
    )
    if call.expected is None:
        assert 200 <= answer.status_code < 300, (call, answer.text)
    else:
        assert answer.status_code == call.expected, (call, answer.text)
