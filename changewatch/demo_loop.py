"""The analyst's loop in the demo: a benign verdict through the API, its suppression, a label.

After scoring, the demo keeps the test week's findings in the state database the
service uses (as ``score --state`` does), starts the API on a free local port, marks
the top finding the simulator knows to be benign with a verdict over HTTP, and prints
the suppression the verdict made and the label ``labels export`` writes for it.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from changewatch.commands.labels import verdict_labels_of
from serving import FindingsBook
from serving.api import Settings, create_app, served_in_thread

__all__ = ["show_loop"]

logger = logging.getLogger(__name__)

Say = Callable[[str], None]


@contextmanager
def _api(state: str) -> Iterator[str]:
    """Serve the API (rules only: a verdict needs no model) on a free port, in a thread."""
    # no keys: a loopback service the demo alone talks to, for the few seconds it runs
    options: dict[str, Any] = {"state": state, "model": "none", "host": "127.0.0.1", "api_keys": ""}
    with served_in_thread(create_app(Settings(**options))) as url:
        yield url


def _call(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST" if data else "GET",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _benign(findings: list[Any], labels: pd.DataFrame) -> Any | None:
    """Return the highest-scoring finding with rules and no labelled attack event."""
    attacks = set(labels.loc[labels["kind"] == "attack", "event_id"])
    ranked = sorted(findings, key=lambda f: f.score, reverse=True)
    return next((f for f in ranked if f.rules and not attacks & set(f.event_ids)), None)


def show_loop(
    state: str, findings: list[Any], events: pd.DataFrame, labels: pd.DataFrame, say: Say
) -> None:
    """Keep the findings, give one benign verdict over HTTP, print the suppression and label."""
    chosen = _benign(findings, labels)
    if chosen is None:
        say("the analyst's loop: no benign finding with rule hits to mark")
        return
    names = dict(zip(events["event_id"], events["event_name"], strict=True))
    book = FindingsBook(state)
    try:
        book.record(findings, source="batch", event_names=names)
    finally:
        book.close()
    say("")
    say("the analyst's loop: a benign verdict through the API")
    body = {
        "verdict": "benign",
        "note": "demo: known maintenance, confirmed with the team",
        "suppress": {"for": "P14D", "scope": "identity+action"},
    }
    with _api(state) as base:
        url = f"{base}/v1/findings/{chosen.finding_id}/verdict"
        say(f"  POST {url.removeprefix(base)}  {json.dumps(body)}")
        done = _call(url, body)
        say(f"  finding {chosen.finding_id} is now {done['finding']['status']}")
        for name in done["created_suppressions"]:
            made = _call(f"{base}/v1/suppressions/{name}")
            scope = {k: v for k, v in made["scope"].items() if v}
            say(
                f"  suppression {name}: rule {made['rule']} for {json.dumps(scope)}, "
                f"owner {made['owner']}, expires {made['expires']}"
            )
    exported, verdicts = verdict_labels_of(state)
    say(f"  labels export: {len(exported)} labels from {verdicts}; the first:")
    for row in exported.head(3).itertuples(index=False):
        say(f"    event_id={row.event_id}  scenario={row.scenario}  kind={row.kind}")
