"""JSON request parsing that refuses what PostgreSQL's jsonb cannot store.

Python's ``json`` accepts ``NaN``, ``Infinity`` and numbers like ``1e400`` (read as infinity),
strings holding ``\\u0000`` or a lone surrogate, and nesting deep enough to exhaust Python's
recursion limit; jsonb (or the parser itself) fails on all of them, which would surface as a 500 deep in
a service. Refusing them here gives the client a 400 ``parse_error`` and changes nothing.
"""

from __future__ import annotations

import json
import math
import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class _Refused(ValueError):
    pass


def _refuse_constant(name: str):
    raise _Refused(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text} is out of range")
    return value


def _check_text(text: str, what: str) -> None:
    if "\x00" in text:
        raise _Refused(f"{what} must not contain \\u0000")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate such as \ud800
        raise _Refused(f"{what} must be valid Unicode (no lone surrogates)") from exc


def _check_strings(value) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item, "strings")
        elif isinstance(item, dict):
            for key, inner in item.items():
                _check_text(key, "keys")
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)


# In JSON text a string can hold U+0000 or a lone surrogate only through a ``\\u`` escape: a raw
# control character is a parse error, and text decoded from UTF-8 holds no surrogates. So when the
# text has no escape of U+0000 or of a surrogate (D800-DFFF), no parsed string can hold either and
# the walk over every string (a Python loop over every value of the body) is skipped. A
# match (which may be a false alarm, such as an escaped backslash before "u0000") walks as before.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def loads_strict(text: str):
    """Parse JSON text the way the API accepts it; raise ``ValueError`` on anything refused."""
    data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    if _SUSPECT_ESCAPE.search(text):
        _check_strings(data)
    return data


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return loads_strict(stream.read().decode(encoding))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
