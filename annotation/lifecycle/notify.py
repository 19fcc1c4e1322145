"""What the lifecycle tells clients besides a task's own callback: events to their webhook
endpoints (``core.events.WEBHOOK_EVENTS``) and the completion of a batch.

Task events. A Python path (``complete.complete``, ``complete.cancel``, the batch cancel, the
client audit) fans the event out to the client's subscribed endpoints in the transaction of the
change (``task_event``): the deliveries exist if and only if the change does. ``quorum_submit``
completes most tasks in SQL and writes the ``task.completed`` event row there; the database marks
such rows ``relay_pending`` and the endpoint relay (``relay_events``) fans them out and clears the
mark in one transaction. ``submit.submit`` queues the relay for its task after COMMIT (a worker
runs it: ``wake_after_sql_completion``, one message per process per short window); the beat
(``annotation.tasks.relay_events``) repeats it for a wake-up that was lost. Every fan-out is keyed
by the event row (``event:<id>:<endpoint id>``), so each endpoint gets one delivery per event
whichever path wrote it and however often the relay runs; a relay run skips the rows another
holds (``SKIP LOCKED``).

Batch completion. When the last task of a finalized batch finishes (completed, canceled or set to
error), the batch becomes ``completed``: the ``batch.completed`` event to the endpoints and, if
the batch has a ``callback_url``, Scale's batch callback (a POST of the batch object, signed like
task callbacks). It runs after the finishing transaction commits, in its own transaction that
locks the batch row first (``batch_try_complete``): a transaction holding a task lock never waits
for a batch lock (the batch controls lock the batch, then tasks), and of two final submits that
commit concurrently, the later check sees both tasks finished, while the batch row lock and the
status compare-and-set let only one complete it. The beat (``batches_complete_ready``, every 30 s)
completes batches whose after-commit check was lost. A batch cancelled by the client does not complete.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from annotation.models import Batch, Task
from annotation.payloads import iso, task_payload
from core import events, webhooks
from core.coalesce import Coalescer
from core.models import Event, WebhookDelivery
from core.transactions import after_commit

logger = logging.getLogger(__name__)

# The batch states that complete when their last task finishes (paused: its leases ran to the end).
OPEN_BATCH = (Batch.Status.IN_PROGRESS, Batch.Status.PAUSED)


def event_key(event: Event) -> str:
    """The fan-out's dedupe key for one event row (the endpoint id is appended per delivery)."""
    return f"event:{event.pk}"


def task_event(task: Task, *, event: Event, extra: dict | None = None) -> None:
    """Fan the task event ``event`` (just recorded) out to the client's endpoints subscribed to
    its kind. ``data`` is the task object (``payloads.task_payload``) plus ``extra``.
    Precondition: inside the transaction of the change; ``task.project`` and ``task.batch`` loaded."""
    webhooks.endpoint_event_enqueue(
        client=task.client,
        event_type=event.kind,
        payload={**task_payload(task), **(extra or {})},
        dedupe_key=event_key(event),
        is_test=task.is_test,
        at=event.created_at,
    )


def task_events_many(*, client_id, tasks: list[Task], events_by_task: dict, event_type: str) -> None:
    """``task_event`` for many tasks of one client (a batch cancel), inserted in bulk."""
    by_mode: dict[bool, list[tuple[str, dict]]] = {}
    for task in tasks:
        by_mode.setdefault(task.is_test, []).append((event_key(events_by_task[task.pk]), task_payload(task)))
    for is_test, items in by_mode.items():
        webhooks.endpoint_events_enqueue_many(
            client_id=client_id, event_type=event_type, items=items, is_test=is_test
        )


# -- the endpoint relay for events written in SQL --------------------------------------------------

RELAY_SQL = """
SELECT id FROM clients_event
 WHERE relay_pending AND kind = ANY(%(kinds)s) {task_filter}
 ORDER BY id
 LIMIT %(limit)s
   FOR UPDATE SKIP LOCKED
"""


@transaction.atomic
def relay_events(*, limit: int = 500, task_id=None) -> int:
    """Fan out events the SQL functions wrote (``core.events.RELAYED_EVENTS``) and clear their
    mark, in one transaction: a crash leaves both undone, a second run finds nothing (or rows
    another run holds, which it skips). ``task_id``: only that task's events (the after-commit
    wake-up of a submit). Returns how many events were relayed."""
    task_filter = "AND entity_type = 'task' AND entity_id = %(task)s" if task_id is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            RELAY_SQL.format(task_filter=task_filter),
            {"kinds": list(events.RELAYED_EVENTS), "limit": limit, "task": task_id},
        )
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return 0
    rows = list(Event.objects.filter(pk__in=ids).order_by("id"))
    tasks = {
        t.pk: t
        for t in Task.objects.select_related("project", "batch", "client").filter(
            pk__in=[e.entity_id for e in rows if e.entity_type == "task"]
        )
    }
    for event in rows:
        task = tasks.get(event.entity_id) if event.entity_type == "task" else None
        if task is not None:  # a task deleted since has nothing left to tell
            task_event(task, event=event)
    Event.objects.filter(pk__in=ids).update(relay_pending=False)
    return len(ids)


def _send_sql_completions(task_ids: list[str]) -> None:
    current_app.send_task("annotation.tasks.after_sql_completions", args=[task_ids])


