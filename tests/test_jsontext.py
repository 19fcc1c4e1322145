"""``core.jsontext``: orjson's compact text stands in for ``json.dumps``'s, and what orjson would
write differently (NaN as null) or refuses (big integers) goes through ``json``."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.jsontext import Encoded, compact, compact_bytes
from core.limits import json_bytes

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def reference(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def has_float(value) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return any(has_float(v) for v in value)
    if isinstance(value, dict):
        return any(has_float(v) for v in value.values())
    return False


@given(JSON)
def test_the_same_json_as_the_standard_library(value):
    """The same value to any reader; the same text byte for byte unless a float is spelled
    differently (orjson writes 1e16 where ``json`` writes 1e+16)."""
    text = compact(value)
    assert json.loads(text) == json.loads(reference(value))
    if not has_float(value):
        assert text == reference(value)
        assert len(compact_bytes(value)) == len(reference(value).encode())


def test_nan_and_infinity_are_refused_not_written_as_null():
    for value in (math.nan, {"x": [math.inf]}, -math.inf):
        with pytest.raises(ValueError):
            compact(value)
        with pytest.raises(ValueError):
            Encoded(value)
    assert compact_bytes({"x": math.nan}, allow_nan=True) == b'{"x":NaN}'
    assert json_bytes({"x": math.nan}) == len('{"x":NaN}')  # a size is counted, as before
    assert compact({"x": None}) == '{"x":null}'  # a real null takes the standard library's path


def test_what_orjson_refuses_falls_back():
    assert compact({"n": 2**80}) == '{"n":1208925819614629174706176}'
    assert compact({1: "a"}) == '{"1":"a"}'
    with pytest.raises(TypeError):
        compact({"x": object()})
    assert json_bytes({"x": object()}) > 0  # the size check's default=str, as before


def test_encoded_carries_its_size_in_utf8_bytes():
    encoded = Encoded({"name": "Zoë ☃"})
    assert encoded.text == '{"name":"Zoë ☃"}'
    assert encoded.nbytes == len(encoded.text.encode()) == 19
