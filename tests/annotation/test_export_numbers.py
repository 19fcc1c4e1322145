"""``annotation.exports.geometry._num``: the number check every exported coordinate goes through."""

from __future__ import annotations

import math
from enum import IntEnum

from hypothesis import given
from hypothesis import strategies as st

from annotation.exports.geometry import _num


class Level(IntEnum):
    LOW = 2


def test_finite_numbers_only():
    assert _num(3) == 3.0 and type(_num(3)) is float
    assert _num(2.5) == 2.5
    assert _num(Level.LOW) == 2.0
    for value in (True, False, None, "3", [1], math.nan, math.inf, -math.inf, 10**400):
        assert _num(value) is None  # 10**400 raised OverflowError (an export failed on one answer)


@given(st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=3), st.none()))
def test_the_same_answer_as_the_plain_rule(value):
    try:
        expected = (
            None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            else float(value)
        )
    except OverflowError:
        expected = None
    assert _num(value) == expected
