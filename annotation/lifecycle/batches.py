"""The task side of batch controls: holding a paused batch's tasks back, and cancelling every
pending task of a cancelled batch (``annotation.services.batch_control`` moves the batch itself).

Locks, after the caller's batch row lock: the live leases of the batch's pending tasks in pk
order, then the tasks in pk order — the order of ``complete.cancel`` (leases, then task), so a
concurrent submit (lease, then task) cannot deadlock with it. A claim that took a slot between
the two is caught by a second, skip-locked pass, as in ``complete.cancel``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Sum
from django.utils import timezone

from annotation.lifecycle import leases, notify
from annotation.models import Assignment, Batch, Review, Task
from billing import services as billing
from core import events
from core.models import Event


def hold_batch(*, batch: Batch) -> int:
    """A paused batch's pending tasks stop being served; leases already taken run to their end.
    Precondition: the batch row is locked. Returns how many tasks were held back."""
    return Task.objects.filter(batch=batch, status=Task.Status.PENDING, released=True).update(
        released=False, updated_at=timezone.now()
    )


def cancel_batch_tasks(*, batch: Batch, actor: Any) -> int:
    """Cancel every pending task of the batch as ``complete.cancel`` cancels one: live leases
    released at once, open reviews closed, committed spend of started tasks given back, an event
    per task. Precondition: the batch row is locked. Returns how many tasks were canceled."""
    now = timezone.now()
    pending = Task.objects.filter(batch=batch, status=Task.Status.PENDING)
    live = Assignment.objects.filter(task__in=pending.values("pk"), status=Assignment.Status.ACTIVE).order_by(
        "pk"
    )
    held = list(live.select_for_update(of=("self",)))
    ids = list(pending.order_by("pk").select_for_update(of=("self",)).values_list("pk", flat=True))
    # Started tasks' committed spend comes back, per project (a batch has one project).
    reserved = (
        Task.objects.filter(pk__in=ids, spend_reserved=True).aggregate(total=Sum("price"))["total"] or 0
    )
    Task.objects.filter(pk__in=ids).update(
        status=Task.Status.CANCELED, released=False, in_review=False, updated_at=now
    )
    Review.objects.filter(task_id__in=ids).exclude(status=Review.Status.DECIDED).update(
        status=Review.Status.DECIDED, decided_at=now, comment="batch cancelled"
    )
    if reserved:
        billing.spend_release(client_id=batch.client_id, project_id=batch.project_id, amount=reserved)
    written = Event.objects.bulk_create(
        [
            events.build(
                actor=actor,
                entity_type="task",
                entity_id=task_id,
                kind="task.canceled",
                client_id=batch.client_id,
                before={"status": "pending"},
                after={"status": "canceled", "batch": str(batch.pk)},
            )
            for task_id in ids
        ],
        batch_size=2000,
    )
    # Each canceled task's task.canceled to the client's endpoints, in this transaction.
    by_task = {event.entity_id: event for event in written}
    for start in range(0, len(ids), 2000):
        chunk = list(Task.objects.select_related("project", "batch").filter(pk__in=ids[start : start + 2000]))
        notify.task_events_many(
            client_id=batch.client_id, tasks=chunk, events_by_task=by_task, event_type="task.canceled"
        )
    seen = {a.pk for a in held}
    # By id: the tasks are no longer pending here. A claim that took a slot before the tasks were
    # locked has committed by now (the task lock waited for it) and is caught by this second pass.
    late = Assignment.objects.filter(task_id__in=ids, status=Assignment.Status.ACTIVE).order_by("pk")
    held += [a for a in late.select_for_update(skip_locked=True, of=("self",)) if a.pk not in seen]
    for assignment in held:
        assignment.project = batch.project
        leases.end_assignment(assignment=assignment, status=Assignment.Status.RELEASED, now=now, actor=actor)
    return len(ids)
