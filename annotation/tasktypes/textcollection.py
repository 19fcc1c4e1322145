"""``textcollection``: a form of fields about some attachments (SFT demonstrations, rewrites,
rubric ratings).

Params: ``attachments?: [{type, content}]``; ``fields: [{field_id, type, title, required?, …}]``
with per type: ``text`` (``max_length?``), ``category`` (``choices``, ``min_choice?`` default 1,
``max_choice?`` default 1), ``number`` (``min?``, ``max?``), ``rating`` (``scale?`` default 5,
``rubric?: [{score, description}]``).

Answer ``{"annotations": {field_id: value}}``: text a string, category a list of choices, number a
number, rating an integer 1..scale. Every ``required`` field must be there; unknown ids are refused.

Gold: mean over category (Jaccard), number (exact) and rating (1 − |Δ| / (scale − 1)) fields; free
text is not scored (None if nothing is scorable). Consensus: per field — category and rating by
majority, number by median; free text is kept with every answer and sent to review (confidence None).
"""

from __future__ import annotations

from typing import Any

from annotation import quality
from annotation.tasktypes._common import NAME, TaskTypeSpec, fail_answer, fail_params, unique, validate

FIELD_TYPES = ("text", "category", "number", "rating")
PARAMS = {
    "type": "object",
    "required": ["fields"],
    "properties": {
        "attachments": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["type", "content"],
                "properties": {
                    "type": {"enum": ["text", "image", "pdf", "video", "website", "audio"]},
                    "content": {"type": "string", "minLength": 1, "maxLength": 200000},
                },
            },
        },
        "fields": {
            "type": "array",
            "minItems": 1,
            "maxItems": 200,
            "items": {
                "type": "object",
                "required": ["field_id", "type", "title"],
                "additionalProperties": False,
                "properties": {
                    "field_id": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 100,
                        "pattern": r"^[A-Za-z0-9_.-]+$",
                    },
                    "type": {"enum": list(FIELD_TYPES)},
                    "title": {"type": "string", "minLength": 1, "maxLength": 2000},
                    "description": {"type": "string"},
                    "required": {"type": "boolean"},
                    "choices": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 500,
                        "uniqueItems": True,
                        "items": NAME,
                    },
                    "min_choice": {"type": "integer", "minimum": 0},
                    "max_choice": {"type": "integer", "minimum": 1},
                    "min": {"type": "number"},
                    "max": {"type": "number"},
                    "scale": {"type": "integer", "minimum": 2, "maximum": 100},
                    "rubric": {
                        "type": "array",
                        "maxItems": 100,
                        "items": {
                            "type": "object",
                            "required": ["score", "description"],
                            "properties": {"score": {"type": "integer"}, "description": {"type": "string"}},
                        },
                    },
                    "max_length": {"type": "integer", "minimum": 1, "maximum": 200000},
                },
            },
        },
    },
}


def check_params(params: dict) -> None:
    fields = params.get("fields") or []
    unique([f["field_id"] for f in fields], field_name="fields", what="field_id")
    for i, field in enumerate(fields):
        where, kind = f"fields[{i}]", field["type"]
        if kind == "category":
            if not field.get("choices"):
                fail_params(f"{where}.choices", "a category field needs choices")
            low, high = field.get("min_choice", 1), field.get("max_choice", 1)
            if not low <= high <= len(field["choices"]):
                fail_params(
                    f"{where}.max_choice", f"need min_choice ≤ max_choice ≤ {len(field['choices'])} choices"
                )
        if kind == "number" and "min" in field and "max" in field and field["min"] > field["max"]:
            fail_params(f"{where}.max", "must not be less than min")
        if kind == "rating":
            scale = quality.forms.rating_scale(field)
            for j, item in enumerate(field.get("rubric") or []):
                if not 1 <= item["score"] <= scale:
                    fail_params(f"{where}.rubric[{j}].score", f"must be between 1 and the scale, {scale}")


def _value_schema(field: dict) -> dict:
    kind = field["type"]
    if kind == "text":
        return {"type": "string", "maxLength": field.get("max_length", 200000)}
    if kind == "category":
        return {
            "type": "array",
            "items": {"enum": field["choices"]},
            "uniqueItems": True,
            "minItems": field.get("min_choice", 1),
            "maxItems": field.get("max_choice", 1),
        }
    if kind == "number":
        return (
            {"type": "number"}
            | ({"minimum": field["min"]} if "min" in field else {})
            | ({"maximum": field["max"]} if "max" in field else {})
        )
    return {"type": "integer", "minimum": 1, "maximum": quality.forms.rating_scale(field)}


def check_answer(params: dict, answer: Any) -> None:
    fields = params["fields"]
    schema = {
        "type": "object",
        "required": ["annotations"],
        "additionalProperties": False,
        "properties": {
            "annotations": {
                "type": "object",
                "additionalProperties": False,
                "required": [f["field_id"] for f in fields if f.get("required")],
                "properties": {f["field_id"]: _value_schema(f) for f in fields},
            }
        },
    }
    validate(schema, answer, what="answer", code="invalid_answer")
    for field in fields:
        value = answer["annotations"].get(field["field_id"])
        if field["type"] == "text" and field.get("required") and value is not None and not value.strip():
            fail_answer(f"annotations.{field['field_id']}", "required, and must not be blank")


def aggregate(params: dict, answers: list) -> quality.Aggregate:
    return quality.aggregate_form(params["fields"], [a["annotations"] for a in answers])


def score_gold(params: dict, answer: dict, gold: dict) -> float | None:
    return quality.score_form(params["fields"], answer["annotations"], gold["annotations"])


def example_answer(params: dict) -> dict:
    out: dict = {}
    for field in params["fields"]:
        kind = field["type"]
        if kind == "text":
            out[field["field_id"]] = "Simulated answer (test mode)."[: field.get("max_length", 200000)]
        elif kind == "category":
            out[field["field_id"]] = field["choices"][: max(1, field.get("min_choice", 1))]
        elif kind == "number":
            out[field["field_id"]] = field.get("min", min(0, field.get("max", 0)))
        else:
            out[field["field_id"]] = quality.forms.rating_scale(field)
    return {"annotations": out}


SPEC = TaskTypeSpec(
    "textcollection",
    PARAMS,
    check_answer,
    aggregate,
    example_answer,
    score_gold=score_gold,
    check_params=check_params,
    consensus="per field: category and rating by majority, number by median; free text to review "
    "(confidence None)",
)
