"""Completion and the other ends of a task: settle a round (one more answer, review, or complete),
complete (status, response, charge, callback), cancel, the test-mode simulator, and the batch
writes that start and replace work (release of a finalized batch, a project's recomputed results).

``quorum_submit`` completes single-choice categorization rounds itself (README.md in this folder);
everything else comes here, in the transaction that holds the task row lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation import tasktypes
from annotation.lifecycle import leases, notify
from annotation.lifecycle.consensus import _sampled, agreement_record, round_answers, task_consensus
from annotation.models import Assignment, Batch, Project, Review, Task
from annotation.payloads import task_payload
from billing import services as billing
from clients.models import Client
from core import events, webhooks
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import WebhookDelivery


def billing_work(task: Task) -> billing.Work:
    """What the ledger records about a task (``task.project`` loaded)."""
    return billing.Work(
        task_id=task.id, project_id=task.project_id, project_name=task.project.name, task_type=task.task_type
    )


def settle(task: Task, *, actor: Any, now: datetime) -> str:
    """All answers of the round are in: decide. Returns ``more`` (one more slot: confidence below
    the project's threshold and fewer answers than its max overlap), ``review`` (held for a
    reviewer: a sampled task or a low-confidence one, when the project reviews) or ``completed``.
    Precondition: the task row is locked, ``task.project`` loaded."""
    project = task.project
    answers = round_answers(task)
    result = task_consensus(task, project, answers)
    confidence = result.confidence
    low = confidence is None or confidence < project.confidence_threshold
    if confidence is not None and low and task.overlap - task.round_offset < project.max_overlap:
        Task.objects.filter(pk=task.pk).update(overlap=F("overlap") + 1, updated_at=now)
        task.overlap += 1
        events.record(
            actor=actor,
            entity=task,
            kind="task.overlap_extended",
            before={"overlap": task.overlap - 1},
            after={
                "overlap": task.overlap,
                "confidence": confidence,
                "threshold": project.confidence_threshold,
            },
        )
        return "more"
    if project.review_enabled and (low or _sampled(task, project.review_share)):
        reason = Review.Reason.LOW_CONFIDENCE if low else Review.Reason.SAMPLE
        review = Review.objects.create(
            task=task,
            project=project,
            round=task.rework_round,
            reason=reason,
            response=result.response,
            confidence=confidence,
            created_at=now,
        )
        Task.objects.filter(pk=task.pk).update(in_review=True, updated_at=now)
        task.in_review = True
        events.record(
            actor=actor,
            entity=task,
            kind="task.review_queued",
            after={"review": str(review.pk), "reason": reason, "confidence": confidence},
        )
        return "review"
    complete(task, response=result.response, confidence=confidence, now=now, actor=actor)
    if not task.is_test:
        agreement_record(task=task, project=project, answers=answers, response=result.response, now=now)
    return "completed"


def complete(task: Task, *, response: dict, confidence: float | None, now: datetime, actor: Any) -> None:
    """Mark a locked pending task completed, charge the client and queue its callback, atomically."""
    task.status, task.response, task.confidence, task.completed_at, task.updated_at = (
        Task.Status.COMPLETED,
        response,
        confidence,
        now,
        now,
    )
    task.save(update_fields=["status", "response", "confidence", "completed_at", "updated_at"])
    event = events.record(
        actor=actor,
        entity=task,
        kind="task.completed",
        before={"status": "pending"},
        after={"status": "completed", "confidence": confidence},
    )
    notify.task_event(task, event=event)
    notify.task_finished(task)
    if not task.is_test:
        billing.charge_task_completion(
            client=task.client, task_id=task.id, amount=task.price, work=billing_work(task)
        )
    _task_callback(
        task,
        event_type="task.completed",
        response=task.response,
        # A rework round (client audit rejection) delivers again, with its own callback.
        dedupe_key=f"task:{task.id}:completed:callback"
        + (f":round{task.rework_round}" if task.rework_round else ""),
    )


def _task_callback(task: Task, *, event_type: str, response, dedupe_key: str) -> None:
    """Queue Scale's task callback (``{task, response, task_id, status}``) to the task's
    ``callback_url``, if it has one, in the caller's transaction."""
    if not task.callback_url:
        return
    payload = task_payload(task)
    webhooks.delivery_enqueue(
        client=task.client,
        kind=WebhookDelivery.Kind.TASK_CALLBACK,
        event_type=event_type,
        url=task.callback_url,
        payload={"task": payload, "response": response, "task_id": payload["task_id"], "status": task.status},
        dedupe_key=dedupe_key,
        is_test=task.is_test,
    )


