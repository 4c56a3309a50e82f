"""Backpressure: a bounded queue in front of the scoring threads, 503 + ``Retry-After`` beyond.

Scoring is CPU-bound: ``CHANGEWATCH_SCORING_THREADS`` requests score at once and the
others wait. Without a bound, a burst is answered minutes late, after the client (an
EventBridge API destination gives up after 5 seconds, then retries) has stopped waiting
and sent it again. So a request that finds ``CHANGEWATCH_QUEUE_DEPTH`` others waiting,
or that waited ``CHANGEWATCH_QUEUE_WAIT_SECONDS`` without getting a thread, is answered
``503`` with ``Retry-After`` at once, and every answer that is not a 503 comes within
the wait bound plus its own scoring time (ADR 0041; sizing in ``docs/operations.md``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Final, TypeVar

import anyio
from anyio import to_thread

from serving.api.metrics import Metrics
from serving.api.problems import OVERLOADED, ProblemError

__all__ = ["ScoringQueue"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SMOOTHING: Final = 0.2
"""Weight of the newest request in the mean scoring time (for ``Retry-After``)."""
_MAX_RETRY_AFTER: Final = 60


class ScoringQueue:
    """At most ``threads`` requests score at once, ``depth`` wait, none waits over ``max_wait``.

    Parameters
    ----------
    threads : int
        Requests scored at the same time (threads of the default pool).
    depth : int
        Requests that may wait for a thread; one more is answered 503 at once.
    max_wait : float
        Seconds a request may wait for a thread before it is answered 503.
    metrics : Metrics
        Told the queue's length and every 503.
    """

    def __init__(self, threads: int, depth: int, max_wait: float, metrics: Metrics) -> None:
        self.threads = threads
        self.depth = depth
        self.max_wait = max_wait
        self._limiter = anyio.CapacityLimiter(threads)
        self._metrics = metrics
        self._waiting = 0
        self._mean = 0.01
        """Seconds a request scores, smoothed."""

    @property
    def waiting(self) -> int:
        """Requests waiting for a thread now."""
        return self._waiting

    def retry_after(self) -> int:
        """Seconds until the requests waiting now are likely served (1 to 60)."""
        drain = (self._waiting + self.threads) * self._mean / self.threads
        return min(_MAX_RETRY_AFTER, max(1, math.ceil(drain)))

    def _overloaded(self, why: str) -> ProblemError:
        self._metrics.overloaded.inc()
        seconds = self.retry_after()
        logger.warning("scoring request refused (503, retry after %d s): %s", seconds, why)
        return ProblemError(
            503,
            f"{why}; retry after {seconds} s",
            type=OVERLOADED,
            headers={"Retry-After": str(seconds)},
        )

    def check(self) -> None:
        """Refuse at once when the queue is full (before the body is even read).

        Raises
        ------
        ProblemError
            503 with ``Retry-After``.
        """
        if self._limiter.available_tokens < 1 and self._waiting >= self.depth:
            raise self._overloaded(
                f"{self._waiting} scoring requests are waiting already (the limit)"
            )

    async def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` in a thread when one is free, within the bounds above.

        Raises
        ------
        ProblemError
            503 with ``Retry-After`` when the queue is full or the wait too long.
        """
        self.check()
        self._waiting += 1
        self._metrics.queued.set(self._waiting)
        acquired = False
        try:
            with anyio.move_on_after(self.max_wait):
                await self._limiter.acquire()
                acquired = True  # no await between: a cancellation cannot come in between
        finally:
            self._waiting -= 1
            self._metrics.queued.set(self._waiting)
        if not acquired:
            raise self._overloaded(f"no scoring thread was free within {self.max_wait:g} s")
        started = time.perf_counter()
        try:
            return await to_thread.run_sync(work)
        finally:
            self._limiter.release()
            took = time.perf_counter() - started
            self._mean += _SMOOTHING * (took - self._mean)
