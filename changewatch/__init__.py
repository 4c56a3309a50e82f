"""changewatch: anomaly scoring for cloud infrastructure changes.

This package is the product's shell: the ``changewatch`` command line, the version
and the exception tree. The work lives in ``features``, ``models``, ``training``
and ``serving``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

__all__ = ["__version__"]

try:
    __version__ = _version("changewatch")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"
