"""Prometheus metrics, one registry per app (``serving.api.middleware`` records requests).

Events and findings are counted once per event id: a resent event (``already_seen``)
adds nothing, so redeliveries do not inflate the counts. What an unauthenticated scrape
of ``/metrics`` sees is :attr:`Metrics.public`; the full registry needs a key with the
``metrics`` (or ``admin``) scope, since findings by severity tell an attacker whether
their actions were noticed (ADR 0040).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric

from models.scoring import Finding
from serving._model_holder import LoadedModel

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's counters: requests, latency, findings by severity, rejects, model."""

    def __init__(self) -> None:
        self.public = CollectorRegistry(auto_describe=True)
        """What anyone may read: traffic, latency, counts of events, rejects, overload."""
        self.registry = CollectorRegistry(auto_describe=True)
        """Everything: the public families and findings, model identity, degraded state."""
        r = self.public
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
        self.rejected = Counter(
            "changewatch_rejected_records",
            "Records rejected, by reason (future: dated after the server clock allows)",
            ["reason"],
            registry=r,
        )
        self.events = Counter(
            "changewatch_events_scored", "Events scored, each event id once", registry=r
        )
        self.overloaded = Counter(
            "changewatch_overloaded_requests",
            "Scoring requests answered 503 (queue full, or waited too long for a thread)",
            registry=r,
        )
        self.queued = Gauge(
            "changewatch_scoring_queue", "Scoring requests waiting for a thread", registry=r
        )
        self.degraded = Gauge("changewatch_degraded", "1 while scoring with rules only", registry=r)
        self.registry.register(_Of(self.public))
        r = self.registry
        self.findings = Counter(
            "changewatch_findings",
            "Findings returned, by severity (counted once: not for resent events alone)",
            ["severity"],
            registry=r,
        )
        self.model = Gauge(
            "changewatch_model_info",
            "The model served (value 1); version empty when rules only",
            ["uri", "name", "version"],
            registry=r,
        )

    def set_model(self, model: LoadedModel) -> None:
        """Show the model now served."""
        self.model.clear()
        self.model.labels(model.uri, model.info.name or "", model.info.version or "").set(1)
        self.degraded.set(1 if model.degraded else 0)

    def count_once(self, new_events: int, findings: Iterable[Finding], new_ids: set[str]) -> None:
        """Count a request's events seen for the first time, and its findings about them."""
        self.events.inc(new_events)
        for finding in findings:
            if any(i in new_ids for i in finding.event_ids) or any(
                i in new_ids for hit in finding.hits for i in hit.event_ids
            ):
                self.findings.labels(str(finding.severity)).inc()

    def count_findings(self, findings: Iterable[Finding]) -> None:
        """Count findings by severity (of precomputed vectors, which carry no event ids)."""
        for finding in findings:
            self.findings.labels(str(finding.severity)).inc()

    def count_rejected(self, rejected: int, *, future: int = 0) -> None:
        """Count a request's rejected records, ``future`` of them for their time."""
        if future:
            self.rejected.labels("future").inc(future)
        if rejected - future:
            self.rejected.labels("invalid").inc(rejected - future)

    def render(self, *, full: bool) -> bytes:
        """Return the public families, or everything, in the Prometheus text format."""
        return generate_latest(self.registry if full else self.public)


class _Of:
    """A collector that yields another registry's families (the public part of the full one)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        """Every family of the wrapped registry."""
        return self._registry.collect()
