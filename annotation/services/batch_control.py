"""Scale v2's batch controls and metadata merges: pause, resume, cancel; ``merge: true`` metadata.

- pause (``in_progress`` → ``paused``): the batch's pending tasks stop being served (``released``
  off); leases already taken run to their end, so nobody loses work in hand.
- resume (``paused`` → ``in_progress``): they are served again.
- cancel (``staging``, ``in_progress`` or ``paused`` → ``cancelled``): every pending task of the
  batch is canceled as ``task_cancel`` cancels one: its live leases are released at once and the
  committed spend of started tasks is given back; completed tasks stay completed (and charged).
  New tasks cannot be added to a cancelled batch.

Locks: the batch row first (as ``batch_finalize`` and task creation do), then the live leases of
its pending tasks in pk order, then the tasks in pk order: the order of ``task_cancel`` (leases,
then task), so a concurrent submit (lease, then task) cannot deadlock with it. A claim that took
a slot between the two is caught by a second, skip-locked pass, as in ``task_cancel``.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from annotation import assignment as engine
from annotation.models import Assignment, Batch, Review, Task
from billing import services as billing
from clients import events
from clients.errors import Conflict, NotFound, ValidationFailed
from clients.models import Client, Event


def _lock_batch(client: Client, batch_id) -> Batch:
    try:
        return (
            Batch.objects.select_for_update(of=("self",))
            .select_related("project")
            .get(client=client, pk=batch_id)
        )
    except (Batch.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Batch not found.") from exc


def _move(batch: Batch, *, actor: Any, to: str, allowed: tuple[str, ...], verb: str) -> str:
    if batch.status not in allowed:
        raise Conflict(f"A {batch.status} batch cannot be {verb}.", code="batch_state")
    before = batch.status
    batch.status = to
    batch.save(update_fields=["status"])
    events.record(
        actor=actor, entity=batch, kind=f"batch.{to}", before={"status": before}, after={"status": to}
    )
    return before


@transaction.atomic
def batch_pause(*, client: Client, actor: Any, batch_id) -> Batch:
    batch = _lock_batch(client, batch_id)
    if batch.status == Batch.Status.PAUSED:
        return batch
    _move(batch, actor=actor, to=Batch.Status.PAUSED, allowed=(Batch.Status.IN_PROGRESS,), verb="paused")
    Task.objects.filter(batch=batch, status=Task.Status.PENDING, released=True).update(
        released=False, updated_at=timezone.now()
    )
    return batch


@transaction.atomic
def batch_resume(*, client: Client, actor: Any, batch_id) -> Batch:
    batch = _lock_batch(client, batch_id)
    if batch.status == Batch.Status.IN_PROGRESS:
        return batch
    _move(batch, actor=actor, to=Batch.Status.IN_PROGRESS, allowed=(Batch.Status.PAUSED,), verb="resumed")
    Task.objects.filter(batch=batch, status=Task.Status.PENDING, is_test=False).update(
        released=True, updated_at=timezone.now()
    )
    return batch


@transaction.atomic
def batch_cancel(*, client: Client, actor: Any, batch_id) -> tuple[Batch, int]:
    """Returns the batch and how many tasks were canceled. Cancelling twice is a no-op."""
    batch = _lock_batch(client, batch_id)
    if batch.status == Batch.Status.CANCELLED:
        return batch, 0
    _move(
        batch,
        actor=actor,
        to=Batch.Status.CANCELLED,
        allowed=(Batch.Status.STAGING, Batch.Status.IN_PROGRESS, Batch.Status.PAUSED),
        verb="cancelled",
    )
    now = timezone.now()
    pending = Task.objects.filter(batch=batch, status=Task.Status.PENDING)
    live = Assignment.objects.filter(task__in=pending.values("pk"), status=Assignment.Status.ACTIVE).order_by(
        "pk"
    )
    leases = list(live.select_for_update(of=("self",)))
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
    Event.objects.bulk_create(
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
    seen = {a.pk for a in leases}
    # By id: the tasks are no longer pending here. A claim that took a slot before the tasks were
    # locked has committed by now (the task lock waited for it) and is caught by this second pass.
    late = Assignment.objects.filter(task_id__in=ids, status=Assignment.Status.ACTIVE).order_by("pk")
    leases += [a for a in late.select_for_update(skip_locked=True, of=("self",)) if a.pk not in seen]
    for assignment in leases:
        assignment.project = batch.project
        engine.end_assignment(assignment=assignment, status=Assignment.Status.RELEASED, now=now, actor=actor)
    return batch, len(ids)


def deep_merge(base: dict, changes: dict) -> dict:
    """``changes`` merged into a copy of ``base``: nested objects merge key by key, anything else
    (lists included) replaces."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_metadata(metadata: Any) -> None:
    if not isinstance(metadata, dict):
        raise ValidationFailed(
            "metadata: must be an object", code="invalid_metadata", details={"field": "metadata"}
        )


@transaction.atomic
def batch_merge_metadata(*, client: Client, actor: Any, batch_id, metadata: Any) -> Batch:
    """Deep-merge ``metadata`` into the batch's, under the row lock (no lost update)."""
    _check_metadata(metadata)
    batch = _lock_batch(client, batch_id)
    before = batch.metadata
    batch.metadata = deep_merge(batch.metadata or {}, metadata)
    batch.save(update_fields=["metadata"])
    events.record(
        actor=actor,
        entity=batch,
        kind="batch.metadata_set",
        before={"metadata": before},
        after={"metadata": batch.metadata},
    )
    return batch


@transaction.atomic
def task_merge_metadata(*, client: Client, actor: Any, task_id, metadata: Any, is_test: bool = False) -> Task:
    """Deep-merge ``metadata`` into the task's, under the row lock (no lost update)."""
    _check_metadata(metadata)
    try:
        task = (
            Task.objects.select_for_update(of=("self",))
            .select_related("project", "batch")
            .get(client=client, is_test=is_test, pk=task_id)
        )
    except (Task.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Task not found.") from exc
    before = task.metadata
    task.metadata = deep_merge(task.metadata or {}, metadata)
    task.updated_at = timezone.now()
    task.save(update_fields=["metadata", "updated_at"])
    events.record(
        actor=actor,
        entity=task,
        kind="task.metadata_set",
        before={"metadata": before},
        after={"metadata": task.metadata},
    )
    return task
