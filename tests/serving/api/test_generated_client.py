"""A client generated from the live spec with openapi-python-client works (issue 20).

The client is generated with ``--fail-on-warning`` from ``/openapi.json`` of a real
uvicorn, imported, and used for one scoring call, one window create/list/delete and one
typed error. The only configuration is the one a user needs too: the generator does
not read ``application/yaml``, so YAML policy bodies are bytes to it (JSON policy
import is typed).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.serving.api.conftest import ADMIN_SECRET, SCORE_SECRET

pytestmark = pytest.mark.slow

_CONFIG = "content_type_overrides:\n  application/yaml: application/octet-stream\n"


@pytest.fixture(scope="module")
def generated(live_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Generate the client package from the live spec; yield its import name."""
    tool = Path(sys.executable).with_name("openapi-python-client")
    if not tool.exists():
        pytest.fail("openapi-python-client is a dev dependency: make install")
    where = tmp_path_factory.mktemp("client")
    (where / "spec.json").write_bytes(httpx.get(f"{live_url}/openapi.json").content)
    (where / "config.yaml").write_text(_CONFIG)
    package = "changewatch_generated_client"
    env = {**os.environ, "PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [
            str(tool),
            "generate",
            "--path",
            str(where / "spec.json"),
            "--meta",
            "none",
            "--output-path",
            str(where / package),
            "--config",
            str(where / "config.yaml"),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        yield package
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m.startswith(package)]:
            del sys.modules[name]
        shutil.rmtree(where, ignore_errors=True)


def _module(package: str, name: str) -> ModuleType:
    return importlib.import_module(f"{package}.{name}")


def _client(package: str, live_url: str, secret: str) -> Any:
    return _module(package, "client").AuthenticatedClient(base_url=live_url, token=secret)


def test_generated_client_scores_records(generated: str, live_url: str) -> None:
    models = _module(generated, "models")
    score = _module(generated, "api.score.score")
    record = models.CloudTrailRecord.from_dict(
        {
            "eventTime": "2026-03-02T10:15:00Z",
            "eventName": "TerminateInstances",
            "eventSource": "ec2.amazonaws.com",
            "eventID": "gen-client-0001",
            "awsRegion": "eu-central-1",
            "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ci"},
        }
    )
    answer = score.sync(
        client=_client(generated, live_url, SCORE_SECRET),
        body=models.RecordsBatch(records=[record]),
    )
    assert isinstance(answer, models.ScorePublic), answer
    assert answer.records == 1
    assert answer.rejected == []


def test_generated_client_creates_lists_and_deletes_a_window(generated: str, live_url: str) -> None:
    models = _module(generated, "models")
    policy = "api.policy."
    client = _client(generated, live_url, ADMIN_SECRET)
    window = models.WindowCreate.from_dict(
        {"name": "gen-client-window", "rrule": "FREQ=WEEKLY;BYDAY=SA", "duration": "PT4H"}
    )
    created = _module(generated, policy + "create_window").sync_detailed(client=client, body=window)
    assert created.status_code == 201, created.content
    assert created.headers["location"] == "/v1/windows/gen-client-window"
    page = _module(generated, policy + "list_windows").sync(client=client, limit=10)
    assert isinstance(page, models.WindowsPublic)
    assert "gen-client-window" in [w.name for w in page.data]
    deleted = _module(generated, policy + "delete_window").sync_detailed(
        "gen-client-window", client=client
    )
    assert deleted.status_code == 204


def test_generated_client_gets_typed_errors(generated: str, live_url: str) -> None:
    models = _module(generated, "models")
    client = _client(generated, live_url, ADMIN_SECRET)
    missing = _module(generated, "api.policy.get_window").sync("no-such-window", client=client)
    assert isinstance(missing, models.Problem), missing
    assert missing.status == 404
    assert missing.instance == "/v1/windows/no-such-window"
