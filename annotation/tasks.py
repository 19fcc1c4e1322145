"""Celery tasks: thin, take ids, idempotent, scheduled with ``transaction.on_commit``."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import connections
from django.db.models import F

from annotation import services
from annotation.models import Task
from annotation.services.task_errors import CHECK_CHUNK

logger = logging.getLogger(__name__)


def _each(task_ids, service, what: str) -> None:
    """Run ``service`` per task; one task's failure is logged and does not stop the others."""
    for task_id in task_ids:
        try:
            service(task_id=task_id)
        except Exception:
            logger.exception("%s failed for task %s", what, task_id)


@shared_task
def expire_leases() -> int:
    """Beat: expire leases that ran out (batches of 1,000 until none is left)."""
    total = 0
    while True:
        n = services.leases_expire(limit=1000)
        total += n
        if n < 1000:
            return total


@shared_task
def task_try_complete(task_id: str) -> None:
    services.task_try_complete(task_id=task_id, actor="system:worker")


@shared_task
def complete_ready_tasks() -> int:
    """Beat, the relay for completion: tasks that hold all their answers but are still pending
    (a crash between steps) are completed here. Tasks waiting for a reviewer are not ready."""
    ids = list(
        Task.objects.filter(
            status=Task.Status.PENDING, in_review=False, answers_received__gte=F("overlap")
        ).values_list("id", flat=True)[:1000]
    )
    _each(
        ids,
        lambda task_id: services.task_try_complete(task_id=task_id, actor="system:worker"),
        "completion relay",
    )
    return len(ids)


@shared_task
def relay_events() -> int:
    """Beat, every 5 s: the endpoint relay (task events written in SQL whose after-commit wake-up
    was lost). Returns how many events it fanned out."""
    return services.events_relay(limit=500)


@shared_task
def after_sql_completions(task_ids: list[str]) -> None:
    """After submits that completed their tasks in SQL: relay those tasks' events to the clients'
    endpoints and check their batches (``annotation.lifecycle.notify``; one message per web process
    per ``QUORUM_COMPLETION_WAKE_WINDOW``). Idempotent; the beat relays repeat both if this is lost."""
    services.after_sql_completions(task_ids=task_ids)


@shared_task
def after_sql_completion(task_id: str) -> None:
    """The one-task form, kept for messages queued before an upgrade."""
    services.after_sql_completion(task_id=task_id)


@shared_task
def complete_ready_batches() -> int:
    """Beat, every 30 s: the batch-completion relay (finished batches whose after-commit check was
    lost). Returns how many batches it completed."""
    return services.batches_complete_ready(limit=200)


@shared_task
def check_attachments(task_ids: list[str]) -> None:
    """Fetch and decode new image tasks' attachments; a task whose attachment cannot be served is
    set to error with Scale's error callback (``services.attachment_check``)."""
    _each(task_ids, services.attachment_check, "attachment check")


@shared_task
def check_attachments_split(task_ids: list[str]) -> int:
    """A large import's attachment checks (one message from its request), queued
    ``CHECK_CHUNK`` tasks per message. Returns how many messages it queued."""
    for start in range(0, len(task_ids), CHECK_CHUNK):
        check_attachments.delay(task_ids[start : start + CHECK_CHUNK])
    return -(-len(task_ids) // CHECK_CHUNK)


@shared_task
def simulate_test_tasks(task_ids: list[str]) -> None:
    _each(task_ids, services.task_simulate_complete, "test-mode simulator")


@shared_task
def simulate_pending_test_tasks() -> int:
    """Beat: the relay for test mode, in case a simulate message was lost."""
    ids = list(
        Task.objects.filter(is_test=True, status=Task.Status.PENDING).values_list("id", flat=True)[:1000]
    )
    _each(ids, services.task_simulate_complete, "test-mode simulator")
    return len(ids)


@shared_task(
    name="annotation.tasks.export_run",
    time_limit=settings.QUORUM_EXPORT_TIME_LIMIT,
    soft_time_limit=max(settings.QUORUM_EXPORT_TIME_LIMIT - 30, 1),
)
def export_run(export_id: str) -> str | None:
    """Build an export's file (scheduled on commit, or by the relay). Idempotent: a job that is
    ready, failed, or held by a live attempt is left alone. Returns the job's status."""
    job = services.export_run(export_id=export_id)
    return job.status if job else None


@worker_ready.connect
def clean_export_workdirs(**kwargs) -> None:
    """A worker that starts removes the temporary export folders of attempts killed on its host."""
    try:
        services.exports_clean_workdirs()
    except Exception:  # never stop a worker from starting
        logger.exception("could not clean temporary export folders")
    finally:
        connections.close_all()


@shared_task
def relay_exports() -> int:
    """Beat, every 30 s: the relay for exports (lost wake-ups, attempts whose worker died)."""
    ids = services.exports_relay(limit=100)
    for export_id in ids:
        export_run.delay(str(export_id))
    return len(ids)
