"""The API's JSON parser (``core.parsers``) refuses what jsonb cannot store — U+0000 and lone
surrogates in strings or keys — and skips its walk over every string when the text has no escape
that could produce one. The property: refused exactly when some string or key holds one, whatever
the escaping."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError

from core.parsers import StrictJSONParser

# Any code point, surrogates and U+0000 included, with both bad kinds drawn often.
_chars = st.one_of(
    st.characters(codec=None),
    st.sampled_from(["\x00", "\ud800", "\udfff", "\U0001d11e", "\\", "u", "0", "é"]),
)
_text = st.text(_chars, max_size=8)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


def _bad(value) -> bool:
    def bad_text(s: str) -> bool:
        return "\x00" in s or any(0xD800 <= ord(c) <= 0xDFFF for c in s)

    if isinstance(value, str):
        return bad_text(value)
    if isinstance(value, list):
        return any(_bad(v) for v in value)
    if isinstance(value, dict):
        return any(bad_text(k) or _bad(v) for k, v in value.items())
    return False


def _parse(body: bytes):
    return StrictJSONParser().parse(io.BytesIO(body), "application/json", {"encoding": "utf-8"})


@settings(max_examples=400, deadline=None)
@given(value=_values, ascii_only=st.booleans(), upper=st.booleans())
def test_refused_exactly_when_a_string_or_key_holds_nul_or_a_lone_surrogate(value, ascii_only, upper):
    text = json.dumps(value, ensure_ascii=ascii_only)
    if upper:  # \uD800 as well as \ud800: JSON's escapes are case-insensitive
        text = text.replace("\\ud", "\\uD")
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:  # a raw lone surrogate: no UTF-8 request body can carry it
        return
    # A surrogate pair written as two escapes reads back as one code point: compare with the parse.
    expected_bad = _bad(json.loads(text))
    if expected_bad:
        with pytest.raises(ParseError):
            _parse(body)
    else:
        assert _parse(body) == json.loads(text)


@pytest.mark.parametrize(
    "body",
    [b'{"a": "x\\u0000"}', b'{"x\\u0000": 1}', b'["\\uD800"]', b'["\\udfff"]', b'[["\\ud83d"]]'],
)
def test_nul_and_lone_surrogates_are_refused(body):
    with pytest.raises(ParseError):
        _parse(body)


def test_an_escaped_backslash_before_u0000_is_text_and_accepted():
    assert _parse(b'["\\\\u0000", "\\ud834\\udd1e"]') == ["\\u0000", "\U0001d11e"]
