"""CSV for categorical task types, one row per task in task id order.

- ``categorization``: ``task_id, unique_id, status, attachment, category, confidence``; a
  multiple-choice answer (``allow_multiple``) is its categories joined with ``|``. A project
  whose params hold ``taxonomies`` has one column ``taxonomies.<key>`` per question instead of
  ``category`` (the chosen labels joined with ``|``; empty when the question was not asked); a
  taxonomies response in a project without them (each task carries its own) is written as JSON
  in the ``category`` column.
- ``textcollection``: ``task_id, unique_id, status, <field_id>…, confidence`` with one column
  per ``category`` field of the project's ``fields`` (a list answer joined with ``|``); other field
  types are not categorical and are left to the JSON Lines export.

With ``include_answers`` a last column ``answers`` holds the individual answers as JSON
(``[{"annotator": "anon_…", "answer", "status"}]``). An empty cell means no value (no response
yet). Categories containing ``|`` are written as they are; use JSON Lines when that matters.
"""

from __future__ import annotations

import csv
import io
import json

from annotation.exports.common import single_answer

EXTENSION = "csv"
CONTENT_TYPE = "text/csv"
SUPPORTED_TYPES = {"categorization", "textcollection"}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    return str(value)


def category_fields(project_params: dict) -> list[str]:
    return [
        f["field_id"] for f in (project_params or {}).get("fields") or []
        if isinstance(f, dict) and f.get("type") == "category" and isinstance(f.get("field_id"), str)
    ]  # fmt: skip


def taxonomy_keys(project_params: dict) -> list[str]:
    taxonomies = (project_params or {}).get("taxonomies")
    return list(taxonomies) if isinstance(taxonomies, dict) else []


def write(ctx, tasks, out, workdir) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    fields = category_fields(ctx.project_params) if ctx.task_type == "textcollection" else []
    questions = taxonomy_keys(ctx.project_params) if ctx.task_type == "categorization" else []
    header = ["task_id", "unique_id", "status"]
    if ctx.task_type == "textcollection":
        header += fields
    else:
        header += (
            ["attachment", *(f"taxonomies.{key}" for key in questions)]
            if questions
            else ["attachment", "category"]
        )
    header.append("confidence")
    if ctx.include_answers:
        header.append("answers")
    writer.writerow(header)
    n = 0
    for task in tasks:
        n += 1
        answer = single_answer(task["response"]) or {}
        row = [str(task["id"]), task["unique_id"] or "", task["status"]]
        if ctx.task_type == "textcollection":
            values = answer.get("annotations") if isinstance(answer.get("annotations"), dict) else {}
            row += [_cell(values.get(field)) for field in fields]
        elif questions:
            chosen = answer.get("taxonomies") if isinstance(answer.get("taxonomies"), dict) else {}
            row += [
                (task["params"] or {}).get("attachment", ""),
                *(_cell(chosen.get(key)) for key in questions),
            ]
        else:
            category = answer.get("category")
            if category is None and isinstance(answer.get("taxonomies"), dict):
                category = json.dumps(answer["taxonomies"], ensure_ascii=False, separators=(",", ":"))
            row += [(task["params"] or {}).get("attachment", ""), _cell(category)]
        row.append("" if task["confidence"] is None else repr(task["confidence"]))
        if ctx.include_answers:
            row.append(json.dumps(task["answers"], ensure_ascii=False, separators=(",", ":")))
        writer.writerow(row)
    text.detach()
    return n
