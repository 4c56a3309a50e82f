"""AWS's published IP ranges: reading them, judging addresses, refreshing them over HTTP."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import features._aws_ranges as aws
from changewatch.cli import cli
from features import AwsRanges, InputError, default_ranges, outside_aws


def document(created: str = "2026-08-22-21-17-05", **extra: Any) -> dict[str, Any]:
    """An ``ip-ranges.json`` in AWS's format, with two IPv4 prefixes and one IPv6."""
    return {
        "syncToken": "1787433425",
        "createDate": created,
        "prefixes": [
            {"ip_prefix": "18.236.0.0/15", "region": "us-west-2", "service": "EC2"},
            {"ip_prefix": "18.237.128.0/17", "region": "us-west-2", "service": "AMAZON"},
            {"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "S3"},
        ],
        "ipv6_prefixes": [{"ipv6_prefix": "2600:1f14::/35", "service": "EC2"}],
        **extra,
    }


def ranges(**extra: Any) -> AwsRanges:
    return AwsRanges.parse(orjson.dumps(document(**extra)), "test")


@pytest.mark.parametrize(
    ("address", "listed"),
    [
        ("18.236.253.47", True),  # the Stratus detonation's address
        ("18.237.255.255", True),  # the end of the merged /15
        ("18.238.0.0", False),
        ("3.5.143.255", True),
        ("1.2.3.4", False),
        ("2600:1f14::1", True),
        ("2001:db8::1", False),
        ("253.252.51.07", None),  # anonymised, not an address
        ("ec2.amazonaws.com", None),
        (None, None),
    ],
)
def test_which_addresses_aws_lists(address: str | None, listed: bool | None) -> None:
    assert ranges().contains(address) is listed


@pytest.mark.parametrize(
    ("address", "asn", "with_ranges", "outside"),
    [
        ("198.51.100.7", None, True, True),  # not listed, AS unknown
        ("198.51.100.7", None, False, False),  # nothing to judge by
        ("198.51.100.7", 49505, False, True),  # GeoIP: another AS
        ("198.51.100.7", 16509, True, False),  # GeoIP: Amazon's (a NAT the ranges miss)
        ("198.51.100.7", float("nan"), True, True),  # pandas' missing ASN
        ("18.236.253.47", 49505, True, False),  # listed wins
        ("10.1.2.3", None, True, False),  # a VPC endpoint
        ("100.64.1.1", None, True, False),  # shared address space
        ("fe80::1", None, True, False),
        ("AWS Internal", None, True, False),
    ],
)
def test_outside_aws(address: str, asn: Any, with_ranges: bool, outside: bool) -> None:
    assert outside_aws(address, asn, ranges() if with_ranges else None) is outside


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"createDate": "yesterday"}, "createDate"),
        ({"prefixes": {}}, "prefixes: expected a list"),
        ({"prefixes": []}, "prefixes: empty"),
        ({"prefixes": [{"ip_prefix": "18.236.0.0/33"}]}, "prefixes[0].ip_prefix"),
        ({"ipv6_prefixes": [{"ip_prefix": "::/0"}]}, "ipv6_prefixes[0].ipv6_prefix"),
    ],
)
def test_a_bad_file_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError, match=r"^bad\.json: .*" + field.replace("[", r"\[")):
        AwsRanges.parse(orjson.dumps({**document(), **change}), "bad.json")


_KEYS = st.sampled_from(["createDate", "prefixes", "ipv6_prefixes", "ip_prefix", "x"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@given(_JSON)
def test_any_json_is_read_or_refused_with_an_input_error(value: Any) -> None:
    with contextlib.suppress(InputError):
        AwsRanges.parse(orjson.dumps(value), "x")


def test_the_newest_snapshot_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packaged = tmp_path / "packaged" / "aws-ip-ranges.json"
    packaged.parent.mkdir()
    packaged.write_bytes(orjson.dumps(document("2026-08-22-21-17-05")))
    monkeypatch.setattr(aws, "PACKAGED", packaged)
    monkeypatch.setenv("CHANGEWATCH_DATA_DIR", str(tmp_path / "data"))
    found = default_ranges()
    assert found is not None
    assert found.source == str(packaged)
    aws.write_ranges(orjson.dumps(document("2026-12-01-10-00-00")), aws.refreshed_path())
    newer = default_ranges()
    assert newer is not None
    assert newer.created.month == 12


def test_a_data_folder_named_for_one_call_is_not_read_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the environment named once (a test, ``CliRunner(env=...)``) does not stay cached:
    the rules of a later call judge by the snapshot the environment names then (ADR 0052)."""
    packaged = tmp_path / "packaged" / "aws-ip-ranges.json"
    packaged.parent.mkdir()
    packaged.write_bytes(orjson.dumps(document("2026-08-22-21-17-05")))
    monkeypatch.setattr(aws, "PACKAGED", packaged)
    monkeypatch.setenv("CHANGEWATCH_DATA_DIR", str(tmp_path / "other"))
    aws.write_ranges(orjson.dumps(document("2026-12-01-10-00-00")), aws.refreshed_path())
    once = default_ranges()
    assert once is not None
    assert once.created.month == 12
    monkeypatch.setenv("CHANGEWATCH_DATA_DIR", str(tmp_path / "data"))  # the folder goes back
    after = default_ranges()
    assert after is not None
    assert after.source == str(packaged)
    packaged.write_bytes(orjson.dumps(document("2026-09-01-00-00-00", syncToken="2")))
    replaced = default_ranges()  # the same path, its file replaced
    assert replaced is not None
    assert replaced.sync_token == "2"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on loopback serving ``tmp_path``."""
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _data(*args: str, env: dict[str, str]) -> Any:
    return CliRunner().invoke(cli, ["data", *args], env=env, catch_exceptions=False)


def test_refresh_downloads_checks_and_keeps_the_ranges(tmp_path: Path, server: str) -> None:
    (tmp_path / "ip-ranges.json").write_bytes(orjson.dumps(document("2026-12-01-10-00-00")))
    env = {"CHANGEWATCH_DATA_DIR": str(tmp_path / "data")}
    done = _data("refresh", "--from", f"{server}/ip-ranges.json", env=env)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["prefixes"] == 4
    assert summary["written"] == str(tmp_path / "data" / "aws-ip-ranges.json")
    shown = json.loads(_data("show", env=env).stdout.strip().splitlines()[-1])
    assert shown["aws_ip_ranges"]["created"] == "2026-12-01T10:00:00+00:00"


def test_refresh_keeps_the_newer_snapshot(tmp_path: Path, server: str) -> None:
    env = {"CHANGEWATCH_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "new.json").write_bytes(orjson.dumps(document("2026-12-01-10-00-00")))
    (tmp_path / "old.json").write_bytes(orjson.dumps(document("2026-08-22-21-17-05")))
    assert _data("refresh", "--from", f"{server}/new.json", env=env).exit_code == 0
    refused = _data("refresh", "--from", f"{server}/old.json", env=env)
    assert refused.exit_code == 1
    assert "is older than the one kept" in refused.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.json", "cannot download"), ("broken.json", "broken.json: not JSON")],
)
def test_refresh_of_a_bad_source_changes_nothing(
    tmp_path: Path, server: str, name: str, message: str
) -> None:
    (tmp_path / "broken.json").write_text("{")
    env = {"CHANGEWATCH_DATA_DIR": str(tmp_path / "data")}
    failed = _data("refresh", "--from", f"{server}/{name}", env=env)
    assert failed.exit_code == 1
    assert message in failed.stderr
    assert not (tmp_path / "data").exists()
