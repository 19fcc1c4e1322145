"""jsonschema-rs (which decides valid / invalid) and jsonschema (which words the errors) agree on
every schema the task types use, for the worked cases and for values mutated from them.

``annotation.tasktypes._common.CompiledSchema`` trusts jsonschema-rs when it says "valid"; if it
ever accepted what jsonschema refuses, an invalid task would get in. Hypothesis replaces, drops or
adds a value somewhere inside a valid params or answer object and both validators must say the same.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from annotation import tasktypes
from annotation.tasktypes import _common
from tests.annotation.tasktype_cases import CASES

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, 1, -1, 0.5, 1.0, 2, 3, 8, 1e9, "", "a", "/x", "http://h/", "box", "car", "image"])
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def _schemas_and_values() -> list[tuple[dict, object]]:
    """(schema, a valid value) for every schema the worked cases go through."""
    seen: dict[str, tuple[dict, object]] = {}
    real = _common.CompiledSchema.errors

    def spy(self, value):
        key = repr(self.schema)
        if key not in seen:
            seen[key] = (self.schema, copy.deepcopy(value))
        return real(self, value)

    _common.CompiledSchema.errors = spy
    try:
        for case in CASES:
            tasktypes.check_project_params(case.task_type, case.project_params)
            tasktypes.check_params(case.task_type, case.params)
            for answer in case.answers:
                tasktypes.check_answer(case.task_type, case.params, answer)
    finally:
        _common.CompiledSchema.errors = real
    return list(seen.values())


SCHEMAS = _schemas_and_values()


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated(draw):
    schema, value = draw(st.sampled_from(SCHEMAS))
    value = copy.deepcopy(value)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(list(_paths(value))))
        if not path:
            value = draw(JSON)
            continue
        parent = value
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(JSON)
        elif action == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(JSON)
        else:
            parent.append(draw(JSON))
    return schema, value


def test_every_task_type_has_schemas_under_test():
    assert len(SCHEMAS) >= 2 * len(tasktypes.supported_types())


@pytest.mark.parametrize(("schema", "value"), SCHEMAS, ids=lambda v: "")
def test_the_worked_values_are_valid_for_both(schema, value):
    assert _common.compiled(schema).fast.is_valid(value)
    assert Draft202012Validator(schema).is_valid(value)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_both_validators_agree_on_mutated_values(case):
    schema, value = case
    try:
        fast = _common.compiled(schema).fast.is_valid(value)
    except (ValueError, TypeError, OverflowError):
        fast = None  # not readable by jsonschema-rs: CompiledSchema asks jsonschema instead
    slow = Draft202012Validator(schema).is_valid(value)
    assert fast in (slow, None), (schema, value)
    # and the error path always finds an error when jsonschema-rs says invalid
    assert bool(_common.compiled(schema).errors(value)) == (not slow)


def test_compiled_schemas_are_built_once():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    first = _common.compiled(schema)
    assert _common.compiled(schema) is first
    assert (
        _common.compiled({"properties": {"a": {"type": "integer"}}, "type": "object"}) is first
    )  # same text
    assert first.errors({"a": "x"})[0].message == "'x' is not of type 'integer'"
    assert first.errors({"a": 1}) == []
