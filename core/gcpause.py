"""Pause Python's cyclic garbage collector around one bounded piece of bulk work.

A bulk import holds tens of thousands of live objects (the parsed request, the cleaned items, the
rows); every few hundred allocations the collector walks them again, and a profile of a
10,000-task import put a quarter to a third of its CPU there (``bench/README.md``, import). None of
that work creates garbage cycles worth collecting mid-request: reference counting frees what it
drops, and the collector runs again as soon as the work is done. Nested and concurrent uses (threads)
are counted, so the collector is re-enabled once, by the last one out, and only if it was enabled.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
