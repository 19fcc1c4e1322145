"""Scale v2 (GenAI) objects built from Quorum's: task, batch, project, delivery.

The v2 task is ``{task_id, project, batch?, status, created_at, completed_at?, metadata, threads,
errors?}``. ``threads`` is empty until the task is completed (as Scale documents); then a
completed task's response becomes one thread — or, when the response keeps every contributor's
free text (``"answers"``), one thread per answer — of one turn:

- the turn's messages are the conversation the task showed: the ``prompt`` (role ``user``) and
  each compared response (role ``assistant``, ``source_id`` = the response id) for
  ``comparison``; each text attachment (role ``user``) for ``textcollection``; the text
  attachment for ``categorization``;
- the turn's annotations are the response, typed as v2 annotations: pairwise ``choice`` →
  ``category`` (``selected_response_id``), ``strength`` → ``integer`` (``likert_value``),
  justifications → ``text``; ranking → ``ranked_choices``; text collection fields → ``text``,
  ``category`` / ``category_multiple``, ``integer`` (ratings and whole numbers) or ``text``
  (other numbers); categorization taxonomies → one ``category`` (or ``category_multiple``)
  annotation per question, the legacy ``category`` → ``category``.

Task types with no conversational form (geometry, LiDAR, video, NER) have empty threads in v2;
their response is in ``/v1/``. A task in ``error`` carries ``errors: [{message}]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from annotation.models import Batch, Project, Task, TaskType
from annotation.payloads import iso


def project_v2(project: Project) -> dict:
    return {
        "id": str(project.id),
        "name": project.name,
        "created_at": iso(project.created_at),
        "types": [project.task_type],
        "models": [],
    }


def batch_v2(batch: Batch, *, expand: Iterable[str] = ()) -> dict:
    return {
        "id": str(batch.id),
        "name": batch.name,
        "project": project_v2(batch.project) if "project" in expand else str(batch.project_id),
        "created_at": iso(batch.created_at),
        "completed_at": None,
        "status": batch.status,
        "callback": batch.callback_url or None,
        "metadata": batch.metadata or {},
    }


def task_v2(task: Task, *, expand: Iterable[str] = ()) -> dict:
    """Needs ``task.project`` and ``task.batch`` loaded."""
    body = {
        "task_id": str(task.id),
        "project": project_v2(task.project) if "project" in expand else str(task.project_id),
        "status": task.status,
        "created_at": iso(task.created_at),
        "metadata": task.metadata or {},
        "threads": threads(task) if task.status == Task.Status.COMPLETED else [],
    }
    if task.batch_id:
        body["batch"] = batch_v2(task.batch) if "batch" in expand else str(task.batch_id)
    if task.completed_at:
        body["completed_at"] = iso(task.completed_at)
    if task.status == Task.Status.ERROR:
        message = (task.response or {}).get("error") if isinstance(task.response, dict) else None
        body["errors"] = [{"message": message or "The task could not be served."}]
    return body


# --- threads ------------------------------------------------------------------------------------


def _message(role: str, text: str, source_id: str) -> dict:
    return {"role": role, "content": {"text": text}, "source_id": source_id, "annotations": []}


def messages(task: Task) -> list[dict]:
    params = task.params or {}
    if task.task_type == TaskType.COMPARISON:
        out = [_message("user", params.get("prompt", ""), "prompt")]
        out += [
            _message("assistant", r.get("text", ""), r.get("id", "")) for r in params.get("responses", [])
        ]
        return out
    if task.task_type == TaskType.TEXT_COLLECTION:
        return [
            _message("user", a.get("content", ""), f"attachment-{i}")
            for i, a in enumerate(params.get("attachments") or [])
            if a.get("type") == "text"
        ]
    if task.task_type == TaskType.CATEGORIZATION and params.get("attachment_type", "text") == "text":
        return [_message("user", params.get("attachment", ""), "attachment")]
    return []


def _annotation(task: Task, key: str, kind: str, value, **extra) -> dict:
    return {"id": f"{task.id}:{key}", "key": key, "type": kind, "value": value, **extra}


def annotations(task: Task, response: dict) -> list[dict] | None:
    """The v2 annotations of one response (or one answer); None for types without a v2 form."""
    params = task.params or {}
    if task.task_type == TaskType.COMPARISON:
        ids = [r.get("id") for r in params.get("responses", [])]
        if "ranking" in response:
            return [_annotation(task, "ranking", "ranked_choices", list(response["ranking"]))]
        out = [
            _annotation(task, "selected_response_id", "category", response.get("choice"), possible_values=ids)
        ]
        if isinstance(response.get("strength"), int):
            scale = params.get("likert_scale", 7)
            out.append(
                _annotation(
                    task,
                    "likert_value",
                    "integer",
                    response["strength"],
                    possible_values=list(range(1, scale + 1)),
                )
            )
        texts = response.get("justifications") or (
            [response["justification"]] if response.get("justification") else []
        )
        out += [
            _annotation(task, f"justification-{i}", "text", t)
            for i, t in enumerate(texts)
            if isinstance(t, str)
        ]
        return out
    if task.task_type == TaskType.TEXT_COLLECTION:
        fields = {f.get("field_id"): f for f in params.get("fields", [])}
        out = []
        for field_id, value in (response.get("annotations") or {}).items():
            spec = fields.get(field_id, {})
            title = {"title": spec["title"]} if isinstance(spec.get("title"), str) else {}
            if spec.get("type") == "category":
                many = (spec.get("max_choice") or 1) > 1
                values = value if isinstance(value, list) else [value]
                out.append(
                    _annotation(
                        task,
                        field_id,
                        "category_multiple" if many else "category",
                        values if many else (values[0] if values else None),
                        possible_values=list(spec.get("choices", [])),
                        **title,
                    )
                )
            elif isinstance(value, bool) or not isinstance(value, int | float):
                out.append(
                    _annotation(
                        task, field_id, "text", value if isinstance(value, str) else str(value), **title
                    )
                )
            elif isinstance(value, int) or float(value).is_integer():
                out.append(_annotation(task, field_id, "integer", int(value), **title))
            else:
                out.append(_annotation(task, field_id, "text", repr(value), **title))
        return out
    if task.task_type == TaskType.CATEGORIZATION:
        if "taxonomies" in response:
            out = []
            for key, values in response["taxonomies"].items():
                spec = (params.get("taxonomies") or {}).get(key, {})
                title = (
                    {"description": spec["description"]} if isinstance(spec.get("description"), str) else {}
                )
                if spec.get("allow_multiple"):
                    out.append(_annotation(task, key, "category_multiple", list(values), **title))
                else:
                    out.append(_annotation(task, key, "category", values[0] if values else None, **title))
            return out
        if "category" in response:
            value = response["category"]
            if isinstance(value, list):
                return [
                    _annotation(
                        task, "category", "category_multiple", value, possible_values=params.get("categories")
                    )
                ]
            return [
                _annotation(task, "category", "category", value, possible_values=params.get("categories"))
            ]
    return None


def threads(task: Task) -> list[dict]:
    response = task.response if isinstance(task.response, dict) else {}
    answers = response.get("answers") if isinstance(response.get("answers"), list) else None
    parts = answers if answers else [response]
    out = []
    for i, part in enumerate(parts):
        found = annotations(task, part if isinstance(part, dict) else {})
        if found is None:
            return []
        turn = {"id": f"{task.id}:turn-{i}", "messages": messages(task), "annotations": found}
        out.append({"id": f"{task.id}:thread-{i}", "turns": [turn], "annotations": []})
    return out


# --- deliveries ---------------------------------------------------------------------------------
# A delivery is one project's tasks completed on one UTC day: ``id`` "<project id>:<YYYY-MM-DD>",
# ``name`` the day. The day's delivery grows until midnight UTC, then it is final.


def delivery_id(project_id, day: date) -> str:
    return f"{project_id}:{day.isoformat()}"


def delivery_v2(
    project: Project, day: date, *, task_count: int, delivered_at, expand: Iterable[str] = ()
) -> dict:
    return {
        "id": delivery_id(project.id, day),
        "name": day.isoformat(),
        "task_count": task_count,
        "delivered_at": iso(delivered_at),
        "project": project_v2(project) if "project" in expand else str(project.id),
    }
