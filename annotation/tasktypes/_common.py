"""Shared pieces of the task types: the spec record, JSON Schema fragments, and errors that name
the offending field (``params.geometries.box.min_width``, ``annotations[0].label``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator

from annotation.quality import Aggregate
from core.errors import ValidationFailed

URL = {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": r"^(https?://|/)"}
NAME = {"type": "string", "minLength": 1, "maxLength": 200}
LABEL_DESCRIPTION = {
    "anyOf": [
        NAME,
        {
            "type": "object",
            "required": ["choice"],
            "properties": {"choice": NAME, "display": {"type": "string"}, "subchoices": {"type": "array"}},
        },
    ]
}
LABELS = {"type": "array", "minItems": 1, "maxItems": 500, "uniqueItems": True, "items": NAME}
NUMBER = {"type": "number"}
COORD = {"type": "number", "minimum": 0}
POSITIVE = {"type": "number", "exclusiveMinimum": 0}
INDEX = {"type": "integer", "minimum": 0}
UUID = {"type": "string", "minLength": 1, "maxLength": 64}
XY = {
    "type": "object",
    "required": ["x", "y"],
    "properties": {"x": COORD, "y": COORD},
    "additionalProperties": False,
}
XYZ = {
    "type": "object",
    "required": ["x", "y", "z"],
    "properties": {"x": NUMBER, "y": NUMBER, "z": NUMBER},
    "additionalProperties": False,
}
# Scale's annotation attributes: {name: {type: "category", description?, choices, allow_multiple?,
# conditions?}}
ANNOTATION_ATTRIBUTES = {
    "type": "object",
    "maxProperties": 50,
    "additionalProperties": {
        "type": "object",
        "required": ["type", "choices"],
        "properties": {
            "type": {"const": "category"},
            "description": {"type": "string"},
            "choices": {"type": "array", "minItems": 1, "maxItems": 200, "uniqueItems": True, "items": NAME},
            "allow_multiple": {"type": "boolean"},
            "conditions": {"type": "object"},
        },
    },
}


@dataclass(frozen=True)
class TaskTypeSpec:
    """Everything about one task type, in one place."""

    name: str
    params_schema: dict
    check_answer: Callable[[dict, Any], None]
    aggregate: Callable[[dict, list], Aggregate]
    example_answer: Callable[[dict], dict]  # a schema-valid answer: the test-mode simulator's
    score_gold: Callable[[dict, dict, dict], float | None] = lambda params, answer, gold: None
    # Rules a schema cannot say (unique ids, pairwise needs two responses…). Called on complete
    # task params, and on a project's partial params (so it must only look at keys present).
    check_params: Callable[[dict], None] = field(default=lambda params: None)
    # Rules on a task's complete params only (one of two ways to give the frames…).
    check_complete_params: Callable[[dict], None] = field(default=lambda params: None)
    consensus: str = ""  # one line, for people: how several answers become one


def path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class CompiledSchema:
    """One JSON Schema (draft 2020-12), compiled once and reused for every value it checks.

    ``jsonschema-rs`` (Rust) decides whether a value is valid, about a hundred times faster than
    the pure-Python ``jsonschema``; only a value it finds invalid (or cannot read) is checked again
    by ``jsonschema``, the reference implementation, which names the failing field, so every error
    message is what it always was. Both implement the same draft; tests/annotation/test_tasktypes_schemas.py
    checks that they agree on every task type's schemas."""

    __slots__ = ("_slow", "fast", "schema")

    def __init__(self, schema: dict):
        self.schema = schema
        self.fast = jsonschema_rs.Draft202012Validator(schema)
        self._slow: Draft202012Validator | None = None

    @property
    def slow(self) -> Draft202012Validator:
        if self._slow is None:
            self._slow = Draft202012Validator(schema=self.schema)
        return self._slow

    def errors(self, value: Any) -> list:
        """jsonschema's errors for ``value``, the first by field path first; [] when valid."""
        try:
            if self.fast.is_valid(value):
                return []
        except (ValueError, TypeError, OverflowError):  # a value that is not JSON: let jsonschema say
            pass
        return sorted(
            self.slow.iter_errors(value),
            key=lambda e: [(0, p, "") if isinstance(p, int) else (1, 0, p) for p in e.absolute_path],
        )


