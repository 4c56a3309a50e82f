"""The ASGI middleware around every request: metrics, body limits, gzip bodies, the degraded mark.

* Every request is counted and timed (``changewatch_http_requests_total``, latency); its
  arrival time is ``request.state.arrived`` (``time.perf_counter()``), from which the
  scoring queue counts its wait bound (ADR 0063).
* A body over ``max_body`` bytes is refused with 413: by its ``Content-Length`` before it
  is read, else as it arrives. A ``Content-Encoding: gzip`` body is decompressed as it
  arrives and the limit applies to what it decompresses to, so a gzip bomb costs at
  most ``max_body`` bytes and one chunk before its 413. Another content coding is 415.
* Every answer, the middleware's own included, carries ``X-Changewatch-Degraded: true``
  while the service scores with the rules alone, and ``Server-Timing: app;dur=<ms>``: the
  time from the request reaching the application to its answer (a client's latency
  minus this is spent in the network, the client, or before the server read the request).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from typing import Any, Final

from starlette.exceptions import HTTPException

from serving.api.metrics import Metrics
from serving.api.problems import PROBLEM_MEDIA_TYPE, problem_body

__all__ = ["ServiceMiddleware"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

_GZIP: Final = (b"gzip", b"x-gzip")
_CHUNK: Final = 1 << 16
"""Bytes of decompressed output taken at a time."""


class _Gunzip:
    """Incremental gzip decoding of a body (several members too), bounded per call."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decompress what ``data`` adds; at most ``limit`` bytes and one chunk come back."""
        out = bytearray()
        self._pending += data
        while len(out) <= limit:
            try:
                chunk = self._inflate.decompress(self._pending, _CHUNK)
            except zlib.error as error:
                raise HTTPException(400, f"the body is not valid gzip: {error}") from None
            out += chunk
            self._pending = self._inflate.unconsumed_tail
            if self._inflate.eof:
                self._pending = self._inflate.unused_data.lstrip(b"\0")
                if not self._pending:
                    break
                self._inflate = zlib.decompressobj(wbits=31)  # the next member
            elif not self._pending and len(chunk) < _CHUNK:
                break
        return bytes(out)

    def finish(self) -> None:
        """Raise 400 when the body ended inside a gzip member."""
        if not self._inflate.eof:
            raise HTTPException(400, "the body is not valid gzip: it ends early")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


class ServiceMiddleware:
    """Request metrics, the body-size limit, gzip bodies and the degraded mark, as plain ASGI."""

    def __init__(
        self, app: Any, *, metrics: Metrics, max_body: int, degraded: Callable[[], bool]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.degraded = degraded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one ASGI call, counting it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        # when it arrived, for the scoring queue's wait bound (request.state.arrived)
        scope = {**scope, "state": {**scope.get("state", {}), "arrived": started}}

        async def marked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                took = (time.perf_counter() - started) * 1e3
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                if self.degraded():
                    headers.append((b"x-changewatch-degraded", b"true"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            refused = self._refuse(scope)
            if refused is not None:
                await self._problem(marked, scope, *refused)
                return
            if (_header(scope, b"content-encoding") or b"").strip().lower() in _GZIP:
                scope, receive = self._gunzipped(scope, receive)
            else:
                receive = self._counted(receive)
            await self.app(scope, receive, marked)
        finally:
            self._observe(scope, status, started)

    def _refuse(self, scope: Scope) -> tuple[int, str] | None:
        """Return the status and detail of a request refused by its headers alone."""
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return 413, f"request body exceeds the limit of {self.max_body} bytes"
        coding = (_header(scope, b"content-encoding") or b"identity").strip().lower()
        if coding not in (b"identity", *_GZIP):
            shown = coding.decode("latin-1")[:40]
            return 415, f"Content-Encoding {shown!r} is not read; send gzip or identity"
        return None

    def _too_large(self) -> HTTPException:
        return HTTPException(413, f"request body exceeds the limit of {self.max_body} bytes")

    def _counted(self, receive: Receive) -> Receive:
        size = 0

        async def counted() -> Message:
            nonlocal size
            message: Message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_body:
                    raise self._too_large()
            return message

        return counted

    def _gunzipped(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        """Return the scope without the coding and length headers, and a decoding receive."""
        headers = [
            (k, v)
            for k, v in scope.get("headers", ())
            if k not in (b"content-encoding", b"content-length")
        ]
        gunzip = _Gunzip()
        size = 0

        async def decoded() -> Message:
            nonlocal size
            message: Message = await receive()
            if message["type"] != "http.request":
                return message
            body = gunzip.feed(message.get("body", b""), self.max_body - size)
            size += len(body)
            if size > self.max_body:
                raise self._too_large()
            if not message.get("more_body", False):
                gunzip.finish()
            return {**message, "body": body}

        return {**scope, "headers": headers}, decoded

    async def _problem(self, send: Send, scope: Scope, status: int, detail: str) -> None:
        body = problem_body(status, detail, instance=scope.get("path"))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        self.metrics.requests.labels(scope.get("method", ""), path, str(status)).inc()
        self.metrics.latency.labels(path).observe(time.perf_counter() - started)
