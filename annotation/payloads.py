"""The task object as clients see it: in API responses and in callbacks (one shape for both).

Field names follow Scale's task object (docs/scale-compatibility.md §6) so migrated receivers keep working.
"""

from __future__ import annotations

from datetime import UTC, datetime

from annotation.models import Task


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and ``Z``, as Scale sends timestamps."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def task_payload(task: Task) -> dict:
    """Needs ``task.project`` and ``task.batch`` loaded (``select_related``) to avoid extra queries."""
    body = {
        "task_id": str(task.id),
        "type": task.task_type,
        "status": task.status,
        "project": task.project.name,
        "project_id": str(task.project_id),
        "batch": task.batch.name if task.batch_id else None,
        "batch_id": str(task.batch_id) if task.batch_id else None,
        "instruction": task.instruction,
        "params": task.params,
        "metadata": task.metadata,
        "tags": task.tags,
        "callback_url": task.callback_url,
        "priority": task.priority,
        "overlap": task.overlap,
        "answers_received": task.answers_received,
        "response": task.response,
        "confidence": task.confidence,
        "is_test": task.is_test,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "completed_at": iso(task.completed_at),
    }
    if task.unique_id is not None:
        body["unique_id"] = task.unique_id
    return body


def audit_payload(audit) -> dict:
    """One entry of the task's ``audits`` array (Scale's audit object; the client is the auditor)."""
    return {
        "audited_by": audit.audited_by,
        "audited_at": iso(audit.created_at),
        "audit_result": "accepted" if audit.accepted else "rejected",
        "audit_source": "customer",
        "comments": audit.comments or None,
    }