# One message for the SQL completions of this process within QUORUM_COMPLETION_WAKE_WINDOW seconds
# (core/coalesce.py) instead of a broker message per completing submit.
sql_completions = Coalescer(
    _send_sql_completions,
    window=lambda: settings.QUORUM_COMPLETION_WAKE_WINDOW,
    name="after_sql_completions",
)


def wake_after_sql_completion(task_id) -> None:
    """After COMMIT of a submit that ``quorum_submit`` completed: queue ``after_sql_completions``
    for a worker, so the annotator's request runs no statement after its one. The wake-ups of one
    process within ``QUORUM_COMPLETION_WAKE_WINDOW`` (0.1 s by default; 0 sends each at once) go
    as one message naming every task. Queued by name (``annotation.tasks`` imports the services,
    which import this module). A lost wake-up is covered by the beat relays (``relay_events`` every
    5 s, ``complete_ready_batches`` every 30 s)."""
    sql_completions.add(str(task_id))


def after_sql_completion(task_id) -> None:
    """After COMMIT of a submit that ``quorum_submit`` completed: relay its ``task.completed`` and
    check its batch. Both repeat from the beat if this is lost."""
    after_sql_completions(task_ids=[task_id])


def after_sql_completions(task_ids) -> None:
    """``after_sql_completion`` for several tasks: their events relayed, each batch checked once."""
    for task_id in task_ids:
        relay_events(task_id=task_id, limit=10)
    batch_ids = set(
        Task.objects.filter(pk__in=task_ids, batch_id__isnull=False).values_list("batch_id", flat=True)
    )
    for batch_id in sorted(batch_ids, key=str):
        batch_try_complete(batch_id=batch_id)


# -- batch completion -------------------------------------------------------------------------------


def batch_payload(batch: Batch, counts: dict[str, int]) -> dict:
    """The batch object of the ``batch.completed`` event and of Scale's batch callback."""
    return {
        "batch_id": str(batch.id),
        "batch": batch.name,
        "project": batch.project.name,
        "project_id": str(batch.project_id),
        "status": batch.status,
        "callback": batch.callback_url,
        "metadata": batch.metadata,
        "created_at": iso(batch.created_at),
        "finalized_at": iso(batch.finalized_at),
        "completed_at": iso(batch.completed_at),
        "task_counts": counts,
    }


def task_finished(task: Task) -> None:
    """A task of a batch finished (completed, canceled or error): check the batch after COMMIT."""
    if task.batch_id is not None:
        after_commit(batch_try_complete, batch_id=task.batch_id)


@transaction.atomic
def batch_try_complete(*, batch_id, actor: Any = "system:batches") -> bool:
    """Complete an open, finalized batch none of whose tasks is pending any more (and which has
    at least one): status, event, endpoint fan-out and batch callback, at most once. Locks only
    the batch row (first). Returns whether this call completed it."""
    batch = (
        Batch.objects.select_for_update(of=("self",))
        .select_related("project", "client")
        .filter(pk=batch_id, status__in=OPEN_BATCH)
        .first()
    )
    if batch is None:
        return False
    tasks = Task.objects.filter(batch_id=batch.pk)
    # Two probes of task_batch_status_idx, whatever the batch's size.
    if tasks.filter(status=Task.Status.PENDING).exists() or not tasks.exists():
        return False
    counts = {row["status"]: row["n"] for row in tasks.values("status").annotate(n=Count("id"))}
    counts = {
        status: counts.get(status, 0)
        for status in (Task.Status.COMPLETED, Task.Status.CANCELED, Task.Status.ERROR)
    }
    before = batch.status
    now = timezone.now()
    batch.status, batch.completed_at = Batch.Status.COMPLETED, now
    batch.save(update_fields=["status", "completed_at"])
    event = events.record(
        actor=actor,
        entity=batch,
        kind="batch.completed",
        before={"status": before},
        after={"status": Batch.Status.COMPLETED, "task_counts": counts},
    )
    payload = batch_payload(batch, counts)
    webhooks.endpoint_event_enqueue(
        client=batch.client,
        event_type="batch.completed",
        payload=payload,
        dedupe_key=event_key(event),
        at=now,
    )
    if batch.callback_url:
        webhooks.delivery_enqueue(
            client=batch.client,
            kind=WebhookDelivery.Kind.BATCH_CALLBACK,
            event_type="batch.completed",
            url=batch.callback_url,
            payload=payload,
            dedupe_key=f"batch:{batch.pk}:completed:callback",
        )
    return True


def batches_complete_ready(*, limit: int = 200) -> int:
    """The beat's relay for batch completion: open batches with tasks, none pending (an
    after-commit check that was lost). Returns how many were completed."""
    pending = Task.objects.filter(batch_id=OuterRef("pk"), status=Task.Status.PENDING)
    any_task = Task.objects.filter(batch_id=OuterRef("pk"))
    ids = list(
        Batch.objects.filter(Q(status__in=OPEN_BATCH), Exists(any_task), ~Exists(pending))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for batch_id in ids:
        try:
            done += batch_try_complete(batch_id=batch_id)
        except Exception:
            logger.exception("batch completion failed for batch %s", batch_id)
    return done
