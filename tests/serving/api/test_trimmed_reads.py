"""The service answers the same whether it reads every stored event or only what rules read.

Two states start equal; one is scored as the service scores (``score_records``: rules
only, reading what the rules read), the other reading every stored event of the
batch's identities, as the service did before and still does with a model. Every
answer must be the same, byte for byte: hits, rule hits per event, findings, counts.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.scoring._windows_model import PolicyFile
from models.scoring._yaml import read_yaml_model
from serving._model_holder import LoadedModel
from serving._state import StateStore
from serving.api.metrics import Metrics
from serving.api.routes.policy import policy_items
from serving.api.scoring import score_records
from tests.serving.conftest import POLICY_YAML, Stream, record
from tests.serving.test_rules_fast_paths import CALLS, START, WHO, fast

RULES_ONLY = LoadedModel("none")


def _stores(state: Path, tmp_path: Path, policy: list[Path]) -> tuple[StateStore, StateStore]:
    stores = []
    for name in ("trimmed", "everything"):
        path = tmp_path / f"{name}.db"
        path.write_bytes(state.read_bytes())
        store = StateStore(path)
        items = [i for p in policy for i in policy_items(read_yaml_model(PolicyFile, p).resolved())]
        if items:
            store.put_objects(items)
        stores.append(store)
    return stores[0], stores[1]


def replay(
    batches: list[list[dict[str, Any]]], trimmed: StateStore, everything: StateStore
) -> list[dict[str, Any]]:
    """Send each batch to both stores; every answer must be the same. Returns the answers."""
    answers = []
    for batch in batches:
        fast_answer = score_records(batch, trimmed, RULES_ONLY, Metrics())
        reference = score_records(batch, everything, RULES_ONLY, Metrics(), trim=False)
        assert fast_answer.model_dump_json() == reference.model_dump_json()
        answers.append(reference.model_dump(mode="json"))
    return answers


def _deliveries(records: list[dict[str, Any]], seed: int) -> list[list[dict[str, Any]]]:
    """Batches as EventBridge and S3 deliver them: mostly one event, some large, a few late,
    some sent twice."""
    chooser = random.Random(seed)
    batches: list[list[dict[str, Any]]] = []
    at = 0
    while at < len(records):
        size = 1 if chooser.random() < 0.4 else chooser.randint(2, 120)
        batches.append(records[at : at + size])
        at += size
        if chooser.random() < 0.05:
            batches.append(chooser.sample(batches[-1], 1))  # a resend
        if len(batches) > 2 and chooser.random() < 0.05:
            batches[-1], batches[-2] = batches[-2], batches[-1]  # delivered late
    return batches


@pytest.mark.parametrize("with_policy", [True, False], ids=["organisation policy", "no policy"])
def test_replaying_a_simulated_week_answers_the_same(
    sim_stream: Stream, tmp_path: Path, with_policy: bool
) -> None:
    trimmed, everything = _stores(
        sim_stream.state, tmp_path, list(sim_stream.policy) if with_policy else []
    )
    answers = replay(_deliveries(sim_stream.replay, seed=1), trimmed, everything)
    assert sum(len(a["hits"]) for a in answers) > 20  # attacks were found on the way
    assert sum(len(a["findings"]) for a in answers) > 10
    assert sum(a["already_seen"] for a in answers) > 0


def test_single_events_after_a_quiet_start_answer_the_same(
    sim_stream: Stream, tmp_path: Path
) -> None:
    """One event per request from an empty state, as a new deployment meets them."""
    empty = tmp_path / "empty.db"
    StateStore(empty).close()
    trimmed, everything = _stores(empty, tmp_path, list(sim_stream.policy))
    replay([[r] for r in sim_stream.replay[:400]], trimmed, everything)


policy_files = st.sampled_from([None, POLICY_YAML])
streams = st.lists(
    st.lists(
        st.tuples(
            st.integers(0, len(CALLS) - 1),
            st.integers(0, len(WHO) - 1),
            st.integers(-3000, 3000),  # minutes around START: days of history, sometimes none
        ),
        min_size=1,
        max_size=8,
    ),
    min_size=1,
    max_size=10,
)


@fast
@given(deliveries=streams, policy=policy_files)
def test_random_streams_answer_the_same(
    tmp_path_factory: pytest.TempPathFactory,
    deliveries: list[list[tuple[int, int, int]]],
    policy: str | None,
) -> None:
    root = tmp_path_factory.mktemp("random-stream")
    files = []
    if policy is not None:
        files.append(root / "policy.yaml")
        files[0].write_text(policy)
    empty = root / "empty.db"
    StateStore(empty).close()
    trimmed, everything = _stores(empty, root, files)
    batches = [
        [
            record(
                CALLS[name][0],
                (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                **{**CALLS[name][1], **WHO[who]},
            )
            for name, who, minutes in batch
        ]
        for batch in deliveries
    ]
    replay(batches, trimmed, everything)
