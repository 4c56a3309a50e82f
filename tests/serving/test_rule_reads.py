"""Row classes: each is the pandas predicate it stands for, so flags can replace a frame.

The service stores each event's classes (``row_flags``) and reads recent events by
them. The *exact* classes must select the very rows ``attempted_mask`` and
``BatchSummary.of`` select, and every *read* class must hold every row the rules
reading it select; checked on real recordings, on a simulated organisation and on
random batches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given

import features
from features import CANONICAL_SCHEMA
from models.scoring import RULES
from models.scoring._rules._base import attempted_mask
from models.scoring._rules._reads import (
    ATTEMPTED,
    CHANGE,
    DELETION,
    EBS,
    EBS_DIRECT_READS,
    EVERY,
    OWN,
    SHARE,
    STEP,
    Reads,
    row_flags,
)
from models.scoring._rules._summary import BatchSummary
from tests.serving.conftest import STRATUS, Stream
from tests.serving.test_rules_fast_paths import _events, calls, fast

DATA = STRATUS.parent
RECORDINGS = [
    *sorted(STRATUS.glob("*.json")),
    DATA / "otrf" / "ec2_proxy_s3_exfiltration_2020-09-14011940.json",
    *sorted((DATA / "permiso" / "sessions").glob("*/InputEvents.json")),
]


def _recording(path: Path) -> list[dict[str, Any]]:
    return features.read_records(path.read_bytes(), str(path))


def _table(records: list[dict[str, Any]]) -> Any:
    return features.records_to_table(records).table


def _flags(frame: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.int64]]:
    rows = pa.Table.from_pandas(frame, schema=CANONICAL_SCHEMA, preserve_index=False).to_pylist()
    return np.array([row_flags(row) for row in rows], dtype=np.int64)


def _has(flags: np.ndarray[Any, np.dtype[np.int64]], bit: int) -> np.ndarray[Any, Any]:
    return (flags & bit) != 0


def check_classes(frame: pd.DataFrame) -> None:
    """Every class against the predicate it stands for, on one canonical frame."""
    flags = _flags(frame)
    attempted = attempted_mask(frame)
    own = ~np.asarray(frame["by_service"].astype(bool), dtype=bool)
    action = frame["action"].to_numpy(dtype=object)
    assert (_has(flags, EVERY)).all()
    for one in features.RULE_INPUTS:  # each row's bits (test) are the frame's masks
        assert (_has(flags, one.bit) == one.mask(frame)).all(), one.name
    assert (_has(flags, ATTEMPTED) == attempted).all()
    assert (_has(flags, DELETION) == (attempted & (action == "delete"))).all()
    assert (_has(flags, OWN) == own).all()
    # read classes hold every row their rules select
    assert not (attempted & ~_has(flags, CHANGE)).any()
    shares = (frame["action"] == "share").to_numpy(dtype=bool)
    assert not (shares & ~_has(flags, SHARE)).any()
    reads = (frame["event_source"] == "ebs.amazonaws.com") & frame["event_name"].isin(
        EBS_DIRECT_READS
    )
    assert not (reads.to_numpy(dtype=bool) & ~_has(flags, EBS)).any()
    steps = features.declared_mask(frame, features.CHAIN_STEP_DONE)
    assert not (steps & ~_has(flags, STEP)).any()
    # and the summary counted from flags is the summary counted from the frame
    times = frame["event_time"].astype("int64").tolist()
    rows = zip(frame["identity_key"].astype(str), times, flags.tolist(), strict=True)
    assert BatchSummary.from_rows(rows) == BatchSummary.of(frame)


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: f"{p.parent.name[:12]}/{p.stem}")
def test_classes_of_real_recordings(path: Path) -> None:
    frame = _table(_recording(path)).to_pandas()
    check_classes(frame)


def test_classes_of_a_simulated_organisation(sim_stream: Stream) -> None:
    frame = _table(sim_stream.records).to_pandas()
    assert BatchSummary.of(frame).changes > 100  # the stream has plenty to classify
    check_classes(frame)


@fast
@given(drawn=calls)
def test_classes_of_random_batches(drawn: list[tuple[int, int, int]]) -> None:
    check_classes(_events(drawn))


def test_every_rule_says_what_it_reads() -> None:
    """A rule without a declaration would make the service read every stored event."""
    for one in RULES:
        assert one.reads != Reads(), one.id


# What each class held, on the real recordings and the simulated days, when the schema
# version was set (new simulator scenarios move the counts too: update them under the same
# version). Stored rows keep the classes they were given at insert: a change to a rule input
# (features/_predicates.py) or to what the taxonomy makes of an event that moves any count
# must bump SCHEMA_VERSION (and migrate the stored flags), then add the new counts here under
# the new version, by rule input name.
CLASS_COUNTS_BY_SCHEMA: dict[int, dict[str, int]] = {
    1: {
        "every": 23960,
        "change": 1420,
        "share": 4,
        "ebs_call": 75,
        "chain_step": 573,
        "own_call": 21541,
        "attempted_change": 378,
        "deletion": 108,
        "share_grant": 4,
        "ebs_direct_read": 75,
        "attach": 7,
    },
    # 2 re-keyed identities (ADR 0020) and 3 stored each call's autonomous system: classes
    # did not move. 4: the compute rule inputs (ADR 0035), on the real-shaped organisation
    # (ADR 0031) with the Stratus scenarios.
    4: {
        "every": 34011,
        "change": 2866,
        "share": 12,
        "ebs_call": 75,
        "chain_step": 1129,
        "own_call": 29700,
        "attempted_change": 1289,
        "deletion": 250,
        "share_grant": 12,
        "ebs_direct_read": 75,
        "attach": 126,
        "user_data_change": 46,
        "user_data_read": 193,
        "password_read": 45,
        "unusual_launch": 7,
        "admin_ingress": 5,
        "ssh_key_push": 14,
        "serial_console": 4,
        "instance_call": 1720,
        "person_call": 10202,
        "export_task": 0,
        "key_pair": 6,
        "access_removed": 0,
    },
    # 5: chain steps, attachments and user-data changes declared on the canonical taxonomy
    # for every cloud (ADR 0048): an instance made or changed may attach the disks it names.
    5: {
        "every": 34011,
        "change": 2866,
        "share": 12,
        "ebs_call": 75,
        "chain_step": 1322,
        "own_call": 29700,
        "attempted_change": 1289,
        "deletion": 250,
        "share_grant": 12,
        "ebs_direct_read": 75,
        "attach": 1004,
        "user_data_change": 46,
        "user_data_read": 193,
        "password_read": 45,
        "unusual_launch": 7,
        "admin_ingress": 5,
        "ssh_key_push": 14,
        "serial_console": 4,
        "instance_call": 1720,
        "person_call": 10202,
        "export_task": 0,
        "key_pair": 6,
        "access_removed": 0,
    },
}

# 6: Google instances.get is a user-data read and an Azure serial console connection a key
# push (ADR 0056); the recordings and the simulated stream here are AWS, whose classes did not
# move (the user-data read is now declared on the taxonomy: an instance read of boot code).
CLASS_COUNTS_BY_SCHEMA[6] = CLASS_COUNTS_BY_SCHEMA[5]


def test_stored_classes_change_only_with_the_schema_version(sim_stream: Stream) -> None:
    from serving._stored_events import SCHEMA_VERSION

    frames = [_table(_recording(path)).to_pandas() for path in RECORDINGS]
    frames.append(_table(sim_stream.records).to_pandas())
    flags = _flags(pd.concat(frames, ignore_index=True))
    counts = {one.name: int(_has(flags, one.bit).sum()) for one in features.RULE_INPUTS}
    assert counts == CLASS_COUNTS_BY_SCHEMA[SCHEMA_VERSION]
