"""Shared pieces of the task types: the spec record, JSON Schema fragments, and errors that name
the offending field (``params.geometries.box.min_width``, ``annotations[0].label``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from annotation.quality import Aggregate
from clients.errors import ValidationFailed

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
# Scale's annotation attributes: {name: {type: "category", description?, choices, allow_multiple?, conditions?}}
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


def validate(schema: dict, value: Any, *, what: str, code: str, prefix: str = "") -> None:
    errors = sorted(
        Draft202012Validator(schema).iter_errors(value),
        key=lambda e: [(0, p, "") if isinstance(p, int) else (1, 0, p) for p in e.absolute_path],
    )
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
