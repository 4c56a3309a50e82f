"""Gzip decompression with bounded output: in one call for a file in memory, or as a stream.

Both ways apply the same rule (:meth:`~features._limits.Limits.expansion_limit`): output
may grow to a floor whatever the ratio, and beyond it to a fixed multiple of the
compressed bytes read so far. Past that the stream is a decompression bomb: a
:class:`~features._exceptions.SourceError` with the reason, raised before the output
could take more memory or time. Concatenated gzip members are read one after another,
as ``gzip -d`` does.
"""

from __future__ import annotations

import io
import logging
from typing import IO, Final, cast

from isal import isal_zlib

from features._exceptions import SourceError
from features._limits import Limits

__all__ = ["GZIP_MAGIC", "GunzipStream", "gunzip_whole"]

logger = logging.getLogger(__name__)

GZIP_MAGIC: Final = b"\x1f\x8b"
_GZIP_WBITS: Final = 31
_READ: Final = 1 << 16
_ISAL_ERROR: Final = cast(type[Exception], isal_zlib.error)


def gunzip_whole(compressed: bytes, limits: Limits) -> bytes | None:
    """Decompress a whole single-member gzip file held in memory, in one call.

    Returns
    -------
    bytes or None
        The content; ``None`` when the file must be read as a stream instead: it
        expands past its limit (a bomb, or NDJSON too large to hold), has several
        members, or does not decompress cleanly (truncated, corrupt). The stream
        then keeps what comes before a break and reports the break or the bomb.
    """
    limit = min(limits.expansion_limit(len(compressed)), limits.document_bytes)
    # The trailer's size (of the last member, modulo 4 GiB) is a hint an attacker
    # controls: it sizes the output buffer in one allocation (growing it as it fills
    # made decompression 2-4 times slower), and output past it hands the file to the
    # stream, so a lie costs nothing but the streamed read.
    stated = int.from_bytes(compressed[-4:], "little")
    if stated > limit:
        return None  # it says it is larger than may be held: the stream decides
    inflater = isal_zlib.decompressobj(wbits=_GZIP_WBITS)
    try:
        data = inflater.decompress(compressed, stated + 1)
    except _ISAL_ERROR:
        return None
    if len(data) > stated or not inflater.eof or inflater.unused_data:
        return None
    return data


class GunzipStream(io.RawIOBase):
    """A readable stream of the decompressed content of a gzip stream, bounded.

    Parameters
    ----------
    raw : binary file
        The compressed stream.
    source : str
        Named in the error of a bomb.
    limits : Limits
        The expansion rule.

    Raises (when read)
    ------------------
    SourceError
        Past the expansion limit (a gzip bomb).
    EOFError
        When the stream ends inside a member (truncated).
    isal_zlib.error
        When the data is corrupt.
    """

    def __init__(self, raw: IO[bytes], source: str, limits: Limits) -> None:
        super().__init__()
        self._raw = raw
        self._source = source
        self._limits = limits
        self._inflater = isal_zlib.decompressobj(wbits=_GZIP_WBITS)
        self._pending = b""
        self._read_in = 0
        self._written = 0
        self._done = False

    def readable(self) -> bool:
        """Return ``True``: this stream is read."""
        return True

    def _fill(self) -> bytes:
        data = self._raw.read(_READ)
        self._read_in += len(data)
        return data

    def _next_member(self) -> bool:
        """Start the next gzip member after the end of one; ``False`` at the end of input."""
        rest = self._inflater.unused_data or self._fill()
        while rest and len(rest) < 2:  # the magic could straddle two reads
            more = self._fill()
            if not more:
                break
            rest += more
        if not rest.strip(b"\0"):
            return False  # the end, or the zero padding some tools leave after a member
        if not rest.startswith(GZIP_MAGIC):
            raise SourceError(self._source, "not gzip: data after the end of the gzip stream")
        self._inflater = isal_zlib.decompressobj(wbits=_GZIP_WBITS)
        self._pending = rest
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Decompress into ``buffer``; return the bytes written (0 at the end)."""
        wanted = len(buffer)
        while not self._done:
            if self._inflater.eof and not self._next_member():
                self._done = True
                break
            if not self._pending:
                self._pending = self._fill()
                if not self._pending:
                    raise EOFError("compressed stream ended before the end-of-stream marker")
            out = self._inflater.decompress(self._pending, wanted)
            self._pending = self._inflater.unconsumed_tail
            if self._inflater.eof:
                self._pending = b""
            if out:
                self._written += len(out)
                if self._written > self._limits.expansion_limit(self._read_in):
                    raise SourceError(
                        self._source, self._limits.bomb_reason(self._read_in, self._written)
                    )
                buffer[: len(out)] = out
                return len(out)
        return 0
