"""Time-ordered, non-sequential identifiers (UUID version 7, RFC 9562).

Primary keys are UUIDv7: 48 bits of milliseconds, 12 bits of sub-millisecond time, then 62
random bits, so B-tree inserts stay local (like a serial) while ids cannot be guessed or
enumerated across tenants. Python 3.11's ``uuid`` module has no ``uuid7``; this is the RFC's
layout in a few lines, with its method 3 ("increased clock precision", RFC 9562 §6.2) for the 12
``rand_a`` bits and a per-process guard, so ids made one after the other in a process sort in the
order they were made (tests and exports that list "in id order" rely on it).
"""

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def uuid7() -> uuid.UUID:
    global _last
    ns = time.time_ns()
    ms, sub = divmod(ns, 1_000_000)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= (sub * 4096 // 1_000_000) << 64  # rand_a: the fraction of the millisecond, 12 bits
    value |= 0b10 << 62  # variant
    value |= int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)  # rand_b, 62 random bits
    with _lock:
        if value <= _last:  # same 244 ns tick (or the clock stepped back): step past the last id
            value = _last + 1
        _last = value
    return uuid.UUID(int=value)


def uuid7_many(n: int) -> list[uuid.UUID]:
    """``n`` UUIDv7s in increasing order, as ``n`` calls of ``uuid7`` would give them, with one
    clock read and one ``os.urandom`` call for all (a bulk import makes 10,000 at once)."""
    global _last
    if n <= 0:
        return []
    ns = time.time_ns()
    ms, sub = divmod(ns, 1_000_000)
    head = ((ms & ((1 << 48) - 1)) << 80) | (0x7 << 76) | ((sub * 4096 // 1_000_000) << 64) | (0b10 << 62)
    noise = os.urandom(8 * n)
    mask = (1 << 62) - 1
    values = [head | (int.from_bytes(noise[8 * i : 8 * i + 8], "big") & mask) for i in range(n)]
    values.sort()  # the random bits differ; sorted, they keep the order of creation within the tick
    with _lock:
        last = _last
        for i, value in enumerate(values):
            if value <= last:
                value = last + 1
                values[i] = value
            last = value
        _last = last
    return [uuid.UUID(int=value) for value in values]
