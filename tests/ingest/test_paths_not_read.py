"""Every path not read is named with its reason: in the summary and in the rejects report."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from changewatch.errors import SourceError
from features import IngestOptions, find_sources, ingest
from features._report import LISTED_NOT_READ


def trail(folder: Path, make: Any, name: str = "a.json.gz", event_id: str = "e1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(gzip.compress(json.dumps({"Records": [make(eventID=event_id)]}).encode()))
    return path


def rejects_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def not_read(tmp_path: Path, *paths: Path, **options: Any) -> dict[str, str]:
    report = ingest(paths, tmp_path / "out.parquet", options=IngestOptions(**options))
    named = {entry.path: entry.reason for entry in report.not_read}
    reported = {
        r["source"]: r["reason"] for r in rejects_of(tmp_path / "out.parquet.rejects.jsonl")
    }
    assert reported == named, "the summary and the rejects report name the same paths"
    return named


def test_a_symbolic_link_loop_named_is_reported_as_a_loop(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(SourceError, match="symbolic link loop"):
        ingest([loop], tmp_path / "out.parquet")


def test_a_broken_link_named_says_where_it_points(tmp_path: Path) -> None:
    link = tmp_path / "trail.json"
    link.symlink_to(tmp_path / "gone.json")
    with pytest.raises(SourceError, match="broken symbolic link"):
        ingest([link], tmp_path / "out.parquet")


def test_links_in_a_tree_that_loop_or_break_are_named_and_the_rest_read(
    make: Any, tmp_path: Path
) -> None:
    root = tmp_path / "AWSLogs"
    trail(root / "a", make)
    (root / "a" / "up").symlink_to(root)  # back to an ancestor
    (root / "self").symlink_to(root / "self")  # a link to itself
    (root / "gone.json").symlink_to(root / "nowhere.json")
    named = not_read(tmp_path, root)
    assert named == {
        str(root / "a" / "up"): f"symbolic link loop: leads back to {root}",
        str(root / "self"): "symbolic link loop: too many levels of symbolic links",
        str(root / "gone.json"): f"broken symbolic link (to {root / 'nowhere.json'})",
    }


def test_a_linked_folder_is_read_once(make: Any, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    trail(elsewhere, make)
    root = tmp_path / "AWSLogs"
    root.mkdir()
    (root / "a").symlink_to(elsewhere)
    (root / "b").symlink_to(elsewhere)
    report = ingest([root], tmp_path / "out.parquet")
    assert (report.files, report.kept) == (1, 1)
    assert [(e.path, e.reason, e.failed) for e in report.not_read] == [
        (str(root / "b"), f"same folder as {root / 'a'}, read there", False)
    ]


def test_digest_folders_and_files_without_cloudtrail_are_named_as_skipped(
    make: Any, tmp_path: Path
) -> None:
    root = tmp_path / "AWSLogs"
    trail(root / "CloudTrail" / "eu-west-1", make)
    (root / "CloudTrail-Digest").mkdir()
    (root / "manifest.json").write_text('{"seed": 7}')
    report = ingest([root], tmp_path / "out.parquet")
    assert (report.kept, report.files_skipped, report.paths_unreadable) == (1, 1, 0)
    kinds = {r["source"]: r["kind"] for r in rejects_of(tmp_path / "out.parquet.rejects.jsonl")}
    assert kinds == {
        str(root / "CloudTrail-Digest"): "skipped",
        str(root / "manifest.json"): "skipped",
    }
    assert {e.path: e.failed for e in report.not_read} == dict.fromkeys(kinds, False)


def test_strict_stops_at_a_folder_it_cannot_read(make: Any, tmp_path: Path) -> None:
    root = tmp_path / "AWSLogs"
    trail(root, make)
    (root / "loop").symlink_to(root)
    with pytest.raises(SourceError, match="symbolic link loop"):
        ingest([root], tmp_path / "out.parquet", options=IngestOptions(strict=True))


def test_the_summary_lists_the_first_paths_and_counts_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "AWSLogs"
    root.mkdir()
    for index in range(LISTED_NOT_READ + 5):
        (root / f"empty-{index:03d}.json").write_bytes(b"")
    report = ingest([root], tmp_path / "out.parquet", options=IngestOptions(jobs=2))
    assert report.files_failed == LISTED_NOT_READ + 5
    assert len(report.not_read) == LISTED_NOT_READ
    assert report.not_read_unlisted == 5
    assert report.to_json()["not_read"][0] == {
        "path": str(root / "empty-000.json"),
        "reason": "empty: holds no data",
    }
    assert len(rejects_of(tmp_path / "out.parquet.rejects.jsonl")) == LISTED_NOT_READ + 5


def test_find_sources_lists_files_in_order_and_names_what_it_passes_over(
    make: Any, tmp_path: Path
) -> None:
    root = tmp_path / "AWSLogs"
    second = trail(root / "b", make)
    first = trail(root / "a", make)
    (root / "a" / "notes.txt").write_text("not data")
    (root / ".hidden").mkdir()
    trail(root / ".hidden", make)
    found = find_sources([root, "-"])
    assert found.files == [str(first), str(second), "-"]
    assert found.not_read == []


# An unreadable folder needs a process that cannot read everything: root drops the
# capabilities that let it (as `setpriv` does), anyone else just is not the owner.
_DROP_READ = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]


def _as_reader(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: every folder is readable")
    return [*_DROP_READ, *command]


@pytest.fixture
def unreadable(tmp_path: Path, make: Any) -> Any:
    folder = tmp_path / "tree" / "noread"
    trail(folder, make)
    folder.chmod(0)
    yield folder
    folder.chmod(0o755)


@pytest.mark.parametrize("with_data", [False, True], ids=["nothing else", "beside a trail"])
def test_an_unreadable_folder_is_named_and_nothing_read_exits_1(
    make: Any, tmp_path: Path, unreadable: Path, with_data: bool
) -> None:
    tree = unreadable.parent
    if with_data:
        trail(tree / "readable", make, event_id="e2")
    out = tmp_path / "out.parquet"
    command = [sys.executable, "-m", "changewatch", "ingest", str(tree), "--out", str(out)]
    done = subprocess.run(_as_reader(command), capture_output=True, text=True, check=False)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    entry = {"path": str(unreadable), "reason": "folder not read: permission denied"}
    assert summary["not_read"] == [entry]
    assert summary["paths_unreadable"] == 1
    assert f"{unreadable}: folder not read: permission denied" in done.stderr
    [rejection] = rejects_of(Path(f"{out}.rejects.jsonl"))
    assert (rejection["kind"], rejection["source"]) == ("path", str(unreadable))
    assert done.returncode == (0 if with_data else 1)
    assert summary["kept"] == (1 if with_data else 0)
