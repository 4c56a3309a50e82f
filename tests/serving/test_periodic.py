"""`Periodic`: ticks until stopped, one last tick only when asked, and always finishes."""

from __future__ import annotations

import threading

import pytest

from serving._periodic import Periodic


class Counting(Periodic):
    def __init__(self, *, tick_on_stop: bool) -> None:
        super().__init__("counting", 3600, tick_on_stop=tick_on_stop)  # never ticks on time
        self.ticks = 0
        self.finished = threading.Event()

    def tick(self) -> None:
        self.ticks += 1

    def finish(self) -> None:
        self.finished.set()


@pytest.mark.parametrize(("tick_on_stop", "ticks"), [(True, 1), (False, 0)])
def test_stopping_ticks_once_more_only_when_asked(tick_on_stop: bool, ticks: int) -> None:
    periodic = Counting(tick_on_stop=tick_on_stop)
    periodic.start()
    periodic.stop()
    assert periodic.ticks == ticks
    assert periodic.finished.is_set()


def test_stopping_a_thread_never_started_is_harmless() -> None:
    Counting(tick_on_stop=True).stop()
