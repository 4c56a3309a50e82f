"""The combiner (ADR 0012): model percentile x rule severity x window context -> a finding."""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models.scoring import (
    CombineSettings,
    EventFacts,
    Explanation,
    Finding,
    FindingsPublic,
    Hit,
    ScorerInfo,
    Severity,
    WindowScore,
    combine,
    rule_by_id,
    severity_rank,
)

DOCS = Path(__file__).parent.parent.parent / "docs"
ALICE = "arn:aws:iam::111122223333:user/alice"
BOB = "arn:aws:iam::111122223333:user/bob"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SNAPSHOTS = Explanation(
    "snapshots_created", 14.0, 0.0, "14 snapshots created in one hour; usually 0"
)
REGIONS = Explanation("new_regions", 2.0, 0.0, "2 regions never used before; usually 0")
FOREST = ScorerInfo("isolation-forest", "3")


def window(
    percentile: float,
    *,
    identity: str = ALICE,
    start: datetime = T0,
    ids: tuple[str, ...] = ("e1", "e2"),
    cold: bool = False,
) -> WindowScore:
    return WindowScore(
        identity=identity,
        window_start=start,
        window_end=start + HOUR,
        score=0.5 + percentile / 1000,
        percentile=percentile,
        cold_start=cold,
        explanations=(SNAPSHOTS, REGIONS),
        event_ids=ids,
    )


def hit(
    rule_id: str,
    *,
    identity: str = ALICE,
    at: datetime = T0 + timedelta(minutes=20),
    until: datetime | None = None,
    ids: tuple[str, ...] = ("e2",),
) -> Hit:
    rule = rule_by_id(rule_id)
    return Hit(
        rule.id,
        rule.severity,
        rule.technique,
        rule.runbook,
        ids,
        identity,
        at,
        until or at,
        f"{rule.id} fired on {', '.join(ids)}",
    )


def facts(
    verdict: str | None, by_kind: str | None = None, by: str | None = None
) -> dict[str, EventFacts]:
    return {
        event_id: EventFacts("111122223333", "eu-central-1", ALICE, verdict, by_kind, by)
        for event_id in ("e1", "e2", "e3")
    }


_LEVELS = sorted(Severity, key=severity_rank)
OUTSIDE, FREEZE = "ChangeWindow.OutsideApproved", "ChangeWindow.InsideFreeze"
FOREIGN, PUBLIC = "Sharing.ForeignAccount", "Sharing.Public"
CONTEXTS = {
    "none": facts(None),
    "window": facts("approved", "window", "weekly-deploy"),
    "ticket": facts("approved", "ticket", "CHG-1042"),
    "unapproved": facts("unapproved"),
    "freeze": facts("forbidden", "freeze", "year-end-freeze"),
}

