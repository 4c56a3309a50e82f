"""Plain-array storage for model parts: ``.npz`` written with ``np.savez``, read without pickle.

A model part (the compiled forest, the percentile scale) is a flat mapping of names to
numeric arrays. This module writes such a mapping and reads it back defensively: no
pickle, a known set of names, one dtype and number of dimensions per name, and an
optional SHA-256 of the whole file checked before anything is parsed. Every refusal is a
:class:`~changewatch.errors.ModelBundleError` saying what was expected and what came.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from features import ModelBundleError

__all__ = ["ArraySpec", "file_sha256", "load_arrays", "save_arrays"]

#: Refuse files whose members would expand beyond this many bytes (a zip can claim anything).
MAX_UNPACKED_BYTES = 1 << 30


@dataclass(frozen=True)
class ArraySpec:
    """What one stored array must be.

    Parameters
    ----------
    dtype : numpy dtype-like
        The exact dtype (no casting on load), e.g. ``np.int64``; for strings give the
        kind only with ``np.str_``.
    ndim : int
        Number of dimensions (0 for a scalar).
    required : bool, default=True
        Whether the name must be present.
    """

    dtype: npt.DTypeLike
    ndim: int
    required: bool = True


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_arrays(path: str | os.PathLike[str], arrays: Mapping[str, npt.NDArray[np.generic]]) -> str:
    """Write ``arrays`` to ``path`` with ``np.savez`` and return the file's SHA-256.

    The file is written exactly at ``path`` (no ``.npz`` suffix is appended).
    """
    for name, array in arrays.items():
        if array.dtype.hasobject:
            raise TypeError(f"array {name!r} has dtype object; only plain arrays are stored")
    with open(path, "wb") as handle:
        np.savez(handle, **dict(arrays))  # type: ignore[arg-type]
    return file_sha256(path)


def load_arrays(
    path: str | os.PathLike[str],
    specs: Mapping[str, ArraySpec],
    *,
    sha256: str | None = None,
) -> dict[str, npt.NDArray[np.generic]]:
    """Read an ``.npz`` file written by :func:`save_arrays`, checking it against ``specs``.

    Parameters
    ----------
    path : path-like
        The file.
    specs : mapping of str to ArraySpec
        Every name the file may hold; a name not listed is refused.
    sha256 : str, optional
        Expected hex SHA-256 of the file; checked before the file is parsed.

    Returns
    -------
    dict of str to ndarray
        The arrays, each with exactly the dtype and number of dimensions its spec names.

    Raises
    ------
    ModelBundleError
        The hash differs, the file is not an ``.npz`` archive, holds an object (pickle)
        array, an unknown or missing name, or an array of the wrong dtype or dimensions.
    """
    source = str(path)
    if sha256 is not None:
        actual = file_sha256(path)
        if actual != sha256.lower():
            raise ModelBundleError(
                source, f"SHA-256 mismatch: expected {sha256.lower()}, got {actual}"
            )
    _check_archive(Path(path), source)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ModelBundleError(source, "expected an .npz archive, got a single array")
            names = set(archive.files)
            unknown = sorted(names - set(specs))
            if unknown:
                raise ModelBundleError(
                    source, f"unexpected arrays {unknown}; expected only {sorted(specs)}"
                )
            missing = sorted(n for n, spec in specs.items() if spec.required and n not in names)
            if missing:
                raise ModelBundleError(source, f"missing arrays {missing}")
            arrays = {name: archive[name] for name in sorted(names)}
    except ModelBundleError:
        raise
    except ValueError as exc:
        # allow_pickle=False refuses object arrays with a ValueError; so do malformed headers.
        raise ModelBundleError(source, f"unreadable array data ({exc})") from exc
    except (OSError, EOFError, zipfile.BadZipFile, MemoryError) as exc:
        raise ModelBundleError(source, f"not a readable .npz archive ({exc})") from exc
    for name, array in arrays.items():
        _check_spec(source, name, array, specs[name])
    return arrays


def _check_archive(path: Path, source: str) -> None:
    """Refuse archives whose members claim more than :data:`MAX_UNPACKED_BYTES`."""
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelBundleError(source, f"not a readable .npz archive ({exc})") from exc
    if total > MAX_UNPACKED_BYTES:
        raise ModelBundleError(
            source, f"expected at most {MAX_UNPACKED_BYTES} unpacked bytes, got {total}"
        )


def _check_spec(source: str, name: str, array: npt.NDArray[np.generic], spec: ArraySpec) -> None:
    expected = np.dtype(spec.dtype)
    if expected.kind == "U":
        dtype_ok = array.dtype.kind == "U"
        wanted = "a unicode string array"
    else:
        dtype_ok = array.dtype == expected
        wanted = str(expected)
    if not dtype_ok:
        raise ModelBundleError(
            source, f"array {name!r}: expected dtype {wanted}, got {array.dtype}"
        )
    if array.ndim != spec.ndim:
        raise ModelBundleError(
            source, f"array {name!r}: expected {spec.ndim} dimension(s), got shape {array.shape}"
        )
