"""Property: whatever JSON arrives, the normaliser answers a row or our own rejection."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changewatch.errors import RecordRejected
from features import CANONICAL_COLUMNS, records_to_table
from features._normalize import normalize

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)

FIELDS = [
    "eventTime",
    "eventName",
    "eventSource",
    "eventID",
    "awsRegion",
    "readOnly",
    "userIdentity",
    "sourceIPAddress",
    "userAgent",
    "requestParameters",
    "responseElements",
    "recipientAccountId",
    "errorCode",
    "detail-type",
    "detail",
    "additionalEventData",
    "@timestamp",
    "@version",
]

# Records whose known fields hold arbitrary JSON: the shapes a broken producer makes.
cloudtrail_like = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS))
plausible_times = st.datetimes(timezones=st.just(__import__("datetime").UTC)).map(
    lambda moment: moment.isoformat().replace("+00:00", "Z")
)


def check(raw: Any) -> None:
    try:
        row = normalize(raw)
    except RecordRejected as rejection:
        problem = rejection
    else:
        assert len(row) == len(CANONICAL_COLUMNS)
        return
    assert problem.field
    assert problem.reason


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_gives_a_row_or_a_rejection(raw: Any) -> None:
    check(raw)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(cloudtrail_like)
def test_cloudtrail_shaped_garbage_gives_a_row_or_a_rejection(raw: dict[str, Any]) -> None:
    check(raw)


@settings(max_examples=200)
@given(cloudtrail_like, st.text(min_size=1, max_size=40), plausible_times)
def test_records_with_a_name_and_time_become_rows_unless_a_field_is_mistyped(
    raw: dict[str, Any], name: str, when: str
) -> None:
    raw = {**raw, "eventName": name, "eventTime": when}
    raw.pop("detail-type", None)
    check(raw)


@settings(max_examples=100)
@given(st.lists(cloudtrail_like, max_size=8))
def test_a_batch_keeps_every_record_accounted_for(batch: list[dict[str, Any]]) -> None:
    result = records_to_table(batch)
    assert result.table.num_rows + len(result.rejections) + result.duplicates == len(batch)
