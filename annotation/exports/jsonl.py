"""JSON Lines, for every task type: one record per task, in task id order.

    {"task_id", "unique_id"?, "type", "status", "params", "metadata", "response", "confidence",
     "gold_answer"? (gold tasks), "preference"? (comparison tasks: [{"prompt","chosen","rejected"}]),
     "answers"? (include_answers: [{"annotator": "anon_…", "answer", "status"}])}

Generic: it knows no task type except that comparison tasks also carry their preference records
(``annotation.exports.preference``), so a new type exports without changes here.
"""

from __future__ import annotations

from annotation.exports import preference
from annotation.exports.common import LINE_BREAKS, json_line
from annotation.exports.common import encode as _dumps
from annotation.exports.source import RawJSON

EXTENSION = "jsonl"
CONTENT_TYPE = "application/x-ndjson"
SUPPORTED_TYPES = None  # every type
RAW_JSON = True  # the JSON columns arrive as their text and are copied into the line as they are


def _decoded(value):
    return value.decoded() if isinstance(value, RawJSON) else value


def record(task: dict, *, include_answers: bool, ranking_pairs: str = "adjacent") -> dict:
    """The record as a dict (``line`` writes the same record, parsed values or ``RawJSON`` alike)."""
    rec: dict = {"task_id": str(task["id"])}
    if task["unique_id"] is not None:
        rec["unique_id"] = task["unique_id"]
    rec.update(
        type=task["task_type"], status=task["status"], params=_decoded(task["params"]),
        metadata=_decoded(task["metadata"]), response=_decoded(task["response"]),
        confidence=task["confidence"],
    )  # fmt: skip
    if task["is_gold"]:
        rec["gold_answer"] = _decoded(task["gold_answer"])
    if task["task_type"] == "comparison":
        rec["preference"] = preference.pairs(rec["params"], rec["response"], ranking_pairs=ranking_pairs)
    if include_answers:
        rec["answers"] = [{**a, "answer": _decoded(a["answer"])} for a in task["answers"]]
    return rec


def _json(value) -> str:
    return value if type(value) is RawJSON else _dumps(value)


def line(task: dict, *, include_answers: bool, ranking_pairs: str = "adjacent") -> bytes:
    """One record and its newline, in ``record``'s key order. JSON that arrived as text
    (``RawJSON``) is copied, not decoded and encoded again; only a comparison task's params and
    response are decoded, for its preference pairs."""
    if task["task_type"] == "comparison":
        return json_line(record(task, include_answers=include_answers, ranking_pairs=ranking_pairs))
    parts = ['{"task_id":"', str(task["id"]), '"']
    if task["unique_id"] is not None:
        parts += [',"unique_id":', _dumps(task["unique_id"])]
    parts += [
        ',"type":', _dumps(task["task_type"]), ',"status":', _dumps(task["status"]),
        ',"params":', _json(task["params"]), ',"metadata":', _json(task["metadata"]),
        ',"response":', _json(task["response"]), ',"confidence":', _dumps(task["confidence"]),
    ]  # fmt: skip
    if task["is_gold"]:
        parts += [',"gold_answer":', _json(task["gold_answer"])]
    if include_answers:
        answers = [
            '{"annotator":' + _dumps(a["annotator"]) + ',"answer":' + _json(a["answer"])
            + ',"status":' + _dumps(a["status"]) + "}"
            for a in task["answers"]
        ]  # fmt: skip
        parts += [',"answers":[', ",".join(answers), "]"]
    parts.append("}\n")
    return "".join(parts).translate(LINE_BREAKS).encode()


def write(ctx, tasks, out, workdir) -> int:
    n = 0
    ranking_pairs = ctx.options.get("ranking_pairs", "adjacent")
    include_answers = ctx.include_answers
    for task in tasks:
        out.write(line(task, include_answers=include_answers, ranking_pairs=ranking_pairs))
        n += 1
    return n
