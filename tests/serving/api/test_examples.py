"""Every example the spec gives is accepted by a live server (issue 20).

Examples of request bodies (in an operation's content, or in the schema it references)
are posted as they are to a real uvicorn with an admin key; each must be answered 2xx.
A 409 on a second create of the same object is not the example's fault, so each case
runs against the objects it creates and removes them after.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from serving.api import create_app
from tests.conftest import make_record
from tests.serving.api.conftest import ADMIN_SECRET, settings_for

_HEADERS = {"Authorization": f"Bearer {ADMIN_SECRET}"}


def _examples() -> Iterator[tuple[str, str, str, str, Any]]:
    """(case id, method, path, media type, body) of every request example of the spec."""
    import tempfile
    from pathlib import Path

    spec = create_app(settings_for(Path(tempfile.mkdtemp()) / "s.db")).openapi()
    schemas = spec["components"]["schemas"]
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media, body in content.items():
                found = dict(body.get("examples", {}))
                if "example" in body:
                    found["example"] = {"value": body["example"]}
                ref = body.get("schema", {}).get("$ref", "")
                if ref and not found:
                    component = schemas[ref.rsplit("/", 1)[-1]]
                    found = {
                        f"schema{n}": {"value": v}
                        for n, v in enumerate(component.get("examples", []))
                    }
                for name, example in found.items():
                    yield (
                        f"{operation['operationId']}-{media}-{name}",
                        method,
                        path,
                        media,
                        example["value"],
                    )


_CASES = list(_examples())


def test_the_spec_has_examples_for_every_create() -> None:
    operations = {case.split("-", 1)[0] for case, *_ in _CASES}
    creates = {
        "createWindow",
        "createTicket",
        "createFreeze",
        "createAutomation",
        "createSuppression",
    }
    assert creates | {"score", "importPolicy"} <= operations


def _a_finding(live_url: str) -> str:
    """Score a public snapshot share (a finding without any policy) and return its id."""
    share = {"group": "all"}
    record = make_record(
        eventID="example-public-share",
        eventName="ModifySnapshotAttribute",
        requestParameters={
            "snapshotId": "snap-0123456789abcdef0",
            "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {"add": {"items": [share]}},
        },
        responseElements=None,
    )
    answer = httpx.post(f"{live_url}/v1/score", json=[record], headers=_HEADERS)
    assert answer.status_code == 200, answer.text
    findings = answer.json()["findings"]
    assert findings, answer.text
    return str(findings[0]["finding_id"])


@pytest.mark.parametrize(
    ("method", "path", "media", "body"), [c[1:] for c in _CASES], ids=[c[0] for c in _CASES]
)
def test_every_spec_example_is_accepted_live(
    live_url: str, method: str, path: str, media: str, body: Any
) -> None:
    name = body.get("name") if isinstance(body, dict) else None
    if "{finding_id}" in path:  # an example verdict or status is given to a real finding
        path = path.replace("{finding_id}", _a_finding(live_url))
    if "{name}" in path:
        path = path.replace("{name}", str(name or body.get("id", "example")))
    sent = {**_HEADERS, "Content-Type": media}
    data = body.encode() if isinstance(body, str) else None
    answer = httpx.request(
        method, f"{live_url}{path}", headers=sent, content=data, json=None if data else body
    )
    assert 200 <= answer.status_code < 300, answer.text
    location = answer.headers.get("location")
    if location:
        httpx.delete(f"{live_url}{location}", headers=_HEADERS)


def test_the_documented_eventbridge_pattern_names_fields_events_carry() -> None:
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).parents[3] / "docs" / "operations.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    pattern = next(b for b in blocks if "detail-type" in b)
    envelope = _CASES and next(body for case, *_, body in _CASES if case.endswith("eventbridge"))
    assert set(pattern) <= set(envelope), "event patterns match field names exactly"
