"""The findings book: kept once per id, status kept across reports, verdicts as labels."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from features import InputError
from models.scoring import Finding
from serving import FindingsBook, verdict_labels


def _finding(number: int, events: list[str]) -> Finding:
    moment = datetime(2026, 3, 2, 10, number, tzinfo=UTC)
    return Finding.model_validate(
        {
            "finding_id": f"cw-{number:032x}",
            "severity": "medium",
            "score": 50.0,
            "title": "t",
            "rules": ["ChangeWindow.OutsideApproved"],
            "reasons": ["r"],
            "identity": "arn:aws:iam::111122223333:user/alice",
            "principal_arn": None,
            "account_id": "111122223333",
            "regions": ["eu-central-1"],
            "window_start": moment,
            "window_end": moment,
            "event_ids": events,
            "event_count": len(events),
            "techniques": [],
            "runbooks": [],
            "hits": [],
            "model": None,
            "change_context": {"verdict": "none", "by": [], "changes": 0},
        }
    )


@pytest.fixture
def book(tmp_path: Path) -> FindingsBook:
    return FindingsBook(tmp_path / "state.db")


def test_a_finding_reported_again_keeps_its_verdict(book: FindingsBook) -> None:
    book.record([_finding(1, ["a"])], source="api", event_names={"a": "CreateSnapshot"})
    book.set_verdict(_finding(1, []).finding_id, resolution="benign", note="n", by="k",
                     suppressions=["v-1"])  # fmt: skip
    book.record([_finding(1, ["a"])], source="batch")
    (stored,) = book.page()[0]
    assert (stored.status, stored.resolution, stored.suppressions) == (
        "resolved",
        "benign",
        ["v-1"],
    )
    assert stored.event_names == {"a": "CreateSnapshot"}
    assert stored.source == "api"


def test_a_verdict_on_an_unknown_finding_names_it(book: FindingsBook) -> None:
    with pytest.raises(InputError, match="cw-0000"):
        book.set_verdict("cw-" + "0" * 32, resolution="benign", note=None, by="k", suppressions=[])


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([("malicious", ["a", "b"])], {"a": "attack", "b": "attack"}),
        ([("benign", ["a"])], {"a": "hard_negative"}),
        ([("duplicate", ["a"])], {}),
        ([("benign", ["a", "b"]), ("malicious", ["b"])], {"a": "hard_negative", "b": "attack"}),
    ],
    ids=["malicious", "benign", "duplicate", "attack-wins"],
)
def test_verdicts_become_labels(
    book: FindingsBook, verdicts: list[tuple[str, list[str]]], expected: dict[str, str]
) -> None:
    for number, (verdict, events) in enumerate(verdicts, start=1):
        book.record([_finding(number, events)], source="api")
        book.set_verdict(
            f"cw-{number:032x}", resolution=verdict, note=None, by="k", suppressions=[]
        )
    labels = verdict_labels(book.verdicts())
    assert dict(zip(labels["event_id"], labels["kind"], strict=True)) == expected
