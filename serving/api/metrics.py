"""Prometheus metrics, one registry per app, and the ASGI middleware that records requests.

The middleware also enforces the request-size limit (413, counted as the body
arrives) and marks every answer with ``X-Changewatch-Degraded`` while the service
scores with the rules alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from models.scoring import Finding
from serving._model_holder import LoadedModel

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "ServiceMiddleware"]

_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]


class Metrics:
    """The service's counters: requests, latency, findings by severity, rejects, model."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "changewatch_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "changewatch_http_request_duration_seconds",
            "Time to answer, by route",
            ["route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.findings = Counter(
            "changewatch_findings", "Findings returned, by severity", ["severity"], registry=r
        )
        self.rejected = Counter("changewatch_rejected_records", "Records rejected", registry=r)
        self.events = Counter("changewatch_events_scored", "Events scored", registry=r)
        self.model = Gauge(
            "changewatch_model_info",
            "The model served (value 1); version empty when rules only",
            ["uri", "name", "version"],
            registry=r,
        )
        self.degraded = Gauge("changewatch_degraded", "1 while scoring with rules only", registry=r)

    def set_model(self, model: LoadedModel) -> None:
        """Show the model now served."""
        self.model.clear()
        self.model.labels(model.uri, model.info.name or "", model.info.version or "").set(1)
        self.degraded.set(1 if model.degraded else 0)

    def count_findings(self, findings: list[Finding]) -> None:
        """Count findings by severity."""
        for finding in findings:
            self.findings.labels(str(finding.severity)).inc()

    def render(self) -> bytes:
        """Return the registry in the Prometheus text format."""
        return generate_latest(self.registry)


class _TooLarge(Exception):
    pass


class ServiceMiddleware:
    """Request metrics, the body-size limit and the degraded header, as plain ASGI."""

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
        begun = False
        size = 0
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                status = 413
                await self._too_large(send)
                self._observe(scope, status, started)
                return

        async def counted() -> Message:
            nonlocal size
            message: Message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_body:
                    raise _TooLarge
            return message

        async def marked(message: Message) -> None:
            nonlocal status, begun
            if message["type"] == "http.response.start":
                status = message["status"]
                begun = True
                if self.degraded():
                    headers = list(message.get("headers", ()))
                    headers.append((b"x-changewatch-degraded", b"true"))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, counted, marked)
        except _TooLarge:
            status = 413
            if not begun:
                await self._too_large(send)
        finally:
            self._observe(scope, status, started)

    async def _too_large(self, send: Send) -> None:
        body = orjson.dumps({"detail": f"request body exceeds the limit of {self.max_body} bytes"})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
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
