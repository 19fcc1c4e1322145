"""Task types: in one place per type, the schema of its ``params``, the schema of its answer,
and how several answers become one response.

A task's effective params are the project's params overlaid with the task's own (Scale puts
everything in the task; Quorum also lets a project hold the label schema once). Schemas are
JSON Schema (draft 2020-12) checked with ``jsonschema``; semantic rules a schema cannot say
(a label must be one of the project's classes, a box at least ``min_width`` wide) are checked in
Python. Every error names the offending field, e.g. ``annotations[0].width``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from annotation import quality
from clients.errors import ValidationFailed

_URL = {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": r"^(https?://|/)"}
_LABEL_DESCRIPTION = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": 200},
        {
            "type": "object",
            "required": ["choice"],
            "properties": {
                "choice": {"type": "string", "minLength": 1, "maxLength": 200},
                "display": {"type": "string"},
                "subchoices": {"type": "array"},
            },
        },
    ]
}

CATEGORIZATION_PARAMS = {
    "type": "object",
    "required": ["attachment", "categories"],
    "properties": {
        "attachment": {"type": "string", "minLength": 1, "maxLength": 20000},
        "attachment_type": {"enum": ["text", "image", "website", "video", "audio", "pdf"]},
        "categories": {
            "type": "array",
            "minItems": 2,
            "maxItems": 500,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        "allow_multiple": {"type": "boolean"},
    },
}

IMAGE_PARAMS = {
    "type": "object",
    "required": ["attachment", "geometries"],
    "properties": {
        "attachment": _URL,
        "attachment_type": {"const": "image"},
        "geometries": {
            "type": "object",
            "minProperties": 1,
            "properties": {
                "box": {
                    "type": "object",
                    "required": ["objects_to_annotate"],
                    "properties": {
                        "objects_to_annotate": {"type": "array", "minItems": 1, "maxItems": 500, "items": _LABEL_DESCRIPTION},
                        "min_width": {"type": "number", "minimum": 0},
                        "min_height": {"type": "number", "minimum": 0},
                        "can_rotate": {"const": False},
                        "integer_pixels": {"type": "boolean"},
                    },
                    "additionalProperties": False,
                }
            },
            "additionalProperties": False,
        },
        "annotation_attributes": {"type": "object"},
    },
}

IMAGE_ANSWER = {
    "type": "object",
    "required": ["annotations"],
    "properties": {
        "annotations": {
            "type": "array",
            "maxItems": 2000,
            "items": {
                "type": "object",
                "required": ["type", "label", "left", "top", "width", "height"],
                "properties": {
                    "type": {"const": "box"},
                    "label": {"type": "string", "minLength": 1},
                    "left": {"type": "number", "minimum": 0},
                    "top": {"type": "number", "minimum": 0},
                    "width": {"type": "number", "exclusiveMinimum": 0},
                    "height": {"type": "number", "exclusiveMinimum": 0},
                    "attributes": {"type": "object"},
                    "uuid": {"type": "string", "maxLength": 64},
                },
                "additionalProperties": False,
            },
        }
    },
    "additionalProperties": False,
}


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validate(schema: dict, value: Any, *, what: str, code: str, prefix: str = "") -> None:
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        field = _path([*filter(None, [prefix]), *error.absolute_path]) or what
        raise ValidationFailed(f"{field}: {error.message}", code=code, details={"field": field})


def _labels(descriptions: list) -> list[str]:
    return [d if isinstance(d, str) else d["choice"] for d in descriptions]


@dataclass(frozen=True)
class TaskTypeSpec:
    name: str
    params_schema: dict
    check_answer: Callable[[dict, Any], None]
    aggregate: Callable[[dict, list], quality.Aggregate]
    example_answer: Callable[[dict], dict]  # a schema-valid answer: the test-mode simulator's


# --- categorization ------------------------------------------------------------------------------


def _categorization_answer(params: dict, answer: Any) -> None:
    categories = params["categories"]
    if params.get("allow_multiple"):
        schema = {
            "type": "object",
            "required": ["category"],
            "properties": {"category": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": categories}}},
            "additionalProperties": False,
        }
    else:
        schema = {
            "type": "object",
            "required": ["category"],
            "properties": {"category": {"enum": categories}},
            "additionalProperties": False,
        }
    _validate(schema, answer, what="answer", code="invalid_answer")


def _categorization_aggregate(params: dict, answers: list) -> quality.Aggregate:
    categories = params["categories"]
    if params.get("allow_multiple"):
        return quality.majority_vote_multi([a["category"] for a in answers], order=categories, key="category")
    return quality.majority_vote([a["category"] for a in answers], order=categories, key="category")


def _categorization_example(params: dict) -> dict:
    first = params["categories"][0]
    return {"category": [first]} if params.get("allow_multiple") else {"category": first}


# --- imageannotation (box) -------------------------------------------------------------------------


def _image_answer(params: dict, answer: Any) -> None:
    _validate(IMAGE_ANSWER, answer, what="answer", code="invalid_answer")
    box = params["geometries"]["box"]
    labels = set(_labels(box["objects_to_annotate"]))
    min_w, min_h = box.get("min_width", 0), box.get("min_height", 0)
    for i, ann in enumerate(answer["annotations"]):
        if ann["label"] not in labels:
            raise ValidationFailed(
                f"annotations[{i}].label: {ann['label']!r} is not one of {sorted(labels)}",
                code="invalid_answer",
                details={"field": f"annotations[{i}].label"},
            )
        if ann["width"] < min_w or ann["height"] < min_h:
            raise ValidationFailed(
                f"annotations[{i}]: box {ann['width']}x{ann['height']} is smaller than the minimum {min_w}x{min_h}",
                code="invalid_answer",
                details={"field": f"annotations[{i}]"},
            )
        if box.get("integer_pixels") and any(float(ann[k]) != int(ann[k]) for k in ("left", "top", "width", "height")):
            raise ValidationFailed(
                f"annotations[{i}]: integer_pixels is set, coordinates must be whole numbers",
                code="invalid_answer",
                details={"field": f"annotations[{i}]"},
            )


def _image_aggregate(params: dict, answers: list) -> quality.Aggregate:
    return quality.collect_answers(answers)


def _image_example(params: dict) -> dict:
    box = params["geometries"]["box"]
    label = _labels(box["objects_to_annotate"])[0]
    side = max(float(box.get("min_width", 0)), float(box.get("min_height", 0)), 10.0)
    return {"annotations": [{"type": "box", "label": label, "left": 0, "top": 0, "width": side, "height": side}]}


TASK_TYPES: dict[str, TaskTypeSpec] = {
    "categorization": TaskTypeSpec(
        "categorization",
        CATEGORIZATION_PARAMS,
        _categorization_answer,
        _categorization_aggregate,
        _categorization_example,
    ),
    "imageannotation": TaskTypeSpec(
        "imageannotation", IMAGE_PARAMS, _image_answer, _image_aggregate, _image_example
    ),
}


def spec_for(task_type: str) -> TaskTypeSpec:
    try:
        return TASK_TYPES[task_type]
    except KeyError as exc:
        raise ValidationFailed(
            f"task_type: {task_type!r} is not supported; supported types: {', '.join(sorted(TASK_TYPES))}",
            code="unsupported_task_type",
        ) from exc


def effective_params(project_params: dict, task_params: dict | None) -> dict:
    return {**(project_params or {}), **(task_params or {})}


def check_params(task_type: str, params: Any, *, prefix: str = "params") -> None:
    spec = spec_for(task_type)
    if not isinstance(params, dict):
        raise ValidationFailed(f"{prefix}: must be an object", code="invalid_params", details={"field": prefix})
    _validate(spec.params_schema, params, what=prefix, code="invalid_params", prefix=prefix)


def check_project_params(task_type: str, params: Any) -> None:
    """A project's params are a partial schema: validate only the keys it sets."""
    spec = spec_for(task_type)
    if not isinstance(params, dict):
        raise ValidationFailed("params: must be an object", code="invalid_params", details={"field": "params"})
    partial = {**spec.params_schema, "required": []}
    _validate(partial, params, what="params", code="invalid_params", prefix="params")


def check_answer(task_type: str, params: dict, answer: Any) -> None:
    if not isinstance(answer, dict):
        raise ValidationFailed("answer: must be an object", code="invalid_answer", details={"field": "answer"})
    spec_for(task_type).check_answer(params, answer)


def aggregate(task_type: str, params: dict, answers: list) -> quality.Aggregate:
    return spec_for(task_type).aggregate(params, answers)


def example_answer(task_type: str, params: dict) -> dict:
    return spec_for(task_type).example_answer(params)