# percentile (None: no model window), rule (None: no hit), context
#   -> severity (None: no finding), fragments that must appear, fragments that must not
TABLE = [
    # model alone: the bands (medium only beyond every baseline window)
    (100.0, None, "none", "medium", ["model percentile 100.0", "14 snapshots created"], ["raised"]),
    (99.99, None, "none", "low", ["model percentile 100.0"], []),
    (99.5, None, "none", "low", ["model percentile 99.5"], []),
    (99.49, None, "none", None, [], []),
    (95.0, None, "none", None, [], []),
    (50.0, None, "none", None, [], []),
    # model alone inside an approved window or ticket: low at 99.5 and above, else info
    (100.0, None, "window", "low", ["inside approved window weekly-deploy",
                                    "the model's medium lowered to low"], []),
    (99.5, None, "ticket", "low", ["inside approved ticket CHG-1042"], []),
    (99.4, None, "ticket", None, [], []),
    (99.7, None, "window", "low", ["the model's low lowered to low"], []),
    (90.0, None, "window", None, [], []),
    # beyond every baseline window, with a change a change-window rule reports as a breach
    (100.0, FREEZE, "freeze", "critical", ["during freeze year-end-freeze",
                                           "raised from high to critical"], []),
    (100.0, OUTSIDE, "unapproved", "high", ["outside every approved window and ticket",
                                            "raised from medium to high"], []),
    (99.9, OUTSIDE, "unapproved", "medium", [], ["raised", "lowered"]),
    (99.6, FREEZE, "freeze", "high", [], ["raised"]),
    # ... but not without such a report (the identity is not under change control, scoped)
    (100.0, None, "unapproved", "medium", [], ["raised"]),
    (100.0, None, "freeze", "medium", [], ["raised"]),
    # rules alone keep their own severity outside approved work
    (None, OUTSIDE, "unapproved", "medium", [f"{OUTSIDE} fired"], ["raised", "model"]),
    (None, FREEZE, "freeze", "high", [], ["raised"]),
    (None, PUBLIC, "none", "critical", [], []),
    # inside approved work: exfiltration, destruction, stolen credentials keep theirs ...
    (None, FOREIGN, "window", "high", [f"{FOREIGN} keep their severity"], ["lowered"]),
    (None, "Burst.Deletions", "ticket", "high", ["Burst.Deletions keep their severity"], []),
    (None, "Automation.UnexpectedNetwork", "window", "high", ["keep their severity"], []),
    # ... every other rule drops to low
    (None, "Burst.Changes", "window", "low", ["Burst.Changes lowered to low"], []),
    (None, "Sequence.SnapshotToNewInstance", "ticket", "low", ["lowered to low"], []),
    (None, "Identity.DormantChange", "window", "low", ["lowered to low"], []),
    # both: the higher of the two, then the context
    (99.6, OUTSIDE, "unapproved", "medium", ["model percentile 99.6"], ["raised"]),
    (100.0, FOREIGN, "unapproved", "high", [], ["raised"]),
    (100.0, PUBLIC, "freeze", "critical", [], ["raised"]),
    (100.0, FOREIGN, "window", "high", ["the model's medium lowered to low",
                                        f"{FOREIGN} keep their severity"], []),
    (100.0, "Burst.Changes", "window", "low", ["Burst.Changes lowered to low"], []),
    (100.0, OUTSIDE, "none", "medium", ["model percentile 100.0"], ["raised"]),
    (80.0, "Burst.Changes", "none", "medium", [], ["model percentile"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("raised_to", "context", "severity"),
    [
        (Severity.HIGH, "ticket", "medium"),  # raised as new for the actor: one level down
        (Severity.CRITICAL, "window", "high"),
        (Severity.MEDIUM, "ticket", "low"),  # at the rule's base severity: low, as before
        (Severity.HIGH, "unapproved", "high"),
    ],
)
def test_an_approval_covers_the_change_not_what_is_new_for_the_actor(
    raised_to: Severity, context: str, severity: str
) -> None:
    # a first serial-console key push by a stolen session, inside its owner's ticket
    base = hit("RemoteAccess.SerialConsoleEnabled")
    raised = dataclasses.replace(base, severity=raised_to)
    (finding,) = combine([], [raised], CONTEXTS[context], scorer=FOREST)
    assert finding.severity == severity


@pytest.mark.parametrize(
    ("percentile", "rule_id", "context", "severity", "present", "absent"), TABLE
)
def test_combining_table(
    percentile: float | None,
    rule_id: str | None,
    context: str,
    severity: str | None,
    present: list[str],
    absent: list[str],
) -> None:
    windows = [window(percentile)] if percentile is not None else []
    hits = [hit(rule_id)] if rule_id is not None else []
    findings = combine(windows, hits, CONTEXTS[context], scorer=FOREST)
    if severity is None:
        assert findings == []
        return
    (finding,) = findings
    assert finding.severity == severity
    text = " | ".join(finding.reasons)
    for fragment in present:
        assert fragment in text
    for fragment in absent:
        assert fragment not in text
    assert finding.rules == ([rule_id] if rule_id else [])
    assert finding.identity == ALICE


def test_model_only_finding_carries_the_model_part_and_at_most_three_explanations() -> None:
    many = tuple(Explanation(f"f{i}", float(i), 0.0, f"feature {i} is {i}") for i in range(5))
    scored = WindowScore(ALICE, T0, T0 + HOUR, 0.71, 99.8, False, many, ("e1",))
    (finding,) = combine([scored], [], scorer=FOREST)
    assert finding.model is not None
    assert finding.model.scorer == "isolation-forest@3"
    assert finding.model.percentile == 99.8
    assert [e.feature for e in finding.model.explanations] == ["f0", "f1", "f2"]
    assert [r for r in finding.reasons if r.startswith("feature")] == [
        "feature 0 is 0",
        "feature 1 is 1",
        "feature 2 is 2",
    ]
    assert finding.title == "Unusual behaviour for this identity"
    assert (finding.window_start, finding.window_end) == (T0, T0 + HOUR)


def test_rule_reasons_come_first_strongest_rule_first() -> None:
    hits = [hit("ChangeWindow.OutsideApproved", ids=("e1",)), hit("Sharing.Public", ids=("e2",))]
    (finding,) = combine([window(99.7)], hits)
    assert finding.reasons[0].startswith("Sharing.Public")
    assert finding.reasons[1].startswith("ChangeWindow.OutsideApproved")
    assert finding.title == rule_by_id("Sharing.Public").title
    assert finding.rules == ["ChangeWindow.OutsideApproved", "Sharing.Public"]
    assert finding.techniques == ["T1537", "T1578"]
    assert [h.rule_id for h in finding.hits] == ["Sharing.Public", "ChangeWindow.OutsideApproved"]


# --------------------------------------------------------------------------- cold start


def test_a_cold_start_window_never_makes_a_finding_alone() -> None:
    assert combine([window(100.0, cold=True)], [], CONTEXTS["unapproved"]) == []


def test_cold_start_identity_is_judged_by_the_rules_and_says_why_not_by_the_model() -> None:
    cold = WindowScore(ALICE, T0, T0 + HOUR, float("nan"), float("nan"), True, (), ("e1", "e2"))
    (finding,) = combine([cold], [hit("Sharing.ForeignAccount")], CONTEXTS["unapproved"])
    assert finding.severity == "high"  # the rule's own, never raised by an unscored model
    assert "new identity: no baseline yet" in " ".join(finding.reasons)
    assert "raised" not in " ".join(finding.reasons)
    assert finding.model is not None
    assert finding.model.cold_start
    assert finding.model.percentile is None
    assert finding.model.score is None


# --------------------------------------------------------------------------- grouping


def test_hits_and_windows_of_one_identity_that_overlap_become_one_finding() -> None:
    hits = [hit("ChangeWindow.OutsideApproved", ids=("e1",)), hit("Sharing.ForeignAccount")]
    findings = combine([window(99.7)], hits, CONTEXTS["unapproved"])
    assert len(findings) == 1
    assert findings[0].rules == ["ChangeWindow.OutsideApproved", "Sharing.ForeignAccount"]
    assert findings[0].event_ids == ["e1", "e2"]
    assert findings[0].model is not None


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (hit("Sharing.Public", at=T0 + HOUR), 2),  # at the window's end: half-open, outside
        (hit("Sharing.Public", at=T0 + HOUR - timedelta(seconds=1)), 1),
        (hit("Sharing.Public", identity=BOB), 2),  # another identity, same time
        (hit("Sharing.Public", at=T0 - timedelta(minutes=1)), 2),
        (hit("Sharing.Public", at=T0 - timedelta(minutes=1), until=T0), 1),
    ],
)
def test_grouping_is_per_identity_and_by_overlap(second: Hit, expected: int) -> None:
    assert len(combine([window(99.7)], [second])) == expected


