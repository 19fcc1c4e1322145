"""Review and rework: reviewers (annotators with the reviewer role) take tasks held for review
(``complete.settle``) and give a verdict — accept (the consensus is delivered), fix (the corrected
answer replaces the response) or reject (the round's answers are rejected and not paid; the task
returns to the pool); and a client's audit rejection sends a completed task back for a new round.
Also the task row lock that client-side edits of a task take (``lock_task``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from annotation import tasktypes
from annotation.lifecycle.complete import complete
from annotation.lifecycle.consensus import agreement_record, round_answers
from annotation.models import Annotator, Assignment, Review, Submission, Task
from billing import services as billing
from clients.models import Client
from core import events
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

MAX_COMMENT = 2000

REVIEW_CLAIM_SQL = """
SELECT r.id
  FROM annotation_review r
 WHERE (r.status = 'open' OR (r.status = 'assigned' AND r.leased_until <= %(now)s))
   AND NOT EXISTS (
       SELECT 1 FROM annotation_submission s WHERE s.task_id = r.task_id AND s.annotator_id = %(annotator_id)s
   )
 ORDER BY r.created_at
 LIMIT 1
   FOR UPDATE OF r SKIP LOCKED
"""


def _reviewer(annotator: Annotator) -> Annotator:
    locked = Annotator.objects.select_for_update(no_key=True).get(pk=annotator.pk)
    if not locked.is_reviewer or locked.status != Annotator.Status.ACTIVE:
        raise PermissionDenied(
            "Only active annotators with the reviewer role can review.", code="not_reviewer"
        )
    return locked


@transaction.atomic
def review_next(*, reviewer: Annotator, now: datetime | None = None) -> Review | None:
    """The reviewer's live review, else the oldest open one (or one whose reviewer's lease ran
    out) that they did not answer themselves. None when the queue is empty."""
    now = now or timezone.now()
    reviewer = _reviewer(reviewer)
    live = (
        Review.objects.filter(reviewer=reviewer, status=Review.Status.ASSIGNED, leased_until__gt=now)
        .order_by("created_at")
        .first()
    )
    if live is not None:
        return live
    with connection.cursor() as cursor:
        cursor.execute(REVIEW_CLAIM_SQL, {"now": now, "annotator_id": reviewer.pk})
        row = cursor.fetchone()
    if row is None:
        return None
    review = Review.objects.get(pk=row[0])
    review.status, review.reviewer, review.leased_until = (
        Review.Status.ASSIGNED,
        reviewer,
        now + timedelta(seconds=settings.QUORUM_REVIEW_LEASE_SECONDS),
    )
    review.save(update_fields=["status", "reviewer", "leased_until"])
    events.record(
        actor=f"user:{reviewer.user_id}",
        entity=review,
        kind="review.assigned",
        after={"task": str(review.task_id), "leased_until": review.leased_until.isoformat()},
        client_id=None,
    )
    return review


def review_answers(*, review: Review) -> list[dict]:
    """The answers under review, anonymised for the reviewer (numbered, no annotator ids)."""
    rows = Submission.objects.filter(
        task_id=review.task_id, round=review.round, status=Submission.Status.ACCEPTED
    ).order_by("created_at", "id")
    return [{"number": i + 1, "answer": s.answer, "duration_ms": s.duration_ms} for i, s in enumerate(rows)]


@transaction.atomic
def review_decide(
    *,
    reviewer: Annotator,
    review_id,
    verdict: Any,
    corrected_answer: Any = None,
    comment: Any = "",
    now: datetime | None = None,
) -> Review:
    """Decide a review the reviewer holds. 400 for a bad verdict or corrected answer, 404 for a
    review that is not theirs, 409 when their lease on it ran out or the task changed."""
    now = now or timezone.now()
    if verdict not in Review.Verdict.values:
        raise ValidationFailed(
            f"verdict: must be one of {', '.join(Review.Verdict.values)}",
            code="invalid_verdict",
            details={"field": "verdict"},
        )
    comment = comment or ""
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise ValidationFailed(
            f"comment: must be a string of at most {MAX_COMMENT} characters",
            code="invalid_verdict",
            details={"field": "comment"},
        )
    if verdict != Review.Verdict.FIX and corrected_answer is not None:
        raise ValidationFailed(
            "corrected_answer: only with the verdict fix",
            code="invalid_verdict",
            details={"field": "corrected_answer"},
        )
    reviewer = _reviewer(reviewer)
    try:
        review = Review.objects.select_for_update().get(pk=review_id, reviewer=reviewer)
    except (ObjectDoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Review not found.") from exc
    if review.status != Review.Status.ASSIGNED:
        raise Conflict(f"This review is {review.status}.", code="review_closed")
    if review.leased_until <= now:
        raise Conflict(
            "Your lease on this review expired; it may have gone to another reviewer.", code="lease_expired"
        )
    task = (
        Task.objects.select_for_update(of=("self",))
        .select_related("project", "client", "batch")
        .get(pk=review.task_id)
    )
    if task.status != Task.Status.PENDING or not task.in_review:
        raise Conflict(f"The task is {task.status}.", code="task_not_pending")
    if verdict == Review.Verdict.FIX:
        if corrected_answer is None:
            raise ValidationFailed(
                "corrected_answer: required with the verdict fix",
                code="invalid_verdict",
                details={"field": "corrected_answer"},
            )
        tasktypes.check_answer(task.task_type, task.params, corrected_answer)
    review.status, review.verdict, review.corrected_answer, review.comment, review.decided_at = (
        Review.Status.DECIDED,
        verdict,
        corrected_answer,
        comment,
        now,
    )
    review.save(update_fields=["status", "verdict", "corrected_answer", "comment", "decided_at"])
    Task.objects.filter(pk=task.pk).update(in_review=False, updated_at=now)
    task.in_review = False
    actor = f"user:{reviewer.user_id}"
    events.record(
        actor=actor,
        entity=review,
        kind="review.decided",
        after={"verdict": verdict, "task": str(task.pk)},
        client_id=task.client_id,
    )
    answers = round_answers(task)
    if verdict == Review.Verdict.REJECT:
        _reject_round(task, actor=actor, now=now)
        return review
    response = corrected_answer if verdict == Review.Verdict.FIX else review.response
    confidence = 1.0 if verdict == Review.Verdict.FIX else review.confidence
    complete(task, response=response, confidence=confidence, now=now, actor=actor)
    if not task.is_test:
        agreement_record(task=task, project=task.project, answers=answers, response=response, now=now)
    return review


def _reject_round(task: Task, *, actor: Any, now: datetime) -> None:
    """The round's answers are rejected: not paid (their pay is reversed), their slots return to
    the pool, and the annotators who gave them never get the task again (UNIQUE(task, annotator))."""
    submissions = list(
        Submission.objects.select_for_update()
        .filter(task=task, round=task.rework_round, status=Submission.Status.ACCEPTED)
        .order_by("id")
    )
    for submission in submissions:
        billing.answer_unpay(submission_id=submission.pk)
    Submission.objects.filter(pk__in=[s.pk for s in submissions]).update(status=Submission.Status.REJECTED)
    moved = Assignment.objects.filter(
        pk__in=[s.assignment_id for s in submissions], status=Assignment.Status.SUBMITTED
    ).update(status=Assignment.Status.REJECTED)
    Task.objects.filter(pk=task.pk).update(
        slots_taken=F("slots_taken") - moved, answers_received=F("answers_received") - moved, updated_at=now
    )
    events.record(
        actor=actor,
        entity=task,
        kind="task.answers_rejected",
        after={"submissions": [str(s.pk) for s in submissions], "returned_to_pool": True},
    )


def lock_task(*, client: Client, task_id, is_test: bool) -> Task:
    try:
        return (
            Task.objects.select_for_update(of=("self",))
            .select_related("project", "batch", "client")
            .get(client=client, is_test=is_test, pk=task_id)
        )
    except (Task.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Task not found.") from exc


def send_to_rework(task: Task, *, actor: Any) -> None:
    """Precondition: the completed task is locked (``lock_task``)."""
    now = timezone.now()
    before = {"status": task.status, "overlap": task.overlap, "rework_round": task.rework_round}
    slots = task.project.overlap
    Task.objects.filter(pk=task.pk).update(
        status=Task.Status.PENDING,
        rework_round=F("rework_round") + 1,
        round_offset=F("answers_received"),
        overlap=F("slots_taken") + slots,
        updated_at=now,
    )
    task.refresh_from_db(fields=["status", "rework_round", "round_offset", "overlap", "updated_at"])
    events.record(
        actor=actor,
        entity=task,
        kind="task.rework",
        before=before,
        after={"status": task.status, "overlap": task.overlap, "rework_round": task.rework_round},
    )
