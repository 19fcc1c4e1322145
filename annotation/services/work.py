"""Writes for annotators and their work: claim, fenced submit, skip, release, heartbeat, expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from annotation import assignment as engine
from annotation import tasktypes
from annotation.models import Annotator, Assignment, Submission, Task
from annotation.services import consensus, taxonomy_consensus, workforce
from annotation.services.tasks import _complete_if_ready, billing_work
from billing import services as billing
from clients import events
from clients.errors import Conflict
from clients.models import User

# --- annotators and their work -----------------------------------------------------------------------


@transaction.atomic
def annotator_create(
    *,
    user: User,
    actor: Any = None,
    active: bool = False,
    is_reviewer: bool = False,
    domains: list[str] | None = None,
) -> Annotator:
    if Annotator.objects.filter(user=user).exists():
        raise Conflict("This user is already an annotator.", code="annotator_exists")
    annotator = Annotator.objects.create(
        user=user,
        status=Annotator.Status.ACTIVE if active else Annotator.Status.APPLICANT,
        is_reviewer=is_reviewer,
        domains=domains or [],
    )
    events.record(
        actor=actor,
        entity=annotator,
        kind="annotator.created",
        after={"status": annotator.status},
        client_id=None,
    )
    return annotator


def assignment_claim(*, annotator: Annotator, project_id=None, resume: bool = True) -> engine.Claim | None:
    return engine.claim(annotator=annotator, project_id=project_id, resume=resume)


@transaction.atomic
def assignment_submit(
    *, annotator: Annotator, assignment_id, claim_version: int, answer: Any, now: datetime | None = None
) -> Submission:
    """Submit an answer under a live, current lease (the fence). A stale or expired claim answers
    409 and changes nothing; an invalid answer answers 400 and changes nothing.

    Quality control at submit: an answer faster than the project's minimum time is flagged, not
    counted and not paid (its slot returns to the pool; repeated flags suspend the annotator from
    the project); a gold answer is scored against the gold answer (the gold rule may remove the
    annotator); otherwise the answer is accepted and paid, and once the round has all its answers
    the consensus decides: one more answer, review, or completion (``consensus.settle``)."""
    now = now or timezone.now()
    assignment = engine.lock_live_assignment(
        annotator=annotator, assignment_id=assignment_id, claim_version=claim_version, now=now
    )
    task = assignment.task
    project = assignment.project
    params = task.params  # the effective params, fixed when the task was created
    tasktypes.check_answer(task.task_type, params, answer)
    duration_ms = max(0, int((now - assignment.claimed_at).total_seconds() * 1000))
    flagged = bool(project.min_answer_ms) and duration_ms < project.min_answer_ms
    moved = Assignment.objects.filter(
        pk=assignment.pk, status=Assignment.Status.ACTIVE, claim_version=claim_version
    ).update(status=Assignment.Status.REJECTED if flagged else Assignment.Status.SUBMITTED, finished_at=now)
    if not moved:  # unreachable while the row lock is held; kept as the compare-and-set guard
        raise Conflict("The lease changed while submitting.", code="stale_claim")
    gold_score = None
    if task.is_gold and not flagged:
        gold_score = tasktypes.score_gold(task.task_type, params, answer, task.gold_answer)
    submission = Submission.objects.create(
        assignment=assignment,
        task=task,
        annotator=annotator,
        answer=answer,
        duration_ms=duration_ms,
        created_at=now,
        status=Submission.Status.REJECTED if flagged else Submission.Status.ACCEPTED,
        flagged=flagged,
        round=task.rework_round,
        gold_score=gold_score,
    )
    # The counters move in SQL (never read-modify-write); RETURNING gives the current values, and
    # the row lock taken here is held until commit, so the completion below sees a stable task.
    # A flagged answer gives its slot back instead of counting.
    counter = "slots_taken = slots_taken - 1" if flagged else "answers_received = answers_received + 1"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE annotation_task SET {counter}, updated_at = %s WHERE id = %s RETURNING answers_received, slots_taken, overlap, status",
            [now, task.pk],
        )
        task.answers_received, task.slots_taken, task.overlap, task.status = cursor.fetchone()
    if task.status != Task.Status.PENDING:
        # Canceled (or completed) after the fence was checked: the UPDATE waited for that commit
        # and now sees it. Raising rolls back this whole submit.
        raise Conflict(f"The task is {task.status}.", code="task_not_pending")
    events.record(
        actor=f"user:{annotator.user_id}",
        entity=assignment,
        kind="assignment.flagged" if flagged else "assignment.submitted",
        before={"status": "active"},
        after={"status": "rejected" if flagged else "submitted", "duration_ms": duration_ms},
        client_id=task.client_id,
    )
    task.project = project
    delta = workforce.WorkerDelta()
    if flagged:
        delta.flags = 1
    elif gold_score is not None:
        delta.gold_answers, delta.gold_score = 1, float(gold_score)
        if consensus.is_single_choice(task.task_type, params):
            workforce.confusion_add(
                project_id=project.pk,
                pairs=[(annotator.pk, task.gold_answer["category"], answer["category"])],
            )
        taxonomy_consensus.gold_confusion_add(
            project_id=project.pk, annotator_id=annotator.pk, task=task, answer=answer
        )
    if flagged or gold_score is not None:
        workforce.workers_apply(project=project, deltas={annotator.pk: delta}, now=now)
    if not task.is_test and not flagged:
        # The annotator earns the pay the task was created with; gold work and rework after a
        # client's audit rejection are the platform's cost.
        billing.answer_pay(
            submission_id=submission.pk,
            user_id=annotator.user_id,
            client=task.client,
            amount=task.pay,
            work=billing_work(task),
            platform_cost=task.is_gold or task.rework_round > 0,
        )
    if not flagged:
        _complete_if_ready(task, actor="system:consensus", now=now)
    submission.task = task  # carries the task's status after this submit
    return submission


def assignment_skip(*, annotator: Annotator, assignment_id, claim_version: int) -> Assignment:
    """Give the task back and never be served it again (the assignment row stays, as skipped)."""
    return _give_back(
        annotator=annotator,
        assignment_id=assignment_id,
        claim_version=claim_version,
        status=Assignment.Status.SKIPPED,
    )


def assignment_release(*, annotator: Annotator, assignment_id, claim_version: int) -> Assignment:
    """Give the task back (e.g. the annotator is stopping for the day)."""
    return _give_back(
        annotator=annotator,
        assignment_id=assignment_id,
        claim_version=claim_version,
        status=Assignment.Status.RELEASED,
    )


@transaction.atomic
def _give_back(*, annotator: Annotator, assignment_id, claim_version: int, status: str) -> Assignment:
    now = timezone.now()
    assignment = engine.lock_live_assignment(
        annotator=annotator, assignment_id=assignment_id, claim_version=claim_version, now=now
    )
    engine.end_assignment(assignment=assignment, status=status, now=now, actor=f"user:{annotator.user_id}")
    assignment.status = status
    return assignment


def assignment_heartbeat(*, annotator: Annotator, assignment_id, claim_version: int) -> Assignment:
    return engine.heartbeat(annotator=annotator, assignment_id=assignment_id, claim_version=claim_version)


def leases_expire(*, limit: int = 1000) -> int:
    return engine.expire_leases(limit=limit)
