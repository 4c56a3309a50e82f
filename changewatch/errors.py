"""The exception tree, as the command line and its users know it.

The tree itself lives at the bottom of the package layers (:mod:`features._exceptions`,
public as ``features.ChangewatchError`` and friends), so that no package has to import
the command line to raise a domain error; this module keeps the CLI's public path.
"""

from __future__ import annotations

from features import (
    ChangewatchError,
    ConfigurationError,
    GeoIPError,
    InputError,
    ModelBundleError,
    RecordRejected,
    SourceError,
)

__all__ = [
    "ChangewatchError",
    "ConfigurationError",
    "GeoIPError",
    "InputError",
    "ModelBundleError",
    "RecordRejected",
    "SourceError",
]
