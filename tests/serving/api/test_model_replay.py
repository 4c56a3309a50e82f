"""With a model loaded, the incremental state answers exactly as scoring every stored event.

Two states start equal (a simulated organisation's baseline days). One is scored as the
service scores: the rules read what they read, the model's windows come from each
identity's :class:`~models.scoring.IdentityState` (ADR 0032). The other is the reference:
every stored event of the batch's identities is read and the whole frame scored, each
identity measured against training and its own past (``trim=False``). Every answer must be
the same, byte for byte: hits, windows, findings with their model part, counts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from models.scoring import PolicyFile, read_yaml_model
from serving._model_holder import LoadedModel
from serving._state import StateStore
from serving.api.metrics import Metrics
from serving.api.routes.policy import policy_items
from serving.api.scoring import score_records
from tests.serving.conftest import Stream, Trained

pytestmark = pytest.mark.slow


@pytest.fixture
def trained(sim_model: Trained) -> Trained:
    return sim_model


def _store(stream: Stream, path: Path, *, max_per_identity: int = 1000) -> StateStore:
    path.write_bytes(stream.state.read_bytes())
    store = StateStore(path, max_per_identity=max_per_identity)
    documents = [read_yaml_model(PolicyFile, p).resolved() for p in stream.policy]
    store.put_objects(item for document in documents for item in policy_items(document))
    return store


def _model(trained: Trained) -> LoadedModel:
    """A freshly loaded model: its identity states start empty, as after a (re)start."""
    return LoadedModel(str(trained.bundle), trained.scorer)


def _around_attacks(stream: Stream, before: str = "45min", after: str = "20min") -> list[Any]:
    """The stream's records near each attack scenario (every scenario, a fraction of the days)."""
    spans = stream.labels.groupby("scenario")["event_time"].agg(["min", "max"])
    spans = [(a - pd.Timedelta(before), b + pd.Timedelta(after)) for a, b in spans.to_numpy()]
    kept = []
    for record in stream.replay:
        moment = pd.Timestamp(record["eventTime"])
        if any(a <= moment <= b for a, b in spans):
            kept.append(record)
    return kept


def _deliveries(records: list[Any], seed: int) -> list[list[Any]]:
    """Batches as EventBridge and S3 deliver them: mostly one event, some large (several
    identities), some sent twice, some a few minutes late, and a few held back for days."""
    chooser = random.Random(seed)
    batches: list[list[Any]] = []
    held: list[list[Any]] = []
    at = 0
    while at < len(records):
        size = 1 if chooser.random() < 0.6 else chooser.randint(2, 60)
        batch = records[at : at + size]
        at += size
        if chooser.random() < 0.02:
            held.append(batch)  # delivered at the very end: a day or more late
            continue
        batches.append(batch)
        if chooser.random() < 0.05:
            batches.append(chooser.sample(batch, 1))  # a resend
        if len(batches) > 2 and chooser.random() < 0.05:
            batches[-1], batches[-2] = batches[-2], batches[-1]  # a few minutes late
    return batches + held


def replay(
    batches: list[list[Any]],
    fast: Iterator[tuple[StateStore, LoadedModel]],
    reference: tuple[StateStore, LoadedModel],
) -> list[dict[str, Any]]:
    """Send each batch to the service's path and to the reference; every answer must match."""
    answers = []
    for number, batch in enumerate(batches):
        store, model = next(fast)
        answer = score_records(batch, store, model, Metrics())
        expected = score_records(batch, *reference, Metrics(), trim=False)
        assert answer.model_dump_json() == expected.model_dump_json(), f"batch {number}"
        answers.append(expected.model_dump(mode="json"))
    return answers


def _forever(*pairs: tuple[StateStore, LoadedModel]) -> Iterator[tuple[StateStore, LoadedModel]]:
    while True:
        yield from pairs


def test_every_attack_is_answered_as_the_reference_answers_it(
    sim_stream: Stream, trained: Trained, tmp_path: Path
) -> None:
    records = _around_attacks(sim_stream, before="40min", after="15min")
    batches = _deliveries(records, seed=7)
    fast = (_store(sim_stream, tmp_path / "fast.db"), _model(trained))
    reference = (_store(sim_stream, tmp_path / "reference.db"), _model(trained))
    answers = replay(batches, _forever(fast), reference)

    scored = {i for a in answers for e in a["events"] for i in [e["event_id"]]}
    for scenario, ids in sim_stream.labels.groupby("scenario")["event_id"]:
        assert set(ids) & scored, f"no event of {scenario} was replayed"
    assert sum(len(a["windows"]) for a in answers) > len(batches)
    modelled = [
        f for a in answers for f in a["findings"] if f["model"] and f["model"]["percentile"]
    ]
    assert len(modelled) > 5  # the model's part of the findings was compared too
    assert sum(a["already_seen"] for a in answers) > 0
    # the identity states answered most requests: they were rebuilt when first needed,
    # for the batches held back for days (older than a state's open day) and when
    # retention dropped an identity's events
    asked = sum(len({e["identity"] for e in a["events"]}) for a in answers)
    assert fast[1].states.rebuilt < asked // 4


def test_two_processes_on_one_state_answer_as_one(
    sim_stream: Stream, trained: Trained, tmp_path: Path
) -> None:
    """`serve --workers 2`: each process has its own states and catches up on the other's."""
    records = _around_attacks(sim_stream, before="30min", after="10min")[:120]
    path = tmp_path / "shared.db"
    first = (_store(sim_stream, path), _model(trained))
    second = (StateStore(path), _model(trained))
    reference = (_store(sim_stream, tmp_path / "reference.db"), _model(trained))
    batches = [[r] for r in records]
    replay(batches, _forever(first, second), reference)
    identities = len({r["userIdentity"].get("arn") for r in records})
    # each process builds an identity once, then takes in what the other one stored
    assert first[1].states.rebuilt + second[1].states.rebuilt <= 2 * identities + 10


def test_a_restart_and_a_new_model_answer_the_same(
    sim_stream: Stream, trained: Trained, tmp_path: Path
) -> None:
    records = _around_attacks(sim_stream, before="30min", after="10min")[:100]
    store = _store(sim_stream, tmp_path / "fast.db")
    reference = (_store(sim_stream, tmp_path / "reference.db"), _model(trained))
    models = iter([_model(trained)] * 50 + [_model(trained)] * 50)  # restarted half-way
    replay([[r] for r in records], ((store, m) for m in models), reference)


def test_the_store_dropping_events_rebuilds_the_states_it_concerns(
    sim_stream: Stream, trained: Trained, tmp_path: Path
) -> None:
    records = _around_attacks(sim_stream, before="30min", after="10min")[:200]
    fast = (_store(sim_stream, tmp_path / "fast.db", max_per_identity=40), _model(trained))
    reference = (
        _store(sim_stream, tmp_path / "reference.db", max_per_identity=40),
        _model(trained),
    )
    replay(_deliveries(records, seed=3), _forever(fast), reference)
    assert fast[1].states.rebuilt > 0
