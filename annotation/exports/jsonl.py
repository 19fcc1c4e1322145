"""JSON Lines, for every task type: one record per task, in task id order.

    {"task_id", "unique_id"?, "type", "status", "params", "metadata", "response", "confidence",
     "gold_answer"? (gold tasks), "preference"? (comparison tasks: [{"prompt","chosen","rejected"}]),
     "answers"? (include_answers: [{"annotator": "anon_…", "answer", "status"}])}

Generic: it knows no task type except that comparison tasks also carry their preference records
(``annotation.exports.preference``), so a new type exports without changes here.
"""

from __future__ import annotations

from annotation.exports import preference
from annotation.exports.common import json_line

EXTENSION = "jsonl"
CONTENT_TYPE = "application/x-ndjson"
SUPPORTED_TYPES = None  # every type


def record(task: dict, *, include_answers: bool, ranking_pairs: str = "adjacent") -> dict:
    rec: dict = {"task_id": str(task["id"])}
    if task["unique_id"] is not None:
        rec["unique_id"] = task["unique_id"]
    rec.update(
        type=task["task_type"], status=task["status"], params=task["params"], metadata=task["metadata"],
        response=task["response"], confidence=task["confidence"],
    )  # fmt: skip
    if task["is_gold"]:
        rec["gold_answer"] = task["gold_answer"]
    if task["task_type"] == "comparison":
        rec["preference"] = preference.pairs(task["params"], task["response"], ranking_pairs=ranking_pairs)
    if include_answers:
        rec["answers"] = task["answers"]
    return rec


def write(ctx, tasks, out, workdir) -> int:
    n = 0
    ranking_pairs = ctx.options.get("ranking_pairs", "adjacent")
    for task in tasks:
        out.write(json_line(record(task, include_answers=ctx.include_answers, ranking_pairs=ranking_pairs)))
        n += 1
    return n
