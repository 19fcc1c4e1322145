"""``categorization``, in Scale's two forms (a task has one or the other, never both):

- ``categories`` (the legacy form): pick one (or, with ``allow_multiple``, several) of the
  categories; answer ``{"category": "red"}`` or ``{"category": ["red", …]}``. Consensus: majority
  vote (or Dawid-Skene, per project). Gold: exact match (multiple choice: Jaccard).
- ``taxonomies`` (Scale's current form): several questions, each ``{type: "category",
  description?, choices: [str | {choice, subchoices}], allow_multiple?, condition?}``; answer and
  response ``{"taxonomies": {key: [label, …]}}`` (a list even for single choice, leaves only,
  conditional questions present exactly when shown). Consensus per question (majority, or
  Dawid-Skene per question); gold: the mean per-question score. See ``annotation.quality.taxonomies``.
"""

from __future__ import annotations

from typing import Any

from annotation import quality
from annotation.quality import taxonomies as tx
from annotation.tasktypes._common import NAME, TaskTypeSpec, fail_answer, fail_params, validate

KEY = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[^\x00-\x1f]+$"}
CHOICE_LABEL = {**NAME, "pattern": r"^[^\x00-\x1f]+$"}
PARAMS = {
    "type": "object",
    "required": ["attachment"],
    "$defs": {
        "choice": {
            "anyOf": [
                CHOICE_LABEL,
                {
                    "type": "object",
                    "required": ["choice"],
                    "properties": {
                        "choice": CHOICE_LABEL,
                        "subchoices": {"type": "array", "maxItems": 500, "items": {"$ref": "#/$defs/choice"}},
                        "display": {"type": "string", "maxLength": 500},
                    },
                    "additionalProperties": False,
                },
            ]
        },
    },
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
        "taxonomies": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 50,
            "propertyNames": KEY,
            "additionalProperties": {
                "type": "object",
                "required": ["type", "choices"],
                "properties": {
                    "type": {"const": "category"},
                    "description": {"type": "string", "maxLength": 5000},
                    "choices": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 500,
                        "items": {"$ref": "#/$defs/choice"},
                    },
                    "allow_multiple": {"type": "boolean"},
                    "condition": {
                        "type": "object",
                        "required": ["taxonomy", "choices"],
                        "properties": {
                            "taxonomy": KEY,
                            "choices": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 500,
                                "items": CHOICE_LABEL,
                            },
                        },
                        "additionalProperties": False,
                    },
                },
                "additionalProperties": False,
            },
        },
    },
}


def is_taxonomies(params: dict) -> bool:
    return "taxonomies" in params


def check_params(params: dict) -> None:
    """Partial (project) or complete params: the taxonomy rules a schema cannot say, and never
    both forms at once (a task's params are the project's overlaid with its own)."""
    if "taxonomies" in params and ("categories" in params or "allow_multiple" in params):
        key = "categories" if "categories" in params else "allow_multiple"
        fail_params(key, "give either taxonomies or categories (with allow_multiple), not both")
    if "taxonomies" in params:
        found = tx.problems(params["taxonomies"])
        if found:
            where, message = found[0]
            fail_params(f"taxonomies.{where}", message)


def check_complete_params(params: dict) -> None:
    if "taxonomies" not in params and "categories" not in params:
        fail_params("taxonomies", "required (or the legacy categories)")


def check_answer(params: dict, answer: Any) -> None:
    if is_taxonomies(params):
        found = tx.answer_problems(params["taxonomies"], answer)
        if found:
            fail_answer(*found[0])
        return
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
    if is_taxonomies(params):
        return tx.consensus(params["taxonomies"], [(i, a) for i, a in enumerate(answers)])
    categories = params["categories"]
    if params.get("allow_multiple"):
        return quality.majority_vote_multi([a["category"] for a in answers], order=categories, key="category")
    return quality.majority_vote([a["category"] for a in answers], order=categories, key="category")


def score_gold(params: dict, answer: dict, gold: dict) -> float:
    if is_taxonomies(params):
        return tx.score(params["taxonomies"], answer, gold)
    if params.get("allow_multiple"):
        return quality.score_jaccard(answer["category"], gold["category"])
    return quality.score_exact(answer["category"], gold["category"])


def example_answer(params: dict) -> dict:
    if is_taxonomies(params):
        return tx.example(params["taxonomies"])
    first = params["categories"][0]
    return {"category": [first]} if params.get("allow_multiple") else {"category": first}


SPEC = TaskTypeSpec(
    "categorization",
    PARAMS,
    check_answer,
    aggregate,
    example_answer,
    score_gold=score_gold,
    check_params=check_params,
    check_complete_params=check_complete_params,
    consensus="majority vote (multiple choice: each category chosen by more than half); "
    "taxonomies: the same per question, in dependency order",
)