@transaction.atomic
def try_complete(*, task_id, actor: Any = None, now: datetime | None = None) -> Task | None:
    """Complete a pending task that has ``overlap`` accepted answers: aggregate, charge, call back.

    Idempotent: a completed task (or one still short of answers) is left as it is, so running
    this twice posts one ledger transaction and writes one callback row.
    """
    now = now or timezone.now()
    try:
        task = (
            Task.objects.select_for_update(of=("self",))
            .select_related("project", "client", "batch")
            .get(pk=task_id)
        )
    except Task.DoesNotExist:
        return None
    complete_if_ready(task, actor=actor, now=now)
    return task


def complete_if_ready(task: Task, *, actor: Any, now: datetime) -> str | None:
    """All answers of the round in: ask for one more, hold for review, or complete
    (``consensus.settle``). Gold tasks never complete; a task waiting for review waits.
    Precondition: ``task`` is locked by this transaction, its counters are current and
    ``task.project`` is loaded."""
    if (
        task.status != Task.Status.PENDING
        or task.is_gold
        or task.in_review
        or task.answers_received < task.overlap
    ):
        return None
    return settle(task, actor=actor, now=now)


@transaction.atomic
def simulate_complete(*, task_id) -> Task | None:
    """Test mode: complete a sandbox task with a schema-valid answer, never charged, never shown
    to a human. Idempotent."""
    try:
        task = (
            Task.objects.select_for_update(of=("self",))
            .select_related("project", "client", "batch")
            .get(pk=task_id, is_test=True)
        )
    except Task.DoesNotExist:
        return None
    if task.status != Task.Status.PENDING:
        return task
    params = task.params  # fixed at creation: a later change of the project's params does not apply
    answer = tasktypes.example_answer(task.task_type, params)
    tasktypes.check_answer(task.task_type, params, answer)
    result = tasktypes.aggregate(task.task_type, params, [answer] * task.overlap)
    complete(
        task,
        response=result.response,
        confidence=result.confidence,
        now=timezone.now(),
        actor="system:simulator",
    )
    return task


