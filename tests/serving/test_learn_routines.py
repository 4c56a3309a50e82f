"""Routines learned column by column: what one frame per identity (groupby) gave, exactly.

``learn_routines`` runs on every service request whose rules weigh routines, over the
past changes of the request's identities; it reads columns as lists and splits them per
identity with one sort. The reference below is the groupby it replaced: both must learn
equal routines, identities in the same order, from real recordings and odd values.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

import features
from features import ATTEMPTED_CHANGE
from models.scoring._rules._routine import Routine, _asns, _set, learn_routines
from tests.serving.test_rule_reads import RECORDINGS, _recording


def _grouped(changes: pd.DataFrame, outside: np.ndarray) -> dict[str, Routine]:
    """The old learner: a frame per identity."""
    mask = ATTEMPTED_CHANGE.mask(changes)
    if not mask.any():
        return {}
    columns = ["identity_key", "event_time", "event_name", "resource_type"]
    frame = changes.loc[mask, [*columns, "client_family", "network", "asn"]].copy()
    frame["outside"] = np.asarray(outside, dtype=bool)[mask]
    times = pd.to_datetime(frame["event_time"], utc=True)
    micros = times.dt.tz_localize(None).to_numpy(dtype="datetime64[us]").view(np.int64)
    frame["hour"] = (micros // 3_600_000_000) % 24
    frame["day"] = micros // 86_400_000_000
    frame["signature"] = frame["event_name"].astype(str)
    routines: dict[str, Routine] = {}
    for identity, group in frame.groupby("identity_key", sort=False):
        out = group[group["outside"]]
        routines[str(identity)] = Routine(
            changes=len(group),
            outside=len(out),
            days=frozenset(int(d) for d in out["day"].unique()),
            signatures=dict(Counter(out["signature"])),
            kinds=dict(Counter(str(k) for k in out["resource_type"] if isinstance(k, str))),
            hours=frozenset(int(h) for h in group["hour"].unique()),
            clients=_set(group["client_family"]),
            networks=_set(group["network"]),
            asns=_asns(group["asn"]),
            since=pd.Timestamp(times[group.index].min()).to_pydatetime(),
        )
    return routines


@pytest.fixture(scope="module")
def changes() -> pd.DataFrame:
    """Every recording's events, in time order, with some identities missing or repeated."""
    records = [r for path in RECORDINGS for r in _recording(path)]
    frame = features.records_to_table(records).table.to_pandas()
    frame = frame.sort_values(["event_time", "event_id"], kind="stable").reset_index(drop=True)
    keys = frame["identity_key"].to_numpy(dtype=object)
    keys[::7] = None  # no identity: in no routine
    keys[3::11] = "arn:aws:iam::111122223333:role/shared"  # one identity across recordings
    frame["identity_key"] = keys
    frame.loc[frame.index[::5], ["network", "client_family", "resource_type"]] = None
    return frame


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learned_routines_equal_the_groupby_ones_in_order(changes: pd.DataFrame, seed: int) -> None:
    outside = np.random.default_rng(seed).random(len(changes)) < 0.6
    assert ATTEMPTED_CHANGE.mask(changes).sum() > 20  # the recordings hold changes to learn
    learned, expected = learn_routines(changes, outside), _grouped(changes, outside)
    assert list(learned) == list(expected)
    for identity, routine in expected.items():
        assert learned[identity] == routine, identity
        assert list(learned[identity].signatures) == list(routine.signatures)


def test_nothing_is_learned_without_changes(changes: pd.DataFrame) -> None:
    reads = changes[~ATTEMPTED_CHANGE.mask(changes)]
    assert learn_routines(reads, np.ones(len(reads), dtype=bool)) == {}
    assert learn_routines(changes.iloc[:0], np.zeros(0, dtype=bool)) == {}
