"""The submit: an answer under a live lease, in one statement for the common case.

``quorum_submit`` (``functions.sql``) checks the fence and writes everything a submit writes:
the assignment and submission rows, the task's counters, the event, the submitter's standing and
confusion counts for gold, the pay posting and — when the round is complete and its consensus is
one SQL computes (single-choice categorization by majority vote, no review) — one more slot or
the completion with its charge, callback outbox row and every answer's agreement counts.

This module then, inside the same transaction:

1. validates the answer against the task type and params the function returned; an invalid
   answer raises 400 and the whole transaction rolls back, so it changed nothing;
2. does what needs Python, each only when the function asks (the rule, written here and in
   README.md): the gold score of task types other than categorization
   (``tasktypes.score_gold``); the consensus of every other method (geometry fusion, Borda /
   Bradley-Terry, span and field votes, multiple choice, Dawid-Skene) and review sampling, which
   run ``complete.settle``; and the anti-fraud or gold rule when the submitter's counters crossed
   it (``standing.worker_bar``).

So a submit that neither completes a task nor needs Python is one statement; one that completes a
categorization task by majority is one statement; the others add the statements of the Python step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from annotation import tasktypes
from annotation.lifecycle import complete, consensus, leases, notify, standing, taxonomy
from annotation.models import Annotator, Project, ProjectWorker, Submission, Task
from core.errors import Conflict, NotFound
from core.transactions import after_commit

SUBMIT_CALL_SQL = "SELECT * FROM quorum_submit(%s, %s, %s, %s, %s, %s)"


@dataclass
class Submitted:
    """What a submit answers: the submission and the task's status after it. The submission and
    task rows are read only if asked for (``submission``, ``task`` and the shortcuts below)."""

    submission_id: Any
    assignment_id: Any
    task_id: Any
    task_status: str

    @property
    def pk(self):
        return self.submission_id

    id = pk

    @cached_property
    def submission(self) -> Submission:
        return Submission.objects.get(pk=self.submission_id)

    @cached_property
    def task(self) -> Task:
        return Task.objects.get(pk=self.task_id)

    def __getattr__(self, name: str):
        if name in ("status", "flagged", "gold_score", "answer", "duration_ms", "round", "annotator_id"):
            return getattr(self.submission, name)
        raise AttributeError(name)


def _conflict(outcome: str, detail: str | None) -> Exception:
    if outcome == "not_found":
        return NotFound("Assignment not found.")
    if outcome == "lease_lost":
        return Conflict(f"This assignment is {detail}; it can no longer be changed.", code="lease_lost")
    if outcome == "stale_claim":
        return Conflict(
            "Stale claim: the task was claimed again since this lease was issued.", code="stale_claim"
        )
    if outcome == "lease_expired":
        return Conflict("The lease expired; the task may have gone to someone else.", code="lease_expired")
    return Conflict(f"The task is {detail}.", code="task_not_pending")


@transaction.atomic
def submit(
    *, annotator: Annotator, assignment_id, claim_version: int, answer: Any, now: datetime | None = None
) -> Submitted:
    """Submit an answer under a live, current lease (the fence). A stale or expired claim answers
    409 and changes nothing; an invalid answer answers 400 and changes nothing.

    Quality control at submit: an answer faster than the project's minimum time is flagged, not
    counted and not paid (its slot returns to the pool; repeated flags suspend the annotator from
    the project); a gold answer is scored against the gold answer (the gold rule may remove the
    annotator); otherwise the answer is accepted and paid, and once the round has all its answers
    the consensus decides: one more answer, review, or completion."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            SUBMIT_CALL_SQL,
            [assignment_id, annotator.pk, claim_version, Jsonb(answer), now, f"user:{annotator.user_id}"],
        )
        (outcome, detail, submission_id, task_id, task_type, params, task_status, needs_gold_score,
         needs_settle, rule, deliveries) = cursor.fetchone()  # fmt: skip
    if outcome != "ok":
        raise _conflict(outcome, detail)  # nothing was written
    if task_status == Task.Status.COMPLETED:
        # Completed in SQL: its task.completed event goes to the client's endpoints through the
        # relay (notify.py), and its batch may be complete: a worker does both, woken after COMMIT.
        after_commit(notify.wake_after_sql_completion, task_id)
    params = json.loads(params) if isinstance(params, str) else params  # Django leaves jsonb undecoded
    # Raises ValidationFailed (400): the atomic block rolls back everything the function wrote.
    tasktypes.check_answer(task_type, params, answer)
    if needs_gold_score or needs_settle or rule:
        task_status = _python_step(
            annotator=annotator,
            submission_id=submission_id,
            task_id=task_id,
            answer=answer,
            needs_gold_score=needs_gold_score,
            needs_settle=needs_settle,
            rule=rule,
            now=now,
        )
    for delivery_id in deliveries or ():
        after_commit(complete.wake_delivery, delivery_id)
    return Submitted(
        submission_id=submission_id, assignment_id=assignment_id, task_id=task_id, task_status=task_status
    )


