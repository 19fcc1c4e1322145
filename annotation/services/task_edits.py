"""Edits of an existing task by its client: metadata, tags and ``unique_id``; and the client's
audit of a completed task.

Every service refuses bad input with a ``ValidationFailed`` that names the field before anything
changes, then locks the task row (``lifecycle.review.lock_task``; a task of another client, or
of the other mode, test / live, answers 404) and writes an event.

- Metadata, tags and ``unique_id`` change fields of the task (``save(update_fields=…)``).
- An audit does not edit the task's fields here: it adds a ``TaskAudit`` row (exposed as the
  task's ``audits``) and queues a callback to the task's ``callback_url``. A rejection
  (``accepted: false``) of a live task also sends it back for a rework round at the platform's
  cost, which the lifecycle does (``annotation.lifecycle.review.send_to_rework``: pending again
  with new slots); a rejection of a test-mode task is only recorded and called back.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.lifecycle import notify
from annotation.lifecycle.review import lock_task, send_to_rework
from annotation.models import Task, TaskAudit
from annotation.payloads import audit_payload, task_payload
from clients.models import Client
from core import events, limits, webhooks
from core.errors import Conflict, ValidationFailed
from core.models import WebhookDelivery

MAX_TAGS = 100
MAX_TAG_LENGTH = 200
MAX_UNIQUE_ID_LENGTH = 200
MAX_COMMENT_LENGTH = 10_000


def _touch(task: Task, fields: list[str]) -> None:
    task.updated_at = timezone.now()
    task.save(update_fields=[*fields, "updated_at"])


# --- metadata --------------------------------------------------------------------------------------


@transaction.atomic
def task_set_metadata(*, client: Client, actor: Any, task_id, metadata: Any, is_test: bool = False) -> Task:
    """Replace the task's metadata with ``metadata`` (an object)."""
    if not isinstance(metadata, dict):
        raise ValidationFailed(
            "metadata: must be an object", code="invalid_metadata", details={"field": "metadata"}
        )
    limits.check_metadata(metadata)
    task = lock_task(client=client, task_id=task_id, is_test=is_test)
    before = task.metadata
    task.metadata = metadata
    _touch(task, ["metadata"])
    events.record(
        actor=actor,
        entity=task,
        kind="task.metadata_set",
        before={"metadata": before},
        after={"metadata": metadata},
    )
    return task


# --- tags ------------------------------------------------------------------------------------------


def _clean_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list) or not all(
        isinstance(t, str) and 1 <= len(t) <= MAX_TAG_LENGTH for t in tags
    ):
        raise ValidationFailed(
            f"tags: must be a list of strings of 1 to {MAX_TAG_LENGTH} characters",
            code="invalid_tags",
            details={"field": "tags"},
        )
    return list(dict.fromkeys(tags))  # without repeats, in the order given


def _set_tags(task: Task, tags: list[str], *, actor: Any, kind: str) -> Task:
    if len(tags) > MAX_TAGS:
        raise ValidationFailed(
            f"tags: a task has at most {MAX_TAGS} tags", code="too_many_tags", details={"field": "tags"}
        )
    before = task.tags
    task.tags = tags
    _touch(task, ["tags"])
    events.record(actor=actor, entity=task, kind=kind, before={"tags": before}, after={"tags": tags})
    return task


@transaction.atomic
def task_set_tags(*, client: Client, actor: Any, task_id, tags: Any, is_test: bool = False) -> Task:
    """Replace the task's tags."""
    cleaned = _clean_tags(tags)
    task = lock_task(client=client, task_id=task_id, is_test=is_test)
    return _set_tags(task, cleaned, actor=actor, kind="task.tags_set")


@transaction.atomic
def task_add_tags(*, client: Client, actor: Any, task_id, tags: Any, is_test: bool = False) -> Task:
    """Add tags; tags the task already has are ignored."""
    cleaned = _clean_tags(tags)
    task = lock_task(client=client, task_id=task_id, is_test=is_test)
    return _set_tags(task, list(dict.fromkeys([*task.tags, *cleaned])), actor=actor, kind="task.tags_added")


@transaction.atomic
def task_remove_tags(*, client: Client, actor: Any, task_id, tags: Any, is_test: bool = False) -> Task:
    """Remove tags; tags the task does not have are ignored."""
    cleaned = set(_clean_tags(tags))
    task = lock_task(client=client, task_id=task_id, is_test=is_test)
    return _set_tags(task, [t for t in task.tags if t not in cleaned], actor=actor, kind="task.tags_removed")


# --- unique_id -------------------------------------------------------------------------------------


