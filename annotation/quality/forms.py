"""Forms of fields (``textcollection``): per-field gold scoring and per-field consensus.

``fields`` is the task's field list (``field_id``, ``type`` text | category | number | rating,
…); an answer is ``{field_id: value}`` (a category value is a list of choices)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from annotation.quality.categorical import Aggregate, majority_vote, majority_vote_multi, score_jaccard

SCORED = {"category", "number", "rating"}
NUMBER_TOLERANCE = 0.05  # a number within 5% of the median agrees with it (exactly, when the median is 0)


def rating_scale(field: dict) -> int:
    return int(field.get("scale", 5))


def _numbers_agree(value: float, target: float) -> bool:
    return math.isclose(value, target, rel_tol=NUMBER_TOLERANCE, abs_tol=1e-9)


def score_form(fields: Sequence[dict], answer: dict, gold: dict) -> float | None:
    """Mean over the category, number and rating fields the gold answer fills: category by
    Jaccard, number by exact value, rating by 1 − |a − g| / (scale − 1). Free text is not scored;
    None when nothing is scorable."""
    scores = []
    for field in fields:
        fid, kind = field["field_id"], field["type"]
        if kind not in SCORED or fid not in gold:
            continue
        if fid not in answer:
            scores.append(0.0)
        elif kind == "category":
            scores.append(score_jaccard(answer[fid], gold[fid]))
        elif kind == "number":
            scores.append(
                1.0
                if math.isclose(float(answer[fid]), float(gold[fid]), rel_tol=1e-9, abs_tol=1e-12)
                else 0.0
            )
        else:
            span = max(1, rating_scale(field) - 1)
            scores.append(max(0.0, 1.0 - abs(float(answer[fid]) - float(gold[fid])) / span))
    return sum(scores) / len(scores) if scores else None


def aggregate_form(fields: Sequence[dict], answers: Sequence[dict]) -> Aggregate:
    """Per field: category by majority (single choice: the most chosen; multiple: each choice
    more than half chose), rating by majority (ties: nearest the median), number by median. Free
    text has no automatic consensus: when any answer fills a text field the response also keeps
    every answer (``answers``) and the confidence is None, so the task goes to review.
    Otherwise confidence = mean over answered fields of the share agreeing with the result."""
    if not answers:
        raise ValueError("aggregate_form needs at least one answer")
    out, confidences, has_text = {}, [], False
    for field in fields:
        fid, kind = field["field_id"], field["type"]
        values = [a[fid] for a in answers if fid in a]
        if not values:
            continue
        if kind == "text":
            has_text = True
            continue
        if kind == "category":
            choices = list(field.get("choices") or [])
            if int(field.get("max_choice", 1)) == 1:
                result = majority_vote([v[0] if v else None for v in values], order=[*choices, None], key="v")
                out[fid] = [] if result.response["v"] is None else [result.response["v"]]
            else:
                result = majority_vote_multi(values, order=choices, key="v")
                out[fid] = result.response["v"]
            confidences.append(result.confidence)
        elif kind == "rating":
            median = statistics.median(values)
            result = majority_vote(
                values, order=sorted(set(values), key=lambda v: (abs(v - median), v)), key="v"
            )
            out[fid] = result.response["v"]
            confidences.append(result.confidence)
        elif kind == "number":
            median = statistics.median(sorted(values))
            out[fid] = median
            confidences.append(
                sum(1 for v in values if _numbers_agree(float(v), float(median))) / len(values)
            )
    if has_text:
        return Aggregate({"annotations": out, "answers": [{"annotations": a} for a in answers]}, None)
    return Aggregate({"annotations": out}, math.fsum(confidences) / len(confidences) if confidences else 1.0)
