"""The work loop's fast body parsing (``annotation.api.views._parse_next`` / ``_parse_submit``)
gives exactly what the serializers give: the same validated data, or the same error."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from annotation.api import views
from annotation.api.serializers import NextIn, SubmitIn

json_scalars = (
    st.none() | st.booleans() | st.integers(-5, 10**12) | st.floats(allow_nan=False) | st.text(max_size=5)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def outcome(parse, data):
    try:
        return "ok", dict(parse(data))
    except Exception as exc:  # noqa: BLE001 - compared between the two parsers
        return type(exc).__name__, getattr(exc, "detail", str(exc))


def bodies(keys):
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys)) | json_values


@given(bodies(["project", "resume", "other"]))
def test_next_bodies_parse_as_the_serializer_parses_them(data):
    assert outcome(views._parse_next, data) == outcome(lambda d: views._parse(NextIn, d), data)


@given(
    st.fixed_dictionaries(
        {"claim_version": st.integers(-3, 3) | st.integers(-3, 10**9) | json_values, "answer": json_values}
    )
    | bodies(["claim_version", "answer", "other"])
)
@example({"claim_version": -1, "answer": {}})
@example({"claim_version": True, "answer": {}})
@example({"claim_version": "2", "answer": {"a": 1}})
def test_submit_bodies_parse_as_the_serializer_parses_them(data):
    assert outcome(views._parse_submit, data) == outcome(lambda d: views._parse(SubmitIn, d), data)


@pytest.mark.parametrize(
    "data",
    [{}, {"resume": False}, {"project": None}, {"resume": True, "project": None}],
)
def test_the_common_next_bodies_take_the_fast_path(data, monkeypatch):
    monkeypatch.setattr(views, "_parse", lambda *a: pytest.fail("the serializer ran"))
    assert views._parse_next(data)["resume"] == data.get("resume", True)


def test_the_common_submit_body_takes_the_fast_path(monkeypatch):
    monkeypatch.setattr(views, "_parse", lambda *a: pytest.fail("the serializer ran"))
    data = {"claim_version": 3, "answer": {"category": "car"}}
    assert views._parse_submit(data) == data
