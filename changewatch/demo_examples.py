"""What the demo hands a newcomer: free ports, example requests, links into MLflow.

The examples are two requests to the scoring API: an attack of the simulated test week
replayed as the CloudTrail it was (inside the model's time frame, so the model scores it),
and a real Stratus Red Team recording of the same technique from years before the model's
training data (the model leaves it to the rules and the answer says why).
"""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import pandas as pd

from changewatch.errors import ConfigurationError

__all__ = [
    "ATTACK_SCENARIO",
    "STRATUS_SHARE",
    "attack_records",
    "check_ports",
    "curl_examples",
    "registry_links",
    "write_attack_example",
]

ATTACK_SCENARIO: Final = "snapshot_share_exfil"
"""The simulated attack the demo replays: a snapshot shared with a foreign account."""

STRATUS_SHARE: Final = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "data"
    / "stratus"
    / "aws.exfiltration.ec2-share-ebs-snapshot.json"
)
"""A real recording of the same technique (Stratus Red Team, August 2024; Apache-2.0)."""


def _in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _free_above(host: str, port: int, taken: set[int]) -> int:
    candidate = port + 1
    while candidate < 65535 and (candidate in taken or _in_use(host, candidate)):
        candidate += 1
    return candidate


def check_ports(host: str, api_port: int, ui_port: int) -> None:
    """Fail before any work when the API's or the UI's port cannot be listened on.

    Raises
    ------
    ConfigurationError
        Naming each busy port and free ones to use instead (``API_PORT=``/``UI_PORT=``).
    """
    if api_port == ui_port:
        raise ConfigurationError(
            f"the API and the MLflow UI cannot share port {api_port}: give two ports, "
            f"e.g. make demo API_PORT={api_port} UI_PORT={_free_above(host, api_port, set())}"
        )
    busy = {
        name: port for name, port in (("API", api_port), ("UI", ui_port)) if _in_use(host, port)
    }
    if not busy:
        return
    chosen = {"API": api_port, "UI": ui_port}
    for name, port in busy.items():
        chosen[name] = _free_above(host, port, set(chosen.values()))
    names = {"API": "the scoring API", "UI": "the MLflow UI"}
    said = " and ".join(f"port {port} ({names[name]})" for name, port in busy.items())
    raise ConfigurationError(
        f"{said} on {host} already in use, so nothing was started; free ports: "
        f"make demo API_PORT={chosen['API']} UI_PORT={chosen['UI']} "
        f"(or changewatch demo --api-port {chosen['API']} --ui-port {chosen['UI']})"
    )


def _trail_files(sim: Path, account: str, region: str, day: pd.Timestamp) -> Iterator[Path]:
    # an event is delivered in a file of its day, or of the next one just after midnight
    for moment in (day, day + timedelta(days=1)):
        folder = sim / "AWSLogs" / account / "CloudTrail" / region / f"{moment:%Y/%m/%d}"
        yield from sorted(folder.glob("*.json.gz"))


def attack_records(sim: Path, scenario: str = ATTACK_SCENARIO) -> list[dict[str, Any]]:
    """Return the CloudTrail records of one simulated attack, as the trail holds them.

    Raises
    ------
    ConfigurationError
        When the simulation holds no such attack.
    """
    labels = pd.read_parquet(sim / "labels.parquet")
    attack = labels[(labels["scenario"] == scenario) & (labels["kind"] == "attack")]
    if attack.empty:
        raise ConfigurationError(f"the simulation in {sim} holds no {scenario!r} attack")
    wanted = set(attack["event_id"])
    where = attack[["account_id", "region", "event_time"]].itertuples(index=False)
    files = {
        path
        for account, region, moment in where
        for path in _trail_files(sim, str(account), str(region), pd.Timestamp(moment).normalize())
    }
    records: list[dict[str, Any]] = []
    for path in sorted(files):
        with gzip.open(path, "rb") as handle:
            trail = json.loads(handle.read())
        records += [r for r in trail["Records"] if r.get("eventID") in wanted]
    return sorted(records, key=lambda r: (r["eventTime"], r["eventID"]))


def write_attack_example(sim: Path, path: Path) -> int:
    """Write the attack's records as an API request body; return how many there are."""
    records = attack_records(sim)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"Records": records}, indent=1) + "\n", encoding="utf-8")
    return len(records)


def curl_examples(base: str, attack: Path, stratus: Path = STRATUS_SHARE) -> list[tuple[str, str]]:
    """Commands to paste, each with what it shows: readiness, a scored attack, an ignored one."""
    post = f"curl -s -X POST {base}/v1/score -H 'Content-Type: application/json' --data-binary"
    examples = [
        ("is the service ready, and with the model?", f"curl -s {base}/readyz"),
        (
            "an attack of the simulated test week: the model scores it (percentile, why)",
            f"{post} @{attack} | python3 -m json.tool "
            "| grep -E '\"(percentile|text|severity|title)\"'",
        ),
    ]
    if stratus.exists():
        examples.append(
            (
                "a real Stratus Red Team recording (2024): older than the model's training data, "
                "so the rules judge it alone and ignored_by_model says why",
                f"{post} @{stratus} | python3 -m json.tool | grep -A 3 '\"ignored_by_model\"'",
            )
        )
    examples.append(("the model served", f"curl -s {base}/v1/model | python3 -m json.tool"))
    return examples


def registry_links(base: str, run: dict[str, str]) -> list[tuple[str, str]]:
    """Links into the MLflow UI: the champion's run page and its registered model and version.

    ``run`` holds ``experiment_id``, ``run_id``, ``name`` and ``version`` (the demo's
    ``model.json``).
    """
    from training import ui_url

    root = base.rstrip("/")
    return [
        ("run", ui_url(base, run["experiment_id"], run["run_id"])),
        (
            "model card",
            ui_url(base, run["experiment_id"], run["run_id"], page="artifacts/model_card.md"),
        ),
        ("registered model", f"{root}/#/models/{run['name']}"),
        ("its version", f"{root}/#/models/{run['name']}/versions/{run['version']}"),
    ]