def test_overlap_is_transitive_through_a_session_spanning_two_windows() -> None:
    windows = [window(99.9), window(99.6, start=T0 + HOUR, ids=("e3",))]
    session = hit(
        "ChangeWindow.OutsideApproved",
        at=T0 + timedelta(minutes=50),
        until=T0 + timedelta(minutes=70),
        ids=("e2", "e3"),
    )
    (finding,) = combine(windows, [session])
    assert (finding.window_start, finding.window_end) == (T0, T0 + 2 * HOUR)
    assert finding.model is not None
    assert finding.model.percentile == 99.9


def test_a_quiet_window_adds_context_but_no_severity_or_reason() -> None:
    (finding,) = combine([window(40.0)], [hit("ChangeWindow.OutsideApproved")])
    assert finding.severity == "medium"
    assert finding.model is not None
    assert finding.model.percentile == 40.0
    assert not any("model percentile" in r for r in finding.reasons)
    assert finding.event_ids == ["e2"]  # the quiet window's events are not evidence


def test_separate_identities_make_separate_findings_in_time_order() -> None:
    windows = [window(99.7, identity=BOB, start=T0 + HOUR), window(99.7)]
    findings = combine(windows, [])
    assert [f.identity for f in findings] == [ALICE, BOB]


# --------------------------------------------------------------------------- determinism


