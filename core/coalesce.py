"""Coalesce wake-ups: many calls within a short window become one call with all their items.

A wake-up such as "relay the events of these completed tasks" costs a broker message (a Celery
``send_task`` builds and publishes a whole message); under load many requests of one process ask
for one within milliseconds of each other. ``Coalescer.add(item)`` remembers the item and, if no send is
pending, schedules one ``window`` seconds later on a background thread; that send calls
``send(items)`` once with everything gathered meanwhile.

A wake-up is a hint, never the record: the work it asks for is in the database and the periodic
relays repeat it, so items that a dying process never sent (or a failed send) delay that work
until the next relay run, and are not lost. A failed send is logged. In a forked child the
pending state starts empty (``os.register_at_fork``).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Hashable

logger = logging.getLogger(__name__)

_all: weakref.WeakSet[Coalescer] = weakref.WeakSet()


class Coalescer:
    def __init__(self, send: Callable[[list], object], *, window: Callable[[], float] | float, name: str):
        self._send, self._window, self.name = send, window, name
        self._reset()
        _all.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[Hashable, None] = {}  # insertion-ordered, without repeats
        self._timer: threading.Timer | None = None

    def add(self, item: Hashable) -> None:
        """Ask for ``item`` to be sent: with the others of this window, at its end (at once when the
        window is 0)."""
        window = self._window() if callable(self._window) else self._window
        if window <= 0:
            self._call([item])
            return
        with self._lock:
            self._items[item] = None
            if self._timer is not None:
                return
            timer = threading.Timer(window, self.flush)
            timer.daemon = True
            self._timer = timer
        timer.start()

    def flush(self) -> int:
        """Send what is pending now (the timer calls this; tests and shutdown may too). Returns how
        many items were sent."""
        with self._lock:
            items, self._items = list(self._items), {}
            timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if items:
            self._call(items)
        return len(items)

    def _call(self, items: list) -> None:
        try:
            self._send(items)
        except Exception:
            logger.warning(
                "%s: wake-up for %d item(s) not sent; the periodic relay will do the work",
                self.name,
                len(items),
                exc_info=True,
            )


def _after_fork_in_child() -> None:
    for coalescer in list(_all):
        coalescer._reset()


def _flush_all() -> None:
    for coalescer in list(_all):
        coalescer.flush()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_flush_all)
