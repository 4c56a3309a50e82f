"""Backpressure: a bounded queue in front of the scoring threads, 503 + ``Retry-After`` beyond.

Scoring is CPU-bound: ``CHANGEWATCH_SCORING_THREADS`` requests score at once and the
others wait. Without a bound, a burst is answered minutes late, after the client (an
EventBridge API destination gives up after 5 seconds, then retries) has stopped waiting
and sent it again. So a request that finds ``CHANGEWATCH_QUEUE_DEPTH`` others waiting,
or that waited ``CHANGEWATCH_QUEUE_WAIT_SECONDS`` without getting a thread, is answered
``503`` with ``Retry-After`` at once, and every answer that is not a 503 comes within
the wait bound plus its own scoring time (ADR 0041; sizing in ``docs/operations.md``).

The wait counts from the request's *arrival* (when the application got it, before its
body was read), not from the moment it reaches the queue (ADR 0063): a request that
has used its wait bound before it gets here, or that would wait longer than what is
left of it behind the requests already waiting (by the smoothed scoring time), is
refused at once instead of after the wait. Refusals are logged at most once every
``_LOG_EVERY`` seconds, with their count: under sustained overload a line per 503
would cost the event loop and flood the log.
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
_LOG_EVERY: Final = 10.0
"""Seconds between two log lines about refused requests."""


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
        self._refused = 0
        """Refusals not logged yet."""
        self._logged = -math.inf

    @property
    def waiting(self) -> int:
        """Requests waiting for a thread now."""
        return self._waiting

    def retry_after(self) -> int:
        """Seconds until the requests waiting now are likely served (1 to 60)."""
        drain = (self._waiting + self.threads) * self._mean / self.threads
        return min(_MAX_RETRY_AFTER, max(1, math.ceil(drain)))

    def expected_wait(self) -> float:
        """Seconds a request arriving now would likely wait for a thread (0 when one is free)."""
        if self._limiter.available_tokens >= 1:
            return 0.0
        return (self._waiting + 1) * self._mean / self.threads

    def _overloaded(self, why: str) -> ProblemError:
        self._metrics.overloaded.inc()
        seconds = self.retry_after()
        self._refused += 1
        now = time.monotonic()
        if now - self._logged >= _LOG_EVERY:
            logger.warning(
                "%d scoring request(s) refused (503, retry after %d s) since the last report; "
                "the latest: %s",
                self._refused,
                seconds,
                why,
            )
            self._refused, self._logged = 0, now
        return ProblemError(
            503,
            f"{why}; retry after {seconds} s",
            type=OVERLOADED,
            headers={"Retry-After": str(seconds)},
        )

    def check(self, arrived: float | None = None) -> float:
        """Refuse at once what cannot be scored within the wait bound (before reading the body).

        Parameters
        ----------
        arrived : float, optional
            ``time.perf_counter()`` when the request arrived; now when not given.

        Returns
        -------
        float
            Seconds the request may still wait for a thread.

        Raises
        ------
        ProblemError
            503 with ``Retry-After`` when the queue is full, the request has already waited
            the bound, or the requests waiting before it would take longer than what is left.
        """
        now = time.perf_counter()
        waited = now - (now if arrived is None else arrived)
        left = self.max_wait - waited
        if left <= 0:
            raise self._overloaded(
                f"the request waited {waited:.2f} s before reaching the scoring queue "
                f"(the bound is {self.max_wait:g} s)"
            )
        if self._limiter.available_tokens < 1 and self._waiting >= self.depth:
            raise self._overloaded(
                f"{self._waiting} scoring requests are waiting already (the limit)"
            )
        expected = self.expected_wait()
        if expected > left:
            raise self._overloaded(
                f"the {self._waiting} scoring requests waiting would take about {expected:.2f} s, "
                f"more than the {left:.2f} s left of the {self.max_wait:g} s bound"
            )
        return left

    async def run(self, work: Callable[[], T], arrived: float | None = None) -> T:
        """Run ``work`` in a thread when one is free, within the bounds above.

        Parameters
        ----------
        work : callable
            What to run in the thread.
        arrived : float, optional
            ``time.perf_counter()`` when the request arrived: the wait bound counts from
            there (now when not given).

        Raises
        ------
        ProblemError
            503 with ``Retry-After`` when the queue is full or the wait too long.
        """
        left = self.check(arrived)
        self._waiting += 1
        self._metrics.queued.set(self._waiting)
        acquired = False
        try:
            with anyio.move_on_after(left):
                await self._limiter.acquire()
                acquired = True  # no await between: a cancellation cannot come in between
        finally:
            self._waiting -= 1
            self._metrics.queued.set(self._waiting)
        if not acquired:
            raise self._overloaded(
                f"no scoring thread was free within {self.max_wait:g} s of the request's arrival"
            )
        started = time.perf_counter()
        try:
            return await to_thread.run_sync(work)
        finally:
            self._limiter.release()
            took = time.perf_counter() - started
            self._mean += _SMOOTHING * (took - self._mean)
