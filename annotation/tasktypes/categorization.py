"""``categorization``: pick one (or, with ``allow_multiple``, several) of the ``categories`` for an
attachment. Scale's legacy form; answer ``{"category": "red"}`` or ``{"category": ["red", …]}``.
Consensus: majority vote. Gold: exact match (multiple choice: Jaccard)."""

from __future__ import annotations

from typing import Any

from annotation import quality
from annotation.tasktypes._common import TaskTypeSpec, validate

PARAMS = {
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


def check_answer(params: dict, answer: Any) -> None:
    categories = params["categories"]
    if params.get("allow_multiple"):
        category = {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": categories}}
    else:
        category = {"enum": categories}
    schema = {
        "type": "object",
        "required": ["category"],
        "properties": {"category": category},
        "additionalProperties": False,
    }
    validate(schema, answer, what="answer", code="invalid_answer")


def aggregate(params: dict, answers: list) -> quality.Aggregate:
    categories = params["categories"]
    if params.get("allow_multiple"):
        return quality.majority_vote_multi([a["category"] for a in answers], order=categories, key="category")
    return quality.majority_vote([a["category"] for a in answers], order=categories, key="category")


def score_gold(params: dict, answer: dict, gold: dict) -> float:
    if params.get("allow_multiple"):
        return quality.score_jaccard(answer["category"], gold["category"])
    return quality.score_exact(answer["category"], gold["category"])


def example_answer(params: dict) -> dict:
    first = params["categories"][0]
    return {"category": [first]} if params.get("allow_multiple") else {"category": first}


SPEC = TaskTypeSpec(
    "categorization",
    PARAMS,
    check_answer,
    aggregate,
    example_answer,
    score_gold=score_gold,
    consensus="majority vote (multiple choice: each category chosen by more than half)",
)
