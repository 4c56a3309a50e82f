"""Scratch folders that survive nothing: locked while in use, removed by the next run if left.

An ingestion writes everything unfinished (parts, the output before it is complete,
the rejects report) into a hidden scratch folder beside where it finally goes, and
moves each finished file into place with one atomic rename. A run killed half way
(``kill -9``, a power cut) therefore leaves the previous output and rejects report
whole, and at most a scratch folder behind.

Each scratch folder holds a ``lock`` file on which its run keeps an exclusive
``flock``; the kernel releases it when the process dies, however it dies. The next
run in the same folder removes every scratch folder whose lock it can take, and so
never touches one a live run still holds. (``flock`` is local to one machine: on a
folder shared over NFS, two machines must not ingest into the same place.)
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Final

__all__ = ["PREFIX", "Scratch", "remove_stale"]

logger = logging.getLogger(__name__)

PREFIX: Final = ".changewatch-ingest-"
_LOCK: Final = "lock"
_UNLOCKED_GRACE: Final = 600.0
"""A scratch folder without a lock file (an older version's) is stale after this many seconds."""


class Scratch:
    """A locked scratch folder in ``folder``; remove it with :meth:`close`.

    Parameters
    ----------
    folder : str
        Where the scratch folder is made: the folder of the file it will become, so
        that moving the file into place is one rename on one file system.
    """

    def __init__(self, folder: str) -> None:
        self.path = tempfile.mkdtemp(prefix=PREFIX, dir=folder)
        # Locked before it gets its name, so no other run ever sees it unlocked.
        making = os.path.join(self.path, f"{_LOCK}.new")
        self._lock = os.open(making, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(making, os.path.join(self.path, _LOCK))

    def file(self, name: str) -> str:
        """Return the path of ``name`` inside the scratch folder."""
        return os.path.join(self.path, name)

    def close(self) -> None:
        """Remove the folder and everything left in it, then let go of the lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock)


def _held(folder: Path) -> bool:
    """Tell whether a live run holds the scratch folder (takes and drops its lock if not)."""
    try:
        handle = os.open(folder / _LOCK, os.O_RDWR)
    except FileNotFoundError:
        try:
            age = time.time() - folder.stat().st_mtime
        except FileNotFoundError:
            return True  # gone already
        return age < _UNLOCKED_GRACE  # just made by a run about to lock it, or an old one
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(handle)  # closing drops the lock again
    return False


def remove_stale(folder: str) -> list[str]:
    """Remove the scratch folders in ``folder`` that no live run holds.

    Returns
    -------
    list of str
        The folders removed (logged at INFO as well).
    """
    removed: list[str] = []
    with contextlib.suppress(OSError):
        for candidate in Path(folder).glob(f"{PREFIX}*"):
            if candidate.is_dir() and not candidate.is_symlink() and not _held(candidate):
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(str(candidate))
                logger.info("removed %s, left by an ingestion that did not finish", candidate)
    return removed
