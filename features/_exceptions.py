"""The one exception tree of changewatch, at the bottom of the package layers.

Every error changewatch raises on purpose is one of these; errors from libraries
(``orjson``, ``gzip``, ``pyarrow``, ``maxminddb``) are mapped to them where they
are caught, so a caller catches :class:`ChangewatchError` and nothing foreign.

::

    ChangewatchError
     ├── InputError                   input that cannot be read at all
     │    ├── RecordRejected          one record is unusable (names file, position, field)
     │    └── SourceError             one file or stream is unusable (truncated gzip, not JSON)
     ├── ConfigurationError           a setting, option or configuration file is wrong
     ├── GeoIPError                   the MaxMind database cannot be opened or read
     └── ModelBundleError             a stored model is tampered, corrupt or mismatched
"""

from __future__ import annotations

__all__ = [
    "ChangewatchError",
    "ConfigurationError",
    "GeoIPError",
    "InputError",
    "ModelBundleError",
    "RecordRejected",
    "SourceError",
]


class ChangewatchError(Exception):
    """Base class of every error changewatch raises on purpose."""


class InputError(ChangewatchError):
    """Input that cannot be read."""


class RecordRejected(InputError):
    """One record cannot become a canonical event.

    Parameters
    ----------
    field : str
        Dotted path of the offending field, e.g. ``"userIdentity.arn"``; ``"(record)"``
        when the record as a whole is wrong (for example not a JSON object).
    reason : str
        What was expected and what came, e.g. ``"expected a string, got int"``.
    source : str, optional
        File (or ``"<stdin>"``, ``"<request>"``) the record came from.
    position : int, optional
        1-based position of the record in its source: the record number in a JSON
        document, the line number in NDJSON.
    """

    def __init__(
        self,
        field: str,
        reason: str,
        *,
        source: str | None = None,
        position: int | None = None,
    ) -> None:
        self.field = field
        self.reason = reason
        self.source = source
        self.position = position
        super().__init__(self._message())

    def located(self, source: str, position: int) -> RecordRejected:
        """Return a copy of this rejection that names where the record came from."""
        return RecordRejected(self.field, self.reason, source=source, position=position)

    def _message(self) -> str:
        where = ""
        if self.source is not None:
            where = f"{self.source}: "
        if self.position is not None:
            where += f"record {self.position}: "
        return f"{where}field {self.field!r}: {self.reason}"


class SourceError(InputError):
    """A whole file or stream cannot be read (truncated gzip, not JSON, unreadable).

    Parameters
    ----------
    source : str
        The file path or ``"<stdin>"``.
    reason : str
        What went wrong, in words.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class ConfigurationError(ChangewatchError):
    """A setting, command-line option or configuration file is wrong."""


class GeoIPError(ChangewatchError):
    """The MaxMind-format database cannot be opened or read."""


class ModelBundleError(ChangewatchError):
    """A stored model (or part of one) is refused: tampered, corrupt or mismatched.

    Raised on load, before anything is scored, when a file fails a hash, a dtype, shape
    or bounds check, or was written for another feature schema.

    Parameters
    ----------
    source : str
        The file (or bundle member) that was refused.
    reason : str
        What was expected and what came, e.g. ``"tree 3, node 5: children_left: expected
        -1 or a node after its parent and inside the tree, got 2 (1 node(s) wrong)"``.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")
