"""Compact JSON text, encoded once.

A bulk import encodes each task's ``params``, ``metadata`` and ``gold_answer`` to measure them
against their size caps (``core.limits``) and again to write them (``core.pgcopy``); 10,000 tasks
meant 60,000 encodings. ``Encoded`` carries a value with its text and byte size, so the second use
reads the first one's result, and ``compact`` encodes with orjson (compiled, much cheaper than
Python's ``json`` on these small objects), falling back to ``json`` for what orjson refuses or
words differently:

- integers beyond 64 bits and keys that are not strings (orjson raises; ``json`` writes them);
- ``NaN`` and infinities, which orjson writes as ``null``: a ``null`` in orjson's text sends the
  value through ``json``, which refuses them (unless ``allow_nan``, where it writes ``NaN`` as
  before) or gives the same text.

The text is the compact form (no spaces), UTF-8 unescaped, as ``json.dumps(value,
separators=(",", ":"), ensure_ascii=False)`` gives it, except that a float may be spelled
differently (``1e16`` for ``1e+16``): the same number to every JSON reader, and to jsonb.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


def compact_bytes(
    value: Any, default: Callable[[Any], Any] | None = None, *, allow_nan: bool = False
) -> bytes:
    """``value`` as compact UTF-8 JSON. ``ValueError`` for NaN or an infinity (unless
    ``allow_nan``); ``TypeError`` for a value JSON cannot hold (unless ``default`` turns it into one)."""
    try:
        out = orjson.dumps(value, default=default)
    except TypeError:  # orjson.JSONEncodeError: a big integer, a non-string key, or an unknown type
        out = None
    if out is None or b"null" in out:
        encoder = json.JSONEncoder(
            separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan, default=default
        )
        return encoder.encode(value).encode()
    return out


def compact(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``compact_bytes`` as text."""
    return compact_bytes(value, default).decode()


class Encoded:
    """A JSON value with its compact text and the text's size in UTF-8 bytes."""

    __slots__ = ("nbytes", "text", "value")

    def __init__(self, value: Any, default: Callable[[Any], Any] | None = None):
        data = compact_bytes(value, default)  # refuses NaN: the text is written to jsonb
        self.value, self.text, self.nbytes = value, data.decode(), len(data)

    def __repr__(self) -> str:
        return f"Encoded({self.text[:60]!r}, {self.nbytes} bytes)"
