"""The product's version, at the bottom of the layers so every package can name it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Final

__all__ = ["PRODUCT_VERSION"]

try:
    PRODUCT_VERSION: Final = version("changewatch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    PRODUCT_VERSION = "0.0.0+unknown"  # type: ignore[misc]
