"""The model's evidence events of a request: the frames of its identities, read by position."""

from __future__ import annotations

import pandas as pd
import pytest

from serving._model_states import _pooled


def frame(ids: list[str], index: list[int] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"event_id": ids, "region": ["us-east-1"] * len(ids)}, index=index)


def test_a_lone_frame_with_a_plain_index_is_the_evidence_as_it_is() -> None:
    lone = frame(["e1", "e2"])
    assert _pooled([lone]) is lone


@pytest.mark.parametrize(
    "frames",
    [
        [frame(["e1", "e2"], index=[3, 7])],  # a batch filtered to one identity
        [frame(["e1"]), frame(["e2", "e3"])],  # several identities
    ],
    ids=["filtered", "several"],
)
def test_other_frames_are_concatenated_with_a_fresh_index(frames: list[pd.DataFrame]) -> None:
    pooled = _pooled(frames)
    pd.testing.assert_frame_equal(pooled, pd.concat(frames, ignore_index=True))


def test_no_frames_are_no_evidence() -> None:
    assert _pooled([]) is None
