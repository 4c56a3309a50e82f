"""Finding the data files under the paths a user names, and naming every path not read.

Directories are walked in sorted order for files whose names end in ``.json``,
``.json.gz``, ``.jsonl``, ``.ndjson``, ``.gz`` or ``.parquet`` (S3 delivery trees, Azure and
Google Cloud export folders, Security Lake included); files
named directly are read whatever their name. Hidden names (``.x``) are left out.
Symbolic links to folders are followed, each real folder read once, so a link back
up the tree is reported as a loop instead of walked forever.

Nothing is passed over in silence: a folder that cannot be listed, a link that leads
nowhere or in a circle, a ``CloudTrail-Digest`` folder, is a :class:`NotRead` with its
reason, for the summary and the rejects report.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from features._exceptions import SourceError

__all__ = ["STDIN", "Found", "NotRead", "find_sources", "reason_of"]

logger = logging.getLogger(__name__)

STDIN: Final = "-"
DATA_SUFFIXES: Final = (
    ".json",
    ".json.gz",
    ".jsonl",
    ".ndjson",
    ".gz",
    ".jsonl.gz",
    ".ndjson.gz",
    ".parquet",
)
_DIGEST_FOLDER: Final = "CloudTrail-Digest"
_REASONS: Final = {
    errno.ENOENT: "no such file or directory",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ELOOP: "symbolic link loop: too many levels of symbolic links",
    errno.ENOTDIR: "not a directory",
    errno.ENAMETOOLONG: "file name too long",
}


@dataclass(frozen=True, slots=True)
class NotRead:
    """A path that was not read, and why.

    ``failed`` tells a path that should have been read but could not (an unreadable
    folder, a broken link, a corrupt file) from one left out on purpose (a digest).
    """

    path: str
    reason: str
    failed: bool = True

    def to_json(self) -> dict[str, str]:
        """Return the summary entry of this path."""
        return {"path": self.path, "reason": self.reason}


@dataclass(slots=True)
class Found:
    """The data files under some paths, and the paths passed over on the way."""

    files: list[str] = field(default_factory=list)
    not_read: list[NotRead] = field(default_factory=list)


def reason_of(error: OSError) -> str:
    """Return a short reason for an operating-system error on a path."""
    if error.errno in _REASONS:
        return _REASONS[error.errno]
    return error.strerror or str(error)


def _named(path: str) -> os.stat_result:
    """Return the status of a path named by the user, or raise why it cannot be read."""
    try:
        return os.stat(path)
    except OSError as error:
        reason = reason_of(error)
        if error.errno == errno.ENOENT and os.path.islink(path):
            reason = f"broken symbolic link (to {os.readlink(path)})"
        raise SourceError(path, reason) from None


def find_sources(paths: Iterable[str | Path]) -> Found:
    """Expand directories into the data files under them, in a stable order.

    Parameters
    ----------
    paths : iterable of str or Path
        Files, directories, or ``"-"`` for standard input.

    Returns
    -------
    Found
        Files named directly come first in the given order; each directory adds its
        files sorted by path. Folders, links and digest folders not read are named.

    Raises
    ------
    SourceError
        When a path named directly does not exist or cannot be reached (a loop, a
        broken link, no permission on a folder above it).
    """
    found = Found()
    for path in paths:
        text = str(path)
        if text == STDIN:
            found.files.append(STDIN)
            continue
        status = _named(text)
        if stat.S_ISDIR(status.st_mode):
            inside: list[str] = []
            _walk(text, status, inside, found.not_read)
            found.files.extend(sorted(inside))
        else:
            found.files.append(text)
    return found


def _walk(top: str, status: os.stat_result, files: list[str], not_read: list[NotRead]) -> None:
    """Add the data files under ``top`` to ``files``; name what cannot be read."""
    seen: dict[tuple[int, int], str] = {(status.st_dev, status.st_ino): top}
    # (folder, its real-folder keys from the top down): a link to one of those is a loop.
    pending: list[tuple[str, tuple[tuple[int, int], ...]]] = [
        (top, ((status.st_dev, status.st_ino),))
    ]
    while pending:
        folder, ancestors = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            not_read.append(NotRead(folder, f"folder not read: {reason_of(error)}"))
            continue
        below: list[tuple[str, tuple[tuple[int, int], ...]]] = []
        for entry in listed:
            if not entry.name.startswith("."):
                _visit(entry, ancestors, seen, below, files, not_read)
        pending.extend(reversed(below))  # depth first, in sorted order


def _visit(
    entry: os.DirEntry[str],
    ancestors: tuple[tuple[int, int], ...],
    seen: dict[tuple[int, int], str],
    below: list[tuple[str, tuple[tuple[int, int], ...]]],
    files: list[str],
    not_read: list[NotRead],
) -> None:
    path = entry.path
    try:
        if not entry.is_symlink() and not entry.is_dir(follow_symlinks=False):
            if entry.name.endswith(DATA_SUFFIXES):
                files.append(path)  # the usual case, known from the listing alone
            return
        status = entry.stat()  # a folder, or where a link leads
    except OSError as error:
        if error.errno == errno.ENOENT and entry.is_symlink():
            not_read.append(NotRead(path, f"broken symbolic link (to {os.readlink(path)})"))
        else:
            not_read.append(NotRead(path, reason_of(error)))
        return
    if not stat.S_ISDIR(status.st_mode):
        if entry.name.endswith(DATA_SUFFIXES):
            files.append(path)
        return
    if entry.name == _DIGEST_FOLDER:
        not_read.append(NotRead(path, "CloudTrail digest folder: digests hold no events", False))
        return
    key = (status.st_dev, status.st_ino)
    if key in ancestors:
        not_read.append(NotRead(path, f"symbolic link loop: leads back to {seen[key]}"))
    elif key in seen:
        not_read.append(NotRead(path, f"same folder as {seen[key]}, read there", False))
    else:
        seen[key] = path
        below.append((path, (*ancestors, key)))
