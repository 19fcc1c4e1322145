"""core.coalesce: wake-ups within a window go as one call with every item; a failed send is
logged, never raised into the request that asked; window 0 sends at once."""

from __future__ import annotations

import logging
import threading

from core.coalesce import Coalescer


class _ManualTimer:
    """Stands in for threading.Timer: records what would run, runs it when the test says."""

    made: list[_ManualTimer] = []

    def __init__(self, interval, function):
        self.interval, self.function, self.started, self.cancelled = interval, function, False, False
        self.daemon = False
        _ManualTimer.made.append(self)

    def start(self):
        self.started = True

    def cancel(self):
        self.cancelled = True

    def fire(self):
        self.function()


def test_many_wake_ups_in_a_window_are_one_send_with_every_item_once(monkeypatch):
    _ManualTimer.made = []
    monkeypatch.setattr(threading, "Timer", _ManualTimer)
    sent: list[list] = []
    c = Coalescer(sent.append, window=0.1, name="t")
    for item in ["a", "b", "a", "c"]:
        c.add(item)
    assert sent == [] and len(_ManualTimer.made) == 1 and _ManualTimer.made[0].started
    assert _ManualTimer.made[0].interval == 0.1
    _ManualTimer.made[0].fire()
    assert sent == [["a", "b", "c"]]
    c.add("d")  # a new window, a new timer
    assert len(_ManualTimer.made) == 2
    _ManualTimer.made[1].fire()
    assert sent == [["a", "b", "c"], ["d"]]
    assert c.flush() == 0 and len(sent) == 2  # nothing pending: nothing sent


def test_window_zero_sends_each_at_once():
    sent: list[list] = []
    c = Coalescer(sent.append, window=lambda: 0, name="t")
    c.add(1)
    c.add(2)
    assert sent == [[1], [2]]


def test_a_failed_send_is_logged_and_the_caller_carries_on(caplog):
    def broken(items):
        raise ConnectionError("broker down")

    c = Coalescer(broken, window=0, name="wake")
    with caplog.at_level(logging.WARNING, logger="core.coalesce"):
        c.add("x")  # must not raise
    assert "wake: wake-up for 1 item(s) not sent" in caplog.text


def test_the_real_timer_sends_once_from_its_thread():
    done = threading.Event()
    sent: list[list] = []

    def send(items):
        sent.append(items)
        done.set()

    c = Coalescer(send, window=0.01, name="t")
    c.add("only")
    assert done.wait(timeout=60)
    assert sent == [["only"]]