def _python_step(
    *,
    annotator: Annotator,
    submission_id,
    task_id,
    answer,
    needs_gold_score: bool,
    needs_settle: bool,
    rule,
    now,
) -> str:
    """What the function left to Python, in the same transaction; the task row is still locked
    by it (and the assignment row), so this sees the state the function left."""
    task = Task.objects.select_related("project", "client", "batch").get(pk=task_id)
    project: Project = task.project
    if needs_gold_score:
        score = tasktypes.score_gold(task.task_type, task.params, answer, task.gold_answer)
        Submission.objects.filter(pk=submission_id).update(gold_score=score)
        delta = standing.WorkerDelta(gold_answers=1, gold_score=float(score))
        if consensus.is_single_choice(task.task_type, task.params):
            standing.confusion_add(
                project_id=project.pk,
                pairs=[(annotator.pk, task.gold_answer["category"], answer["category"])],
            )
        taxonomy.gold_confusion_add(
            project_id=project.pk, annotator_id=annotator.pk, task=task, answer=answer
        )
        standing.workers_apply(project=project, deltas={annotator.pk: delta}, now=now)
    elif rule:
        # The function moved the counters; the rule itself (remove or suspend, give back the
        # annotator's leases in the project, the event, the platform-wide rule after commit).
        worker = ProjectWorker.objects.get(project=project, annotator=annotator)
        if rule == "suspend":
            reason = (
                f"{worker.flags} answers faster than {project.min_answer_ms} ms "
                f"(limit {project.fraud_flag_limit})"
            )
            standing.worker_bar(
                project=project,
                annotator_id=annotator.pk,
                status=ProjectWorker.Status.SUSPENDED,
                reason=reason,
                actor="system:anti-fraud",
                now=now,
            )
        else:
            accuracy = worker.gold_score / worker.gold_answers
            reason = (
                f"gold accuracy {accuracy:.3f} below {project.gold_accuracy_threshold} "
                f"after {worker.gold_answers} gold answers"
            )
            standing.worker_bar(
                project=project,
                annotator_id=annotator.pk,
                status=ProjectWorker.Status.REMOVED,
                reason=reason,
                actor="system:gold-rule",
                now=now,
            )
    if needs_settle:
        complete.complete_if_ready(task, actor="system:consensus", now=now)
    return task.status


def python_settles(task_type: str, params: dict, project: Project) -> bool:
    """Whether a completed round of this task goes to Python (``complete.settle``) rather than
    completing in ``quorum_submit``: the rule written in README.md, for tests and docs."""
    single = task_type == "categorization" and not params.get("allow_multiple") and "categories" in params
    sql_method = project.consensus_method in (Project.Consensus.AUTO, Project.Consensus.MAJORITY)
    return not (single and sql_method and not project.review_enabled)


__all__ = ["Submitted", "leases", "python_settles", "submit"]