@transaction.atomic
def task_set_unique_id(*, client: Client, actor: Any, task_id, unique_id: Any, is_test: bool = False) -> Task:
    """Give the task a ``unique_id`` (unique per client and mode). One already used by another
    task answers 409 ``duplicate_unique_id`` and changes nothing; setting the current value is a no-op."""
    if not isinstance(unique_id, str) or not 1 <= len(unique_id) <= MAX_UNIQUE_ID_LENGTH:
        raise ValidationFailed(
            f"unique_id: must be a string of 1 to {MAX_UNIQUE_ID_LENGTH} characters",
            code="invalid_unique_id",
            details={"field": "unique_id"},
        )
    task = lock_task(client=client, task_id=task_id, is_test=is_test)
    if task.unique_id == unique_id:
        return task
    taken = (
        Task.objects.filter(client=client, is_test=is_test, unique_id=unique_id)
        .exclude(pk=task.pk)
        .values_list("pk", flat=True)
        .first()
    )
    if taken is not None:
        raise Conflict(
            f"unique_id {unique_id!r} is already used by task {taken}.",
            code="duplicate_unique_id",
            details={"field": "unique_id", "task_id": str(taken)},
        )
    before = task.unique_id
    task.unique_id = unique_id
    try:
        with transaction.atomic():
            _touch(task, ["unique_id"])
    except IntegrityError as exc:  # a concurrent request took it between the check and the write
        raise Conflict(
            f"unique_id {unique_id!r} is already used by another task.",
            code="duplicate_unique_id",
            details={"field": "unique_id"},
        ) from exc
    events.record(
        actor=actor,
        entity=task,
        kind="task.unique_id_set",
        before={"unique_id": before},
        after={"unique_id": unique_id},
    )
    return task


@transaction.atomic
def task_clear_unique_id(*, client: Client, actor: Any, task_id, is_test: bool = False) -> Task:
    """Remove the task's ``unique_id`` (so it can name a new task). Clearing none is a no-op."""
    task = lock_task(client=client, task_id=task_id, is_test=is_test)
    if task.unique_id is None:
        return task
    before = task.unique_id
    task.unique_id = None
    _touch(task, ["unique_id"])
    events.record(
        actor=actor,
        entity=task,
        kind="task.unique_id_cleared",
        before={"unique_id": before},
        after={"unique_id": None},
    )
    return task


# --- audit -----------------------------------------------------------------------------------------


def task_callback_body(task: Task, *, audits: list[TaskAudit]) -> dict:
    """A Scale-shaped callback body: ``{"task", "response", "task_id", "status"}``."""
    payload = {**task_payload(task), "audits": [audit_payload(a) for a in audits]}
    return {"task": payload, "response": task.response, "task_id": payload["task_id"], "status": task.status}


@transaction.atomic
def task_audit(
    *, client: Client, actor: Any, task_id, accepted: Any, comments: Any = None, is_test: bool = False
) -> TaskAudit:
    """Record the client's audit of a completed task, and call the task's ``callback_url`` back
    (one callback per audit). Only completed tasks can be audited (400 otherwise).

    A rejection of a live task sends it back for rework at the platform's cost: the task is
    pending again with a fresh round of ``project.overlap`` slots for annotators who have not
    worked on it (``UNIQUE(task, annotator)``); only that round's answers make the new response;
    the client is not charged again (the charge is keyed by task) and rework answers are paid as
    platform cost. The last delivered response stays visible until the rework completes.
    """
    if not isinstance(accepted, bool):
        raise ValidationFailed(
            "accepted: must be true or false", code="invalid_audit", details={"field": "accepted"}
        )
    if comments is not None and (not isinstance(comments, str) or len(comments) > MAX_COMMENT_LENGTH):
        raise ValidationFailed(
            f"comments: must be a string of at most {MAX_COMMENT_LENGTH} characters, or null",
            code="invalid_audit",
            details={"field": "comments"},
        )
    task = lock_task(client=client, task_id=task_id, is_test=is_test)
    if task.status != Task.Status.COMPLETED:
        raise ValidationFailed(
            f"Only completed tasks can be audited; this task is {task.status}.", code="task_not_completed"
        )
    audit = TaskAudit.objects.create(
        task=task,
        client=client,
        accepted=accepted,
        comments=comments or "",
        audited_by=events.actor_label(actor),
    )
    result = "accepted" if accepted else "rejected"
    event = events.record(
        actor=actor,
        entity=task,
        kind="task.audited",
        after={"audit_id": str(audit.id), "audit_result": result},
    )
    if not accepted and not task.is_test:
        send_to_rework(task, actor=actor)
    audits = list(TaskAudit.objects.filter(task=task).order_by("created_at", "id"))
    notify.task_event(
        task,
        event=event,
        extra={
            "audits": [audit_payload(a) for a in audits],
            "audit": {"audit_id": str(audit.id), **audit_payload(audit)},
        },
    )
    if task.callback_url:
        webhooks.delivery_enqueue(
            client=task.client,
            kind=WebhookDelivery.Kind.TASK_CALLBACK,
            event_type="task.audited",
            url=task.callback_url,
            payload=task_callback_body(task, audits=audits),
            dedupe_key=f"task:{task.id}:audit:{audit.id}:callback",
            is_test=task.is_test,
        )
    return audit
