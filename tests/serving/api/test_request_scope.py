"""An answer keeps what concerns the request's events, even past a capped evidence list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from serving.api.scoring import concerns_request

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
ALICE = "arn:aws:iam::111122223333:user/alice"


@pytest.mark.parametrize(
    ("event_ids", "identity", "moment", "expected"),
    [
        (("e1",), ALICE, T0 + timedelta(hours=5), True),  # names the request's event
        (("old",), ALICE, T0 + timedelta(minutes=30), True),  # same identity, inside the span
        (("old",), ALICE, T0 + timedelta(hours=2), False),  # same identity, after the span
        (("old",), "arn:aws:iam::111122223333:user/bob", T0 + timedelta(minutes=30), False),
    ],
    ids=["named", "covered-by-span", "outside-span", "other-identity"],
)
def test_a_hit_concerns_the_request_when_it_names_or_covers_its_event(
    event_ids: tuple[str, ...], identity: str, moment: datetime, expected: bool
) -> None:
    times = {identity: [moment]}
    start, end = T0, T0 + timedelta(hours=1)
    assert concerns_request(event_ids, ALICE, start, end, {"e1"}, times) is expected
