"""Data the tests share, built once per run and kept on disk (simulations, ingested tables, models).

A simulated organisation takes seconds to make and a detector seconds to train; several test
modules need the same ones, and ``pytest -n 2`` would otherwise build each once per worker.
:func:`shared_folder` builds a folder once, under a file lock, into pytest's cache directory
(``.pytest_cache/d/changewatch-data``), keyed by what it was built from: the parameters and
a digest of the source of the packages that make it (the simulator's version in effect, so an
edited simulator never serves an old trail) and of the library versions that read it.
Another worker, or a later run with the same sources, reuses it.

Shared folders are for reading: a test that writes (a state database, a tracking store)
copies what it needs into its own ``tmp_path`` first.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[1]
_COMPLETE: Final = ".complete"
_LIBRARIES: Final = ("numpy", "pandas", "pyarrow", "scikit-learn")


def source_digest(packages: Iterable[str]) -> str:
    """Digest of every ``.py`` file of the named top-level packages (paths and bytes)."""
    digest = hashlib.sha256()
    for package in sorted(packages):
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _root(config: pytest.Config) -> Path:
    cache = getattr(config, "cache", None)  # None under `-p no:cacheprovider`
    if cache is not None:
        return Path(cache.mkdir("changewatch-data"))
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / "changewatch-test-data"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shared_folder(
    config: pytest.Config,
    name: str,
    key: Mapping[str, Any],
    build: Callable[[Path], None],
    *,
    packages: Iterable[str] = ("features", "training"),
) -> Path:
    """Return a folder ``build`` filled, building it only when no worker or run has.

    Parameters
    ----------
    config : pytest.Config
        The run's configuration (its cache directory holds the folders).
    name : str
        Readable prefix of the folder.
    key : mapping
        What the content depends on besides the source (parameters, seeds); JSON-able.
    build : callable
        Fills the empty folder it is given (its final place); an exception leaves
        nothing behind.
    packages : iterable of str
        Top-level packages whose source the content depends on.
    """
    identity = {
        "key": key,
        "source": source_digest(packages),
        "python": platform.python_version(),
        "libraries": {library: version(library) for library in _LIBRARIES},
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    folder = _root(config) / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    if (folder / _COMPLETE).exists():
        return folder
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other workers wait here, then reuse
        if (folder / _COMPLETE).exists():
            return folder
        # built in place (stores such as MLflow's keep absolute paths); complete only
        # once the marker is written, so a build that died is started afresh
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        try:
            build(folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        (folder / _COMPLETE).write_text(text)
    return folder