@transaction.atomic
def cancel(
    *, client: Client, actor: Any, task_id, is_test: bool = False, clear_unique_id: bool = False
) -> Task:
    """pending → canceled, releasing any live lease on it. Any other status answers 409
    ``task_not_pending`` and changes nothing.

    Lock order as everywhere else: the task's active assignments (by pk), then the task. A claim
    that slips in between cannot happen afterwards (the task row is locked, and the claim skips
    locked rows); one that got in before the task lock is caught by the second, skip-locked pass.
    """
    try:
        Task.objects.filter(client=client, is_test=is_test).only("pk").get(
            pk=task_id
        )  # another mode's task: 404
    except (Task.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Task not found.") from exc
    live = Assignment.objects.filter(task_id=task_id, status=Assignment.Status.ACTIVE).order_by("pk")
    held = list(live.select_for_update())
    task = Task.objects.select_for_update(of=("self",)).select_related("project", "batch").get(pk=task_id)
    if task.status != Task.Status.PENDING:
        raise Conflict(
            f"Only pending tasks can be canceled; this task is {task.status}.", code="task_not_pending"
        )
    now = timezone.now()
    task.status, task.released, task.updated_at = Task.Status.CANCELED, False, now
    fields = ["status", "released", "updated_at"]
    if clear_unique_id:
        task.unique_id = None
        fields.append("unique_id")
    task.save(update_fields=fields)
    event = events.record(
        actor=actor,
        entity=task,
        kind="task.canceled",
        before={"status": "pending"},
        after={"status": "canceled"},
    )
    notify.task_event(task, event=event)
    notify.task_finished(task)
    if task.spend_reserved:  # started, never to be charged: its committed spend comes back
        billing.spend_release(client_id=task.client_id, project_id=task.project_id, amount=task.price)
    # Whoever holds a lease on it is let go at once (not left waiting for the lease to run out).
    seen = {a.pk for a in held}
    held += [a for a in live.select_for_update(skip_locked=True) if a.pk not in seen]
    for assignment in held:
        assignment.project = task.project
        leases.end_assignment(assignment=assignment, status=Assignment.Status.RELEASED, now=now, actor=actor)
    return task


@transaction.atomic
def fail(*, task_id, response: dict, actor: Any, reason: str) -> Task:
    """pending → error with ``response`` (Scale's error object: ``{"error": message, …}``),
    calling the task back. A task that is no longer pending answers 409 ``task_not_pending`` and
    changes nothing (so a check that races a completion never overwrites it)."""
    if not isinstance(response, dict) or not isinstance(response.get("error"), str):
        raise ValidationFailed('response: must be {"error": message, …}', code="invalid_error")
    try:
        Task.objects.only("pk").get(pk=task_id)
    except (Task.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Task not found.") from exc
    live = Assignment.objects.filter(task_id=task_id, status=Assignment.Status.ACTIVE).order_by("pk")
    held = list(live.select_for_update())
    task = (
        Task.objects.select_for_update(of=("self",))
        .select_related("project", "batch", "client")
        .get(pk=task_id)
    )
    if task.status != Task.Status.PENDING:
        raise Conflict(
            f"Only pending tasks can be set to error; this task is {task.status}.", code="task_not_pending"
        )
    now = timezone.now()
    task.status, task.released, task.response, task.in_review, task.updated_at = (
        Task.Status.ERROR,
        False,
        response,
        False,
        now,
    )
    task.save(update_fields=["status", "released", "response", "in_review", "updated_at"])
    events.record(
        actor=actor,
        entity=task,
        kind="task.error",
        before={"status": "pending"},
        after={"status": "error", "reason": reason[:500], "error": response["error"]},
    )
    Review.objects.filter(task=task).exclude(status=Review.Status.DECIDED).update(
        status=Review.Status.DECIDED, decided_at=now, comment=f"task set to error: {reason}"[:2000]
    )
    notify.task_finished(task)
    if task.spend_reserved:  # started, never to be charged: its committed spend comes back
        billing.spend_release(client_id=task.client_id, project_id=task.project_id, amount=task.price)
    seen = {a.pk for a in held}
    held += [a for a in live.select_for_update(skip_locked=True) if a.pk not in seen]
    for assignment in held:
        assignment.project = task.project
        leases.end_assignment(assignment=assignment, status=Assignment.Status.RELEASED, now=now, actor=actor)
    _task_callback(
        task, event_type="task.error", response=response, dedupe_key=f"task:{task.id}:error:callback"
    )
    return task


def wake_delivery(delivery_id) -> None:
    """Wake a webhooks worker for an outbox row written by ``quorum_submit`` (after COMMIT)."""
    webhooks.wake_worker(delivery_id)


def release_batch(*, batch: Batch) -> int:
    """A finalized batch's pending live tasks start being served. Precondition: the batch row is
    locked (a concurrent bulk create then waits and sees it in progress). Returns how many."""
    return Task.objects.filter(batch=batch, status=Task.Status.PENDING, is_test=False).update(
        released=True, updated_at=timezone.now()
    )


def lock_completed_tasks(*, project: Project, exclude) -> list[Task]:
    """Lock a project's completed live tasks (not gold, not ``exclude``d ids) for a recompute of
    their results. Precondition: in a transaction."""
    return list(
        Task.objects.select_for_update()
        .filter(project=project, status=Task.Status.COMPLETED, is_test=False, is_gold=False)
        .exclude(pk__in=exclude)
        .order_by("id")
        .only(
            "id", "params", "task_type", "rework_round", "response", "confidence", "client_id", "project_id"
        )
    )


def replace_results(changed: Sequence[Task]) -> None:
    """Store recomputed responses and confidences (``Task(pk, response, confidence, updated_at)``)
    of tasks locked by ``lock_completed_tasks``."""
    Task.objects.bulk_update(changed, ["response", "confidence", "updated_at"], batch_size=1000)
