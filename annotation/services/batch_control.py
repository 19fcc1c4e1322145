"""Scale v2's batch controls and metadata merges: pause, resume, cancel; ``merge: true`` metadata.

- pause (``in_progress`` → ``paused``): the batch's pending tasks stop being served (``released``
  off); leases already taken run to their end, so nobody loses work in hand.
- resume (``paused`` → ``in_progress``): they are served again.
- cancel (``staging``, ``in_progress`` or ``paused`` → ``cancelled``): every pending task of the
  batch is canceled as ``task_cancel`` cancels one: its live leases are released at once and the
  committed spend of started tasks is given back; completed tasks stay completed (and charged).
  New tasks cannot be added to a cancelled batch.

Locks: the batch row first (as ``batch_finalize`` and task creation do); the tasks' side is the
lifecycle's (``annotation.lifecycle.batches``, which gives its lock order).
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from annotation.lifecycle import batches, complete, review
from annotation.models import Batch, Task
from clients.models import Client
from core import events
from core.errors import Conflict, NotFound, ValidationFailed


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
    batches.hold_batch(batch=batch)
    return batch


@transaction.atomic
def batch_resume(*, client: Client, actor: Any, batch_id) -> Batch:
    batch = _lock_batch(client, batch_id)
    if batch.status == Batch.Status.IN_PROGRESS:
        return batch
    _move(batch, actor=actor, to=Batch.Status.IN_PROGRESS, allowed=(Batch.Status.PAUSED,), verb="resumed")
    complete.release_batch(batch=batch)
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
    canceled = batches.cancel_batch_tasks(batch=batch, actor=actor)
    return batch, canceled


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
    task = review.lock_task(client=client, task_id=task_id, is_test=is_test)
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