def test_rescoring_the_same_data_gives_the_same_findings_in_any_input_order() -> None:
    windows = [
        window(99.7),
        window(99.8, start=T0 + 3 * HOUR, ids=("e3",)),
        window(99.6, identity=BOB),
    ]
    hits = [hit("Sharing.ForeignAccount"), hit("ChangeWindow.OutsideApproved", identity=BOB)]
    first = combine(windows, hits, CONTEXTS["unapproved"])
    for seed in range(5):
        rng = random.Random(seed)
        shuffled_windows, shuffled_hits = windows[:], hits[:]
        rng.shuffle(shuffled_windows)
        rng.shuffle(shuffled_hits)
        again = combine(shuffled_windows, shuffled_hits, CONTEXTS["unapproved"])
        assert [f.model_dump_json() for f in again] == [f.model_dump_json() for f in first]
    assert len({f.finding_id for f in first}) == len(first) == 3


@pytest.mark.parametrize(
    "change",
    [
        lambda: ([window(99.7, ids=("e1", "e3"))], []),  # other events
        lambda: ([window(99.7, identity=BOB)], []),  # other identity
        lambda: ([window(99.7, start=T0 + HOUR)], []),  # other start
        lambda: ([window(99.7)], [hit("Burst.Changes", ids=("e1",))]),  # a rule more
    ],
)
def test_finding_id_depends_on_identity_start_rules_and_events(change) -> None:  # type: ignore[no-untyped-def]
    (base,) = combine([window(99.7)], [])
    (other,) = combine(*change())
    assert other.finding_id != base.finding_id
    assert re.fullmatch(r"cw-[0-9a-f]{32}", other.finding_id)


def test_finding_id_does_not_depend_on_the_percentile_or_the_context() -> None:
    (one,) = combine([window(99.7)], [], CONTEXTS["none"])
    (two,) = combine([window(99.6)], [], CONTEXTS["freeze"])
    assert one.finding_id == two.finding_id


# --------------------------------------------------------------------------- score


def test_score_orders_by_severity_first_then_model_percentile() -> None:
    cases = [
        combine([window(p)], [hit(r)] if r else [])[0]
        for p, r in [
            (99.5, None),
            (99.8, None),
            (99.99, None),
            (100.0, None),
            (100.0, "Sharing.Public"),
        ]
    ]
    scores = [f.score for f in cases]
    assert scores == sorted(scores)
    assert all(0 <= s <= 100 for s in scores)
    ranks = [severity_rank(f.severity) for f in cases]
    assert ranks == sorted(ranks)


def test_rules_only_findings_score_at_the_floor_of_their_band() -> None:
    (finding,) = combine([], [hit("Sharing.ForeignAccount")])
    assert finding.score == 60.0
    assert finding.model is None


# --------------------------------------------------------------------------- the schema


def test_finding_json_has_the_agreed_keys_and_round_trips() -> None:
    (finding,) = combine([window(99.7)], [hit("Sharing.ForeignAccount")], CONTEXTS["unapproved"])
    data = finding.model_dump(mode="json")
    for key in ("finding_id", "severity", "score", "rules", "reasons", "identity",
                "window_start", "window_end", "event_ids"):  # fmt: skip
        assert key in data
    assert data["window_start"].endswith("Z")
    assert data["account_id"] == "111122223333"
    assert data["regions"] == ["eu-central-1"]
    assert data["principal_arn"] == ALICE
    assert Finding.model_validate_json(finding.model_dump_json()) == finding
    page = FindingsPublic(data=[finding], count=1)
    assert FindingsPublic.model_validate_json(page.model_dump_json()) == page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("severity", "severe"),
        ("score", 101.0),
        ("finding_id", "abc"),
        ("window_start", "2026-03-02T10:00:00"),  # naive
        ("reasons", []),
        ("unknown_key", 1),
    ],
)
def test_finding_schema_refuses_bad_values(field: str, value: object) -> None:
    (finding,) = combine([window(99.7)], [])
    data = finding.model_dump(mode="json")
    data[field] = value
    with pytest.raises(ValidationError):
        Finding.model_validate(data)


def test_event_ids_are_capped_but_counted() -> None:
    ids = tuple(f"e{i:04d}" for i in range(300))
    (finding,) = combine([window(99.7, ids=ids)], [], settings=CombineSettings(max_event_ids=10))
    assert finding.event_ids == list(ids[:10])
    assert finding.event_count == 300


