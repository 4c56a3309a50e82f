"""The rules' fast paths give what the plain pandas code gives, on random batches.

Three shortcuts keep a 1-event request cheap: the gates that skip rules which cannot
fire (``Rule.applies`` over a :class:`BatchSummary`), the session split without a
frame (``session_records``) and the vectorised identity history. Each is checked
here against the straightforward version: the rule itself, and the pandas code the
shortcut replaced (kept below as the reference).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import features
from models.scoring import RULES, IdentityHistory, RuleContext, evaluate, parse_policy
from models.scoring._calendar import event_micros
from models.scoring._rules._base import attempted_changes, session_records, to_datetime
from models.scoring._rules._context import EBS_DIRECT_READS, rolling_counts
from models.scoring._rules._summary import BatchSummary
from tests.serving.conftest import POLICY_YAML, record, to_events

NOW = datetime(2026, 4, 1, tzinfo=UTC)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
I1, V0, V1 = "i-0c1c2c3c4c5c6c7c8", "vol-0a1a2a3a4a5a6a7a8", "vol-0d1d2d3d4d5d6d7d8"
S1 = "snap-0b1b2b3b4b5b6b7b8"
INSTANCE = {"instancesSet": {"items": [{"instanceId": I1}]}}


def _share(target: dict[str, str]) -> dict[str, Any]:
    permission = {"add": {"items": [target]}}
    return {"request": {"snapshotId": S1, "createVolumePermission": permission}}


CALLS: list[tuple[str, dict[str, Any]]] = [
    ("StopInstances", {"request": INSTANCE}),
    ("TerminateInstances", {"request": INSTANCE}),
    ("RunInstances", {"response": INSTANCE}),
    ("RunInstances", {"error": "Client.DryRunOperation"}),
    ("RunInstances", {"error": "Client.UnauthorizedOperation"}),
    ("CreateSnapshot", {"request": {"volumeId": V0}, "response": {"snapshotId": S1}}),
    ("DeleteSnapshot", {"request": {"snapshotId": S1}}),
    ("CreateVolume", {"request": {"snapshotId": S1}, "response": {"volumeId": V1}}),
    ("AttachVolume", {"request": {"volumeId": V1, "instanceId": I1}}),
    ("AttachVolume", {"request": {"volumeId": V1, "instanceId": I1}, "error": "Client.Boom"}),
    ("ModifySnapshotAttribute", _share({"group": "all"})),
    ("ModifySnapshotAttribute", _share({"userId": "999988887777"})),
    ("ModifySnapshotAttribute", {**_share({"group": "all"}), "error": "Client.DryRunOperation"}),
    ("GetSnapshotBlock", {"source": "ebs.amazonaws.com", "request": {"snapshotId": S1}}),
    ("DescribeInstances", {}),
]
WHO: list[dict[str, Any]] = [
    {"user": "alice"},
    {"user": "bob", "ip": "10.9.9.9"},
    {"role": "deploy-web", "ip": "10.20.1.5", "agent": "aws-cli/2.15.30 Python/3.11.8"},
    {"role": "deploy-web", "ip": "198.51.100.7", "agent": "Boto3/1.34.0 Python/3.11"},
    {
        "role": "web",
        "invoked_by": "autoscaling.amazonaws.com",
        "ip": "autoscaling.amazonaws.com",
    },
]
POLICIES = [None, "version: 1\n", POLICY_YAML]

calls = st.lists(
    st.tuples(
        st.integers(0, len(CALLS) - 1),
        st.integers(0, len(WHO) - 1),
        st.integers(0, 180),  # minutes after START
    ),
    min_size=1,
    max_size=30,
)
fast = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _events(drawn: list[tuple[int, int, int]], shift: timedelta = timedelta(0)) -> pd.DataFrame:
    records = []
    for name_at, who_at, minutes in drawn:
        name, extra = CALLS[name_at]
        moment = START + shift + timedelta(minutes=minutes)
        records.append(
            record(name, moment.strftime("%Y-%m-%dT%H:%M:%SZ"), **{**extra, **WHO[who_at]})
        )
    return to_events(records)


def _context(history: list[tuple[int, int, int]], shift_days: int, policy: int) -> RuleContext:
    past = _events(history, timedelta(days=-shift_days)) if history else None
    text = POLICIES[policy]
    return RuleContext.build(past, policy=parse_policy(text) if text else None, now=NOW)


@fast
@given(
    batch=calls,
    history=st.lists(st.tuples(st.integers(0, 14), st.integers(0, 4), st.integers(0, 600))),
    shift_days=st.sampled_from([1, 40]),
    policy=st.integers(0, len(POLICIES) - 1),
    burst=st.integers(0, 25),
)
def test_a_skipped_rule_had_nothing_to_say(
    batch: list[tuple[int, int, int]],
    history: list[tuple[int, int, int]],
    shift_days: int,
    policy: int,
    burst: int,
) -> None:
    events = _events(batch + [(1, 0, 5)] * burst)  # a burst of terminations, sometimes
    context = _context(history, shift_days, policy)
    summary = BatchSummary.of(events)
    ordered = events.sort_values("event_time", kind="stable").reset_index(drop=True)
    for one in RULES:
        if one.applies is not None and not one.applies(summary, context):
            assert one(ordered, context) == [], one.id
    ungated = [dataclasses.replace(one, applies=None) for one in RULES]
    assert evaluate(events, context) == evaluate(events, context, rules=ungated)


def _reference_sessions(frame: pd.DataFrame, keys: list[str], gap: timedelta) -> pd.DataFrame:
    """The pandas session split the rules used before ``session_records``."""
    columns = [*keys, "event_id", "event_name", "error_code", "start", "end"]
    if not len(frame):
        return pd.DataFrame(columns=columns)
    ordered = frame.assign(
        **{key: frame[key].astype(object).where(frame[key].notna(), "-") for key in keys}
    ).sort_values([*keys, "event_time"], kind="stable")
    times = pd.to_datetime(ordered["event_time"], utc=True)
    new_key = (ordered[keys] != ordered[keys].shift()).any(axis=1)
    new_session = np.array(new_key | (times.diff() > pd.Timedelta(gap)), dtype=bool)
    new_session[0] = True
    firsts = np.flatnonzero(new_session)
    lasts = np.append(firsts[1:], len(ordered)) - 1

    def split(column: str) -> list[list[Any]]:
        values = ordered[column].astype(object).to_numpy()
        return [part.tolist() for part in np.split(values, firsts[1:])]

    table = pd.DataFrame(
        {
            **{key: ordered[key].to_numpy()[firsts] for key in keys},
            "event_ids": split("event_id"),
            "event_names": split("event_name"),
            "error_codes": split("error_code"),
            "start": times.to_numpy()[firsts],
            "end": times.to_numpy()[lasts],
        }
    )
    return table.sort_values("start", kind="stable").reset_index(drop=True)


def _comparable(rows: Sequence[Mapping[Any, Any]]) -> list[dict[Any, Any]]:
    def same(value: Any) -> Any:
        if isinstance(value, list):
            return [same(v) for v in value]
        if isinstance(value, float) and np.isnan(value):
            return "NaN"
        if isinstance(value, pd.Timestamp | np.datetime64):
            return to_datetime(value)
        return value

    return [{k: same(v) for k, v in row.items()} for row in rows]


@fast
@given(
    drawn=calls,
    keys=st.sampled_from(
        [["identity_key", "account_id"], ["identity_key", "error_code"], ["event_name"]]
    ),
    gap=st.sampled_from([timedelta(minutes=1), timedelta(hours=1)]),
)
def test_session_records_match_the_pandas_split(
    drawn: list[tuple[int, int, int]], keys: list[str], gap: timedelta
) -> None:
    frame = _events(drawn)
    expected = _reference_sessions(frame, keys, gap).to_dict("records")
    assert _comparable(session_records(frame, keys, gap)) == _comparable(expected)


def _reference_history(history: pd.DataFrame, window: timedelta) -> IdentityHistory:
    """The pandas identity history used before the vectorised one."""

    def per_identity_max(changes: pd.DataFrame) -> dict[str, int]:
        times = event_micros(changes)
        return {
            str(identity): int(rolling_counts(np.sort(times[rows]), window).max())
            for identity, rows in changes.groupby("identity_key", sort=False).indices.items()
        }

    def sets(frame: pd.DataFrame, column: str) -> dict[str, frozenset[str]]:
        pairs = frame[["identity_key", column]].dropna().drop_duplicates()
        return {
            str(identity): frozenset(str(value) for value in group)
            for identity, group in pairs.groupby("identity_key", sort=False)[column]
        }

    times = pd.to_datetime(history["event_time"], utc=True)
    last = times.groupby(history["identity_key"], sort=False).max()
    own = history[~history["by_service"].astype(bool)]
    changes = attempted_changes(history)
    buckets = event_micros(changes) // (window // timedelta(microseconds=1))
    per_bucket = pd.Series(buckets).groupby([changes["identity_key"].to_numpy(), buckets]).size()
    readers = history.loc[
        (history["event_source"] == "ebs.amazonaws.com")
        & history["event_name"].isin(EBS_DIRECT_READS),
        "identity_key",
    ]
    return IdentityHistory(
        start=to_datetime(times.min()),
        end=to_datetime(times.max()),
        window=window,
        last_seen={str(k): to_datetime(v) for k, v in last.items()},
        clients=sets(own, "client_family"),
        networks=sets(own, "network"),
        usual_changes={
            str(identity): float(counts.median())
            for identity, counts in per_bucket.groupby(level=0, sort=False)
        },
        max_changes=per_identity_max(changes),
        max_deletions=per_identity_max(changes[changes["action"] == "delete"]),
        ebs_direct_readers=frozenset(str(k) for k in readers.unique()),
        peers={str(k): groups for k in last.index if (groups := features.peer_groups(str(k)))},
    )


@fast
@given(drawn=calls, window=st.sampled_from([timedelta(minutes=10), timedelta(hours=1)]))
def test_identity_history_matches_the_pandas_reference(
    drawn: list[tuple[int, int, int]], window: timedelta
) -> None:
    history = _events(drawn)
    assert IdentityHistory.from_events(history, window=window) == _reference_history(
        history, window
    )


def test_evaluate_skips_a_rule_its_gate_rules_out() -> None:
    def explode(events: pd.DataFrame, context: RuleContext) -> list[Any]:
        raise AssertionError("a gated-out rule was run")

    never = dataclasses.replace(RULES[0], function=explode, applies=lambda summary, ctx: False)
    always = dataclasses.replace(never, applies=None)
    events = _events([(0, 0, 0)])
    assert evaluate(events, RuleContext(), rules=[never]).failed == []
    assert [rule for rule, _ in evaluate(events, RuleContext(), rules=[always]).failed] == [
        always.id
    ]
