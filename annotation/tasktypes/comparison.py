"""``comparison``: preferences between model responses to a prompt (RLHF data).

Params: ``prompt``, ``responses: [{id, text}]`` (at least 2, unique ids), ``mode``
``"pairwise"`` (exactly 2 responses) or ``"ranking"``, optional ``likert_scale`` (default 7) and
``require_justification``.

Answers: pairwise ``{"choice": <response id>, "strength": 1..likert_scale, "justification"}``
(``justification`` optional unless ``require_justification``, then a non-blank string); ranking
``{"ranking": [ids, best first], "justification"?}`` (a permutation of the response ids).

Gold: pairwise by exact choice; ranking by Kendall's tau mapped to [0, 1].
Consensus: pairwise by Bradley-Terry on the win matrix (for one task, the majority; ties to the
larger total strength), with the median strength and every justification; ranking by Borda count.
"""

from __future__ import annotations

from typing import Any

from annotation import quality
from annotation.tasktypes._common import TaskTypeSpec, fail_answer, fail_params, unique, validate

DEFAULT_LIKERT = 7
PARAMS = {
    "type": "object",
    "required": ["prompt", "responses", "mode"],
    "properties": {
        "prompt": {"type": "string", "minLength": 1, "maxLength": 200000},
        "responses": {
            "type": "array",
            "minItems": 2,
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["id", "text"],
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": 200},
                    "text": {"type": "string", "maxLength": 200000},
                },
            },
        },
        "mode": {"enum": ["pairwise", "ranking"]},
        "likert_scale": {"type": "integer", "minimum": 2, "maximum": 11},
        "require_justification": {"type": "boolean"},
    },
}
_JUSTIFICATION = {"type": "string", "maxLength": 20000}


def _ids(params: dict) -> list[str]:
    return [r["id"] for r in params["responses"]]


def check_params(params: dict) -> None:
    if "responses" in params:
        unique(_ids(params), field_name="responses", what="response id")
        if params.get("mode") == "pairwise" and len(params["responses"]) != 2:
            fail_params(
                "responses", f"pairwise mode compares exactly 2 responses (got {len(params['responses'])})"
            )


def check_answer(params: dict, answer: Any) -> None:
    ids = _ids(params)
    if params["mode"] == "pairwise":
        scale = params.get("likert_scale", DEFAULT_LIKERT)
        schema = {
            "type": "object",
            "required": ["choice", "strength"],
            "additionalProperties": False,
            "properties": {
                "choice": {"enum": ids},
                "strength": {"type": "integer", "minimum": 1, "maximum": scale},
                "justification": _JUSTIFICATION,
            },
        }
    else:
        schema = {
            "type": "object",
            "required": ["ranking"],
            "additionalProperties": False,
            "properties": {
                "ranking": {"type": "array", "items": {"enum": ids}},
                "justification": _JUSTIFICATION,
            },
        }
    if params.get("require_justification"):
        schema["required"] = [*schema["required"], "justification"]
    validate(schema, answer, what="answer", code="invalid_answer")
    if params.get("require_justification") and not answer["justification"].strip():
        fail_answer("justification", "required, and must not be blank")
    if params["mode"] == "ranking" and sorted(answer["ranking"]) != sorted(ids):
        missing, repeated = (
            set(ids) - set(answer["ranking"]),
            len(answer["ranking"]) != len(set(answer["ranking"])),
        )
        fail_answer(
            "ranking",
            "must rank every response exactly once"
            + (f"; missing {sorted(missing)}" if missing else "")
            + ("; an id repeats" if repeated else ""),
        )


def aggregate(params: dict, answers: list) -> quality.Aggregate:
    if params["mode"] == "ranking":
        return quality.borda_aggregate([a["ranking"] for a in answers], items=_ids(params))
    return quality.pairwise_aggregate(
        [a["choice"] for a in answers],
        [a["strength"] for a in answers],
        items=_ids(params),
        justifications=[a.get("justification", "") for a in answers],
    )


def score_gold(params: dict, answer: dict, gold: dict) -> float:
    if params["mode"] == "ranking":
        return quality.score_ranking(answer["ranking"], gold["ranking"])
    return quality.score_exact(answer["choice"], gold["choice"])


def example_answer(params: dict) -> dict:
    justification = {"justification": "Simulated answer (test mode)."}
    if params["mode"] == "ranking":
        return {"ranking": _ids(params)} | justification
    return {
        "choice": _ids(params)[0],
        "strength": (params.get("likert_scale", DEFAULT_LIKERT) + 1) // 2,
    } | justification


SPEC = TaskTypeSpec(
    "comparison",
    PARAMS,
    check_answer,
    aggregate,
    example_answer,
    score_gold=score_gold,
    check_params=check_params,
    consensus="pairwise: Bradley-Terry on the win matrix (majority for one task); ranking: Borda count",
)