@pytest.mark.parametrize(
    "make",
    [
        lambda: WindowScore(ALICE, T0.replace(tzinfo=None), T0 + HOUR, 0.5, 99.0),
        lambda: WindowScore(ALICE, T0, T0, 0.5, 99.0),
        lambda: WindowScore(ALICE, T0, T0 + HOUR, 0.5, 100.5),
        lambda: WindowScore(ALICE, T0, T0 + HOUR, 0.5, float("nan")),
        lambda: CombineSettings(bands=((95.0, Severity.LOW), (99.0, Severity.HIGH))),
        lambda: CombineSettings(raise_percentile=0),
    ],
)
def test_contract_objects_refuse_nonsense(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"."):
        make()


def test_explanation_reads_the_models_package_explanations() -> None:
    from models import explain

    (first,) = explain([2.0, 0.0], [14.0, 1.0], [0.0, 1.0], ["snapshots", "regions"], top=1)
    converted = Explanation.from_feature(first)
    assert (converted.feature, converted.value, converted.usual) == ("snapshots", 14.0, 0.0)
    assert converted.text == first.text


def test_docs_table_matches_the_default_bands() -> None:
    text = (DOCS / "findings.md").read_text()
    for cut, severity in CombineSettings().bands:
        assert re.search(rf"\|\s*>= {cut:g}\s*\|\s*{severity}\s*\|", text), (cut, severity)
    assert f">= {CombineSettings().raise_percentile:g}" in text


# --------------------------------------------------------------------------- properties

_RULES = ("ChangeWindow.OutsideApproved", "Sharing.ForeignAccount", "Sharing.Public")


@st.composite
def _batches(draw: st.DrawFn) -> tuple[list[WindowScore], list[Hit], dict[str, EventFacts]]:
    identities = (ALICE, BOB)
    windows = [
        window(
            draw(st.floats(0, 100)),
            identity=draw(st.sampled_from(identities)),
            start=T0 + HOUR * hour,
            ids=(f"w{i}",),
            cold=draw(st.booleans()),
        )
        for i, hour in enumerate(draw(st.lists(st.integers(0, 5), max_size=6, unique=True)))
    ]
    hits = [
        hit(
            draw(st.sampled_from(_RULES)),
            identity=draw(st.sampled_from(identities)),
            at=T0 + timedelta(minutes=draw(st.integers(0, 360))),
            ids=(f"h{i}",),
        )
        for i in range(draw(st.integers(0, 6)))
    ]
    verdict = draw(st.sampled_from([None, "approved", "unapproved", "forbidden"]))
    known = {f"w{i}" for i in range(len(windows))} | {f"h{i}" for i in range(len(hits))}
    facts = {
        i: EventFacts("111122223333", "eu-central-1", None, verdict, "window", "x") for i in known
    }
    return windows, hits, facts


@settings(max_examples=60, deadline=None)
@given(_batches(), st.randoms(use_true_random=False))
def test_combiner_invariants(
    batch: tuple[list[WindowScore], list[Hit], dict[str, EventFacts]], rng: random.Random
) -> None:
    windows, hits, facts = batch
    findings = combine(windows, hits, facts)
    # every hit lands in exactly one finding, never below its rule's severity; inside approved
    # work only rules that mean exfiltration, destruction or stolen credentials keep theirs
    for one in hits:
        (home,) = [f for f in findings if one.event_ids[0] in f.event_ids]
        floor = one.severity
        if (
            home.change_context.verdict == "approved"
            and not rule_by_id(one.rule_id).kept_when_approved
        ):
            # an approval covers the change: low, or one level down for a hit its rule raised
            raised = severity_rank(floor) > severity_rank(rule_by_id(one.rule_id).severity)
            floor = (
                _LEVELS[severity_rank(floor) - 1]
                if raised
                else min(floor, Severity.LOW, key=severity_rank)
            )
        assert severity_rank(home.severity) >= severity_rank(floor)
        assert one.rule_id in home.rules
    # findings of one identity never overlap in time
    for identity in (ALICE, BOB):
        spans = [(f.window_start, f.window_end) for f in findings if f.identity == identity]
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    # the input order does not matter
    rng.shuffle(windows)
    rng.shuffle(hits)
    assert combine(windows, hits, facts) == findings