_BY_IDENTITY: dict[int, tuple[dict, CompiledSchema]] = {}
_BY_TEXT: dict[str, CompiledSchema] = {}
_CACHE_LIMIT = 512


def compiled(schema: dict) -> CompiledSchema:
    """The compiled form of ``schema``, built once. Found by identity for the module-level schemas
    (no work per call), else by the schema's canonical JSON text (schemas built per call, such as
    an answer schema that lists a project's labels). Schemas are never changed in place once used.
    Each cache holds at most ``_CACHE_LIMIT`` schemas and starts over when full."""
    hit = _BY_IDENTITY.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    key = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    found = _BY_TEXT.get(key)
    if found is None:
        found = CompiledSchema(schema)
        if len(_BY_TEXT) >= _CACHE_LIMIT:
            _BY_TEXT.clear()
        _BY_TEXT[key] = found
    if len(_BY_IDENTITY) >= _CACHE_LIMIT:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(schema)] = (schema, found)  # holds the schema, so its id is not reused meanwhile
    return found


def validate(schema: dict, value: Any, *, what: str, code: str, prefix: str = "") -> None:
    errors = compiled(schema).errors(value)
    if errors:
        error = errors[0]
        parts, message = [*filter(None, [prefix]), *error.absolute_path], error.message
        # Name the missing or unknown key itself, not the object that lacks or carries it.
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [k for k in error.validator_value if k not in error.instance]
            if missing:
                parts, message = [*parts, missing[0]], "required"
        elif (
            error.validator == "additionalProperties"
            and isinstance(error.instance, dict)
            and error.validator_value is False
        ):
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            if extra:
                allowed = sorted(error.schema.get("properties", {}))
                parts, message = [*parts, extra[0]], f"unknown field (allowed: {', '.join(allowed)})"
        field_name = path(parts) or what
        raise ValidationFailed(f"{field_name}: {message}", code=code, details={"field": field_name})


def fail_answer(field_name: str, message: str) -> None:
    raise ValidationFailed(f"{field_name}: {message}", code="invalid_answer", details={"field": field_name})


def fail_params(field_name: str, message: str) -> None:
    field_name = f"params.{field_name}"
    raise ValidationFailed(f"{field_name}: {message}", code="invalid_params", details={"field": field_name})


def labels_of(descriptions: list) -> list[str]:
    """Label names from ``objects_to_annotate`` (strings or ``{choice, subchoices}``), with the
    subchoices (an annotator may pick the precise one)."""
    out = []
    for d in descriptions:
        if isinstance(d, str):
            out.append(d)
        else:
            out.append(d["choice"])
            out += labels_of([s for s in d.get("subchoices") or [] if isinstance(s, (str, dict))])
    return out


def check_label(field_name: str, label: str, allowed) -> None:
    if label not in allowed:
        shown = sorted(allowed)
        fail_answer(field_name, f"{label!r} is not one of {shown[:20]}{' …' if len(shown) > 20 else ''}")


def check_attributes(field_name: str, attributes: dict, definitions: dict, label: str) -> None:
    """Each attribute is declared in ``annotation_attributes``, applies to this label (when its
    ``conditions.label_condition.label`` limits it) and takes one of its choices."""
    for name, value in attributes.items():
        where = f"{field_name}.{name}"
        spec = definitions.get(name)
        if spec is None:
            fail_answer(where, f"unknown attribute; declared: {sorted(definitions)}")
        only_for = ((spec.get("conditions") or {}).get("label_condition") or {}).get("label")
        if only_for is not None:
            only_for = [only_for] if isinstance(only_for, str) else only_for
            if label not in only_for:
                fail_answer(where, f"applies only to labels {only_for}")
        values = value if spec.get("allow_multiple") and isinstance(value, list) else [value]
        for v in values:
            if v not in spec["choices"]:
                fail_answer(where, f"{v!r} is not one of {spec['choices']}")


def unique(values, *, field_name: str, what: str) -> None:
    seen = set()
    for i, v in enumerate(values):
        if v in seen:
            fail_params(f"{field_name}[{i}]", f"duplicate {what} {v!r}")
        seen.add(v)
