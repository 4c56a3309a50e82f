"""Every real recording in tests/data is read, and reads the way its publisher describes it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features import IngestOptions, ingest, read_events


@pytest.fixture(scope="module")
def real_events(
    data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[object, pd.DataFrame]:
    sources = [
        data_dir / "stratus",
        data_dir / "otrf" / "ec2_proxy_s3_exfiltration_2020-09-14011940.json",
        *sorted((data_dir / "permiso" / "sessions").glob("*/InputEvents.json")),
    ]
    out = tmp_path_factory.mktemp("real") / "events.parquet"
    report = ingest(sources, out, options=IngestOptions(jobs=2))
    return report, read_events(out)


def test_every_real_record_is_read_without_rejection(
    real_events: tuple[object, pd.DataFrame],
) -> None:
    report, events = real_events
    assert report.rejected == 0  # type: ignore[attr-defined]
    assert report.files_failed == 0  # type: ignore[attr-defined]
    assert report.records == 310 + 103 + 8226  # type: ignore[attr-defined]
    assert report.records == report.kept + report.duplicates  # type: ignore[attr-defined]
    assert len(events) == report.kept  # type: ignore[attr-defined]


def test_stratus_snapshot_share_is_a_share_to_the_foreign_account(
    real_events: tuple[object, pd.DataFrame],
) -> None:
    _, events = real_events
    share = events[events["event_name"] == "ModifySnapshotAttribute"].iloc[0]
    assert (share["resource_type"], share["action"]) == ("snapshot", "share")
    assert list(share["share_targets"]) == ["098797384747"]
    assert share["attribute"] == "createVolumePermission"


def test_stratus_ami_share_and_user_data_change(real_events: tuple[object, pd.DataFrame]) -> None:
    _, events = real_events
    ami = events[events["event_name"] == "ModifyImageAttribute"].iloc[0]
    assert ami["action"] == "share"
    user_data = events[events["event_name"] == "ModifyInstanceAttribute"].iloc[0]
    assert user_data["attribute"] == "userData"


def test_otrf_attacker_uses_the_instance_role_from_outside_with_the_cli(
    real_events: tuple[object, pd.DataFrame],
) -> None:
    _, events = real_events
    stolen = events[
        events["identity_key"].str.contains("role/MordorNginxStack-BankingWAFRole-", regex=False)
    ]
    assert len(stolen) > 0
    assert set(stolen["client_family"]) == {"aws-cli"}
    assert stolen["session_name"].str.startswith("i-").all()
    console = events[events["identity_key"] == "arn:aws:iam::123456789123:user/pedro"]
    assert console["client_family"].value_counts().index[0] == "console"
    assert (console["mfa"] == True).all()  # noqa: E712 - a nullable column


def test_permiso_console_sessions_have_the_unknown_identity(
    real_events: tuple[object, pd.DataFrame],
) -> None:
    _, events = real_events
    permiso = events[events["identity_type"] == "Unknown"]
    assert (permiso["identity_key"] == "unknown:-").all()
    assert {"RunInstances", "TerminateInstances"} <= set(permiso["event_name"])
