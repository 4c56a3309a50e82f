"""A daemon thread that does one piece of work every few seconds until it is stopped."""

from __future__ import annotations

import logging
import threading

__all__ = ["Periodic"]

logger = logging.getLogger(__name__)


class Periodic:
    """Calls :meth:`tick` every ``every`` seconds from a daemon thread of its own.

    Subclasses implement :meth:`tick`, and :meth:`finish` for what the thread holds.

    Parameters
    ----------
    name : str
        The thread's name.
    every : float
        Seconds between two ticks.
    tick_on_stop : bool
        Tick once more when stopped (a last checkpoint), instead of ending at once.
    """

    def __init__(self, name: str, every: float, *, tick_on_stop: bool = False) -> None:
        self._every = every
        self._tick_on_stop = tick_on_stop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop(self) -> None:
        """Stop, waiting for a tick in progress (and the last one, if asked for)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def tick(self) -> None:
        """Do the work once."""
        raise NotImplementedError

    def finish(self) -> None:
        """Release what the thread held, when it ends."""

    def _run(self) -> None:
        try:
            while True:
                stopping = self._stop.wait(self._every)
                if stopping and not self._tick_on_stop:
                    return
                self.tick()
                if stopping:
                    return
        finally:
            self.finish()
