"""HTTP/1.1 under uvicorn with a bound on the request line and headers.

uvicorn bounds what h11 buffers of an unfinished request head
(``h11_max_incomplete_event_size``) but sets no bound for httptools, its faster parser:
a client without a key could send a header of 100 MiB and the server read it to the end
(httptools gathers a header's value before it hands it over). :class:`BoundedHttpTools`
is uvicorn's httptools protocol counting what arrives while a head is being read; past
the same ``h11_max_incomplete_event_size`` it answers ``431`` and closes the connection,
so a head costs at most the bound and one read. :func:`uvicorn_options` gives the
options ``changewatch serve`` and the tests run uvicorn with; :func:`served_in_thread`
serves an app on a free loopback port in a thread (the demo and the tests).
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

from serving.api.problems import PROBLEM_MEDIA_TYPE, problem_body

__all__ = ["BoundedHttpTools", "uvicorn_options"]

logger = logging.getLogger(__name__)

_HTTPTOOLS = importlib.util.find_spec("httptools") is not None

if _HTTPTOOLS:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
else:  # pragma: no cover - uvicorn[standard] installs httptools
    HttpToolsProtocol = H11Protocol  # type: ignore[assignment,misc]


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head over the configured size."""

    def __init__(self, config: Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._max_head = int(config.h11_max_incomplete_event_size or 64 << 10)
        self._head = 0
        self._in_head = True

    def data_received(self, data: bytes) -> None:
        """Feed the parser; refuse the request when its head grew past the bound."""
        if self._in_head:
            self._head += len(data)
        super().data_received(data)
        if self._in_head and self._head > self._max_head and not self.transport.is_closing():
            self._refuse()

    def on_headers_complete(self) -> None:
        """Stop counting: the head is whole."""
        self._in_head = False
        self._head = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """Count again: the next bytes are the next request's head."""
        self._in_head = True
        super().on_message_complete()

    def _refuse(self) -> None:
        detail = f"request line and headers exceed {self._max_head} bytes"
        logger.warning("%s from %s: connection closed", detail, self.client)
        body = problem_body(431, detail)
        head = (
            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
            f"content-type: {PROBLEM_MEDIA_TYPE}\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        self.transport.close()


def uvicorn_options(max_header_bytes: int) -> dict[str, Any]:
    """Options for ``uvicorn.run`` or ``uvicorn.Config``: uvloop, bounded httptools (or h11)."""
    # by import path, not the class: a worker process (``serve --workers``) then imports
    # it when its server starts, after uvicorn's health-check thread answers, not while
    # unpickling its configuration (imports of the app's packages take seconds on a
    # busy machine, and uvicorn kills a worker that does not answer within 5 s)
    http = f"{__name__}:BoundedHttpTools" if _HTTPTOOLS else "h11"
    return {
        "loop": "auto",
        "http": http,
        "h11_max_incomplete_event_size": max_header_bytes,
        "access_log": False,
    }


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served_in_thread(app: Any, *, start_within: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on 127.0.0.1 and a free port, in a thread.

    Yields the base URL once the server listens; stops it on exit. Raises ``RuntimeError``
    when it does not start within ``start_within`` seconds.
    """
    port = free_port()
    options = uvicorn_options(app.state.settings.max_header_bytes)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_within
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
