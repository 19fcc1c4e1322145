"""``namedentityrecognition``: labeled spans over a text.

Params: ``text``, ``labels: [str]``, optional ``allow_overlap`` (default false).
Answer ``{"annotations": [{start, end, label}]}``: ``end`` exclusive, offsets in Unicode code
points (Python string indices; a JavaScript tool counting UTF-16 units must convert), so the
span's text is ``text[start:end]``; non-empty, inside the text, no span twice, and without
``allow_overlap`` no two spans overlapping.

Gold: span-level F1 on exact (start, end, label). Consensus: span voting with quorum ⌈n/2⌉.
"""

from __future__ import annotations

import re
from typing import Any

from annotation import quality
from annotation.tasktypes._common import LABELS, NAME, TaskTypeSpec, check_label, fail_answer, validate

PARAMS = {
    "type": "object",
    "required": ["text", "labels"],
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 200000},
        "labels": LABELS,
        "allow_overlap": {"type": "boolean"},
    },
}
ANSWER = {
    "type": "object",
    "required": ["annotations"],
    "additionalProperties": False,
    "properties": {
        "annotations": {
            "type": "array",
            "maxItems": 10000,
            "items": {
                "type": "object",
                "required": ["start", "end", "label"],
                "additionalProperties": False,
                "properties": {
                    "start": {"type": "integer", "minimum": 0},
                    "end": {"type": "integer", "minimum": 1},
                    "label": NAME,
                },
            },
        }
    },
}


def check_answer(params: dict, answer: Any) -> None:
    validate(ANSWER, answer, what="answer", code="invalid_answer")
    labels, length = set(params["labels"]), len(params["text"])
    spans = answer["annotations"]
    seen: dict[tuple, int] = {}
    for i, span in enumerate(spans):
        where = f"annotations[{i}]"
        if span["end"] > length:
            fail_answer(f"{where}.end", f"{span['end']} is past the end of the text ({length} characters)")
        if span["start"] >= span["end"]:
            fail_answer(f"{where}.end", f"must be greater than start ({span['start']})")
        check_label(f"{where}.label", span["label"], labels)
        key = (span["start"], span["end"], span["label"])
        if key in seen:
            fail_answer(where, f"repeats annotations[{seen[key]}]")
        seen[key] = i
    if not params.get("allow_overlap"):
        ordered = sorted(range(len(spans)), key=lambda k: (spans[k]["start"], spans[k]["end"]))
        for a, b in zip(ordered, ordered[1:], strict=False):
            if spans[b]["start"] < spans[a]["end"]:
                fail_answer(f"annotations[{b}]", f"overlaps annotations[{a}] and allow_overlap is not set")


def aggregate(params: dict, answers: list) -> quality.Aggregate:
    return quality.span_vote(
        [a["annotations"] for a in answers], allow_overlap=bool(params.get("allow_overlap"))
    )


def score_gold(params: dict, answer: dict, gold: dict) -> float:
    return quality.score_spans(answer["annotations"], gold["annotations"])


def example_answer(params: dict) -> dict:
    """The first word (or the first character) labeled with the first label."""
    match = re.search(r"\w+", params["text"])
    start, end = (match.start(), match.end()) if match else (0, 1)
    return {"annotations": [{"start": start, "end": end, "label": params["labels"][0]}]}


SPEC = TaskTypeSpec(
    "namedentityrecognition",
    PARAMS,
    check_answer,
    aggregate,
    example_answer,
    score_gold=score_gold,
    consensus="span voting: exact spans marked by ⌈n/2⌉ annotators (overlaps resolved by votes unless "
    "allowed)",
)
