"""Tasks that cannot be served: the ``error`` state and its callback, as Scale has them.

Scale sets a task to ``error`` when its attachments cannot be downloaded or processed, calls the
task's ``callback_url`` with the error, and keeps the detail in ``task.response``::

    {"error": "One or more attachments could not be downloaded.",
     "attachments": [{"statusCode": 403, "url": "https://…/kitten.png"}]}

Quorum does the same in two cases:

- ``attachment_check``: the platform fetches an image task's attachment (through the SSRF guard,
  at most ``SNIFF_BYTES``) and reads its header. A definitive failure (a 4xx other than 408/429,
  a forbidden or invalid address, bytes that are not an image Quorum can read) errors the task;
  a transient one (5xx, timeout, DNS, connection) leaves it pending and is reported, since a
  flaky host today is no reason to fail work a client paid for.
- ``task_platform_cancel``: staff end a pending task the platform will not serve (abusive content,
  a broken source), with a reason; the client is told by the same error callback.

``task_error`` is the transition: lock (live leases by pk, then the task, the lock order of
``task_cancel``), pending → error, leases released at once, open reviews closed, committed spend
given back, an event, and the callback (``task.error``) written in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import default_storage

from annotation import storage
from annotation.lifecycle import complete
from annotation.models import Task, TaskType
from core import outbound
from core.errors import Conflict, NotFound, ValidationFailed
from core.transactions import after_commit

logger = logging.getLogger(__name__)

DOWNLOAD_ERROR = "One or more attachments could not be downloaded."
PROCESS_ERROR = "One or more attachments could not be processed."
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TRANSIENT_STATUSES = frozenset({408, 425, 429})


def task_error(*, task_id, response: dict, actor: Any, reason: str) -> Task:
    """pending → error with ``response`` (Scale's error object), calling the task back: the
    lifecycle's transition (``annotation.lifecycle.complete.fail``)."""
    return complete.fail(task_id=task_id, response=response, actor=actor, reason=reason)


def task_platform_cancel(*, task_id, actor: Any, reason: str) -> Task:
    """Staff: end a pending task the platform will not serve; the client gets the error callback."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: required", code="invalid_reason", details={"field": "reason"})
    return task_error(
        task_id=task_id,
        response={"error": f"The task was canceled by the platform: {reason}"},
        actor=actor,
        reason=reason,
    )


# --- the attachment check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentOutcome:
    """What the check found: ``ok``, ``error`` (the task was set to error), ``transient`` (left
    pending; try again later), or ``skipped`` (nothing to check: no image attachment, or the task
    is not pending)."""

    outcome: str
    detail: str = ""


def image_attachment(task: Task) -> str | None:
    """The attachment URL the platform checks: the image of an image task, else None. ``task`` is a
    Task or anything with its ``task_type`` and ``params`` (a bulk import's ``BulkItemResult``)."""
    params = task.params or {}
    url = params.get("attachment")
    if not isinstance(url, str) or not url:
        return None
    if task.task_type == TaskType.IMAGE_ANNOTATION:
        return url
    if task.task_type == TaskType.CATEGORIZATION and params.get("attachment_type") == "image":
        return url
    return None


def _local_head(url: str) -> tuple[int, bytes]:
    """A site-relative attachment (an upload under MEDIA_URL, a file under STATIC_URL): (HTTP-like
    status, first bytes)."""
    path = url.split("?", 1)[0]
    try:
        if path.startswith(settings.MEDIA_URL):
            name = path[len(settings.MEDIA_URL) :]
            if not name or not default_storage.exists(name):
                return 404, b""
            with default_storage.open(name, "rb") as f:
                return 200, f.read(storage.HEAD_BYTES)
        if path.startswith(settings.STATIC_URL):
            found = finders.find(path[len(settings.STATIC_URL) :])
            if not found:
                return 404, b""
            with open(found, "rb") as f:
                return 200, f.read(storage.HEAD_BYTES)
    except (OSError, ValueError, DjangoValidationError):
        return 404, b""
    return 404, b""


def _fetch_head(url: str) -> tuple[int | None, str, bytes]:
    """(status or None, error kind or "", first bytes)."""
    if url.startswith("/"):
        status, head = _local_head(url)
        return status, "", head
    result, head = outbound.get(url, max_bytes=storage.HEAD_BYTES, headers={"user-agent": "Quorum-Check/1.0"})
    kind = result.error.split(":", 1)[0] if result.error else ""
    return result.status_code, kind, head


def attachment_check(*, task_id, actor: Any = "system:attachment-check") -> AttachmentOutcome:
    """Fetch and decode a pending image task's attachment; set the task to error (Scale's shape,
    with its callback) when it definitively cannot be served. No transaction is open during the
    fetch."""
    try:
        task = Task.objects.get(pk=task_id)
    except (Task.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Task not found.") from exc
    url = image_attachment(task)
    if task.status != Task.Status.PENDING or url is None:
        return AttachmentOutcome("skipped")
    status, kind, head = _fetch_head(url)
    if status is None:
        if kind in ("forbidden_target", "invalid_url"):
            return _fail(task, actor, DOWNLOAD_ERROR, {"url": url, "statusCode": None, "message": kind})
        return AttachmentOutcome("transient", kind or "no response")
    if status in TRANSIENT_STATUSES or status >= 500:
        return AttachmentOutcome("transient", f"HTTP {status}")
    if not 200 <= status < 300:
        return _fail(task, actor, DOWNLOAD_ERROR, {"url": url, "statusCode": status})
    sniffed = storage.identify_head(head)
    if sniffed is None or sniffed.content_type not in IMAGE_TYPES:
        message = "not an image Quorum can read (PNG, JPEG, GIF or WebP)"
        return _fail(task, actor, PROCESS_ERROR, {"url": url, "statusCode": status, "message": message})
    if sniffed.width is None:
        message = f"{sniffed.content_type} whose size cannot be read (truncated or corrupt)"
        return _fail(task, actor, PROCESS_ERROR, {"url": url, "statusCode": status, "message": message})
    return AttachmentOutcome("ok", f"{sniffed.content_type} {sniffed.width}x{sniffed.height}")


def _fail(task: Task, actor: Any, message: str, attachment: dict) -> AttachmentOutcome:
    try:
        task_error(
            task_id=task.pk,
            response={"error": message, "attachments": [attachment]},
            actor=actor,
            reason="attachment check",
        )
    except Conflict:
        return AttachmentOutcome("skipped", "no longer pending")
    return AttachmentOutcome("error", message)


# Tasks per attachment-check message: a worker checks them one after another.
CHECK_CHUNK = 500


def attachment_checks_schedule(tasks) -> int:
    """After COMMIT, queue the attachment check of the new tasks that have an image attachment
    (``QUORUM_CHECK_ATTACHMENTS``, on by default). Returns how many were queued. ``tasks``: Tasks,
    or anything with their ``id``, ``task_type`` and ``params`` (``BulkItemResult``).

    One message per request: up to ``CHECK_CHUNK`` tasks go to ``check_attachments``, more to
    ``check_attachments_split``, whose worker queues them ``CHECK_CHUNK`` at a time (a 10,000-task
    import sending its twenty messages itself spent a measurable part of its request on them)."""
    if not settings.QUORUM_CHECK_ATTACHMENTS:
        return 0
    ids = [str(t.id) for t in tasks if image_attachment(t) is not None]
    if ids:  # queued by name: annotation.tasks imports the services
        name = "check_attachments" if len(ids) <= CHECK_CHUNK else "check_attachments_split"
        after_commit(current_app.send_task, f"annotation.tasks.{name}", args=[ids])
    return len(ids)
