"""Time-ordered, non-sequential identifiers (UUID version 7, RFC 9562).

Primary keys are UUIDv7: 48 bits of milliseconds then 74 random bits, so B-tree inserts stay
local (like a serial) while ids cannot be guessed or enumerated across tenants. Python 3.11's
``uuid`` module has no ``uuid7``; this is the RFC's layout in a few lines.
"""

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 68) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return uuid.UUID(int=value)
