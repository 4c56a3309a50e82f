"""changewatch: anomaly scoring for cloud infrastructure changes.

This package is the product's shell: the ``changewatch`` command line and the version.
The work lives in ``features``, ``models``, ``training`` and ``serving``; the exception
tree is ``changewatch.errors`` (kept at the bottom, in ``features``).
"""

from __future__ import annotations

from features import PRODUCT_VERSION as _PRODUCT_VERSION

__version__ = _PRODUCT_VERSION

__all__ = ["__version__"]
