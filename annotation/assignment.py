"""The assignment engine: who works on what, and the lease that fences them. See ``assignment.md``.

Every function here runs in one short transaction. Lock order, kept everywhere to rule out
deadlocks: annotator row → task rows (claim); assignment row → task row (submit, skip, release,
expiry). Two guards make double assignment impossible, each enough on its own for the slot cap:

1. ``SELECT … FOR UPDATE SKIP LOCKED`` picks a task nobody else is claiming right now;
2. the ``UPDATE … WHERE slots_taken < overlap`` compare-and-set re-checks the cap on the locked,
   current row version — and the ``task_slots_within_overlap`` CHECK constraint backs both.

``UNIQUE(task, annotator)`` stops an annotator from getting a task twice; the annotator row lock
serializes one annotator's own concurrent claims so the live-lease quota holds.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from annotation.models import Annotator, Assignment, Project, ProjectWorker, Task
from billing import services as billing
from clients import events
from clients.errors import Conflict, NotFound, PermissionDenied, TooManyRequests
from clients.ids import uuid7
from clients.models import Event

_CLAIM_SQL = """
WITH candidate AS (
    SELECT t.id, t.spend_reserved AS was_reserved
      FROM annotation_task t
     WHERE t.project_id = %(project_id)s
       AND t.status = 'pending'
       AND t.released
       AND t.slots_taken < t.overlap
       AND {gold_filter}
       AND NOT EXISTS (
           SELECT 1 FROM annotation_assignment a
            WHERE a.task_id = t.id AND a.annotator_id = %(annotator_id)s
       )
     ORDER BY {order}
     LIMIT 1
       FOR UPDATE OF t SKIP LOCKED
)
UPDATE annotation_task t
   SET slots_taken = t.slots_taken + 1,
       claim_seq = t.claim_seq + 1,
       spend_reserved = true,
       updated_at = %(now)s
  FROM candidate
 WHERE t.id = candidate.id
   AND t.slots_taken < t.overlap
   AND t.status = 'pending'
RETURNING t.id, t.claim_seq, t.task_type, t.instruction, t.params, t.price, candidate.was_reserved
"""
# Two statements rather than a parameter, so each keeps its own partial index in a prepared plan:
# live work in serving order (task_open_queue_idx), and gold in breadth-first order (task_gold_queue_idx).
CLAIM_SQL = _CLAIM_SQL.format(
    gold_filter="NOT t.is_gold", order="t.priority DESC, t.slots_taken, t.created_at"
)
CLAIM_GOLD_SQL = _CLAIM_SQL.format(gold_filter="t.is_gold", order="t.slots_taken, t.created_at")

# The annotator's standing in the project, created on the first claim: locks the row, so a removal
# (``annotation.services.workforce``) and this claim are serialized, and returns the counters the
# gold ratio reads. A removed or suspended worker gets no task of the project. An existing row is
# only locked (FOR NO KEY UPDATE, no new row version: trying a project with an empty queue writes
# nothing); a missing one is inserted. Returns no row only when a concurrent transaction inserted
# it first: ``worker_gate`` then runs it again and finds that row.
WORKER_GATE_SQL = """
WITH existing AS (
    SELECT id, status, served_total, served_gold FROM annotation_projectworker
     WHERE annotator_id = %(annotator_id)s AND project_id = %(project_id)s
       FOR NO KEY UPDATE
), created AS (
    INSERT INTO annotation_projectworker
           (id, project_id, annotator_id, status, reason, served_total, served_gold, gold_answers, gold_score,
            consensus_answers, consensus_score, flags, updated_at)
    SELECT %(id)s, %(project_id)s, %(annotator_id)s, 'active', '', 0, 0, 0, 0, 0, 0, 0, %(now)s
     WHERE NOT EXISTS (SELECT 1 FROM existing)
    ON CONFLICT (annotator_id, project_id) DO NOTHING
    RETURNING id, status, served_total, served_gold
)
SELECT * FROM existing UNION ALL SELECT * FROM created
"""


def worker_gate(cursor, *, project_id, annotator_id, now: datetime) -> tuple:
    """Lock (or create) the annotator's standing row in the project: (id, status, served_total,
    served_gold). Precondition: in a transaction."""
    for _ in range(2):
        cursor.execute(
            WORKER_GATE_SQL,
            {"id": uuid7(), "project_id": project_id, "annotator_id": annotator_id, "now": now},
        )
        row = cursor.fetchone()
        if row is not None:
            return row
    raise RuntimeError(
        "the standing row was neither found nor created"
    )  # unreachable: the second run sees the committed row


WORKER_SERVED_SQL = """
UPDATE annotation_projectworker SET served_total = served_total + 1, served_gold = served_gold + %(gold)s WHERE id = %(id)s
"""

# The first claim of a task commits its price against the project's budget and the client's
# credit (billing.spend_reserve). When there is no room, the claim is undone on the still-locked
# task row — cheaper than a savepoint around every claim — and the project is passed over.
UNDO_CLAIM_SQL = """
UPDATE annotation_task SET slots_taken = slots_taken - 1, spend_reserved = false WHERE id = %s
"""


@dataclass(frozen=True)
class Claim:
    assignment: Assignment
    resumed: bool  # True when the annotator's existing live lease was returned


# Eligible projects in serving order (one statement, no ORM compile on the hot path): active, the
# client active, every required qualification held and not revoked, and no standing row saying
# the annotator was removed or suspended there.
ELIGIBLE_SQL = """
SELECT p.id, p.lease_seconds, p.client_id, p.params, p.instructions, p.gold_ratio
  FROM annotation_project p
  JOIN clients_client c ON c.id = p.client_id
 WHERE p.status = 'active' AND c.is_active {only}
   AND NOT EXISTS (
       SELECT 1 FROM annotation_project_required_qualifications r
        WHERE r.project_id = p.id
          AND NOT EXISTS (
              SELECT 1 FROM annotation_annotatorqualification q
               WHERE q.annotator_id = %(annotator_id)s AND q.qualification_id = r.qualification_id
                 AND q.revoked_at IS NULL
          )
   )
   AND NOT EXISTS (
       SELECT 1 FROM annotation_projectworker w
        WHERE w.project_id = p.id AND w.annotator_id = %(annotator_id)s AND w.status <> 'active'
   )
 ORDER BY p.priority DESC, p.created_at
"""


def _eligible_projects(annotator: Annotator, project_id=None) -> list[Project]:
    """Active projects in serving order whose required qualifications the annotator holds and from
    which they were not removed or suspended (``ELIGIBLE_SQL``). Budgets are checked per claim
    (``billing.spend_reserve``); the standing is re-checked under its row lock (``worker_gate``)."""
    args = {"annotator_id": annotator.pk}
    if project_id is not None:
        try:
            args["project_id"] = (
                project_id if isinstance(project_id, uuid.UUID) else uuid.UUID(str(project_id))
            )
        except ValueError:
            return []
    with connection.cursor() as cursor:
        cursor.execute(
            ELIGIBLE_SQL.format(only="AND p.id = %(project_id)s" if project_id is not None else ""), args
        )
        rows = cursor.fetchall()
    return [
        Project(
            id=pid,
            lease_seconds=lease,
            client_id=client_id,
            params=json.loads(params) if isinstance(params, str) else params,
            instructions=instructions,
            gold_ratio=gold_ratio,
        )
        for pid, lease, client_id, params, instructions, gold_ratio in rows
    ]


def live_leases(annotator: Annotator, now: datetime):
    return Assignment.objects.filter(
        annotator=annotator, status=Assignment.Status.ACTIVE, leased_until__gt=now
    )


@transaction.atomic
def claim(
    *, annotator: Annotator, project_id=None, resume: bool = True, now: datetime | None = None
) -> Claim | None:
    """Give ``annotator`` work: their live lease if ``resume`` and they have one, else a new claim.

    Returns None when no eligible task is open. Raises 403 for an annotator who is not active and
    429 when the annotator already holds ``QUORUM_MAX_LIVE_LEASES`` live leases.
    Precondition: none; this function takes the annotator row lock itself.
    """
    now = now or timezone.now()
    locked = Annotator.objects.select_for_update(no_key=True).only("id", "status").get(pk=annotator.pk)
    if locked.status != Annotator.Status.ACTIVE:
        raise PermissionDenied(
            f"Annotator is {locked.status}; only active annotators can claim work.",
            code="annotator_not_active",
        )
    # One query serves both the resume and the quota: at most QUORUM_MAX_LIVE_LEASES rows.
    quota = settings.QUORUM_MAX_LIVE_LEASES
    live = list(live_leases(annotator, now).select_related("task", "project").order_by("claimed_at")[:quota])
    if resume:
        current = next((a for a in live if project_id is None or str(a.project_id) == str(project_id)), None)
        if current is not None:
            return Claim(current, resumed=True)
    if len(live) >= quota:
        raise TooManyRequests(
            f"You already hold {quota} live leases; submit, skip or release one first.",
            code="lease_quota_exceeded",
        )
    with connection.cursor() as cursor:
        for project in _eligible_projects(annotator, project_id):
            args = {"project_id": project.id, "annotator_id": annotator.pk, "now": now}
            worker_id, standing, served_total, served_gold = worker_gate(
                cursor, project_id=project.id, annotator_id=annotator.pk, now=now
            )
            if standing != ProjectWorker.Status.ACTIVE:
                continue  # removed or suspended since the filter above ran
            # Gold at the project's ratio of this annotator's claims: the next claim is gold while
            # gold served so far is short of the ratio. Gold looks like any other task to them.
            row, gold = None, project.gold_ratio > 0 and served_gold < project.gold_ratio * (served_total + 1)
            if gold:
                cursor.execute(CLAIM_GOLD_SQL, args)
                row = cursor.fetchone()
                gold = row is not None
            if row is None:
                cursor.execute(CLAIM_SQL, args)
                row = cursor.fetchone()
            if row is None:
                continue
            task_id, claim_seq, task_type, instruction, params, price, was_reserved = row
            if (
                not was_reserved
                and price > 0
                and not billing.spend_reserve(
                    client_id=project.client_id, project_id=project.id, amount=price
                )
            ):
                cursor.execute(UNDO_CLAIM_SQL, [task_id])
                continue  # over the project's budget or the client's funds plus credit: not served
            cursor.execute(WORKER_SERVED_SQL, {"id": worker_id, "gold": int(gold)})
            assignment = Assignment.objects.create(
                task_id=task_id,
                annotator_id=annotator.pk,
                project_id=project.id,
                claim_version=claim_seq,
                leased_until=now + timedelta(seconds=project.lease_seconds),
                claimed_at=now,
            )
            # What the annotator needs to see came back with the claim: no second read.
            params = json.loads(params) if isinstance(params, str) else params
            assignment.task = Task(
                id=task_id, project_id=project.id, task_type=task_type, instruction=instruction, params=params
            )
            assignment.project = project
            events.record(
                actor=f"user:{annotator.user_id}",
                entity=assignment,
                kind="assignment.claimed",
                after={"task": str(task_id), "claim_version": claim_seq},
                client_id=project.client_id,
            )
            return Claim(assignment, resumed=False)
    return None


def lock_live_assignment(
    *, annotator: Annotator, assignment_id, claim_version: int, now: datetime
) -> Assignment:
    """Lock the annotator's assignment and check the fence: still active, same claim, lease valid.

    Raises 404 for someone else's assignment and 409 (changing nothing) for a stale or expired one.
    Precondition: inside a transaction.
    """
    try:
        assignment = (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("task", "task__client", "task__batch", "project")
            .get(pk=assignment_id, annotator_id=annotator.pk)
        )
    except (Assignment.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Assignment not found.") from exc
    if assignment.status != Assignment.Status.ACTIVE:
        raise Conflict(
            f"This assignment is {assignment.status}; it can no longer be changed.", code="lease_lost"
        )
    if assignment.claim_version != claim_version:
        raise Conflict(
            "Stale claim: the task was claimed again since this lease was issued.", code="stale_claim"
        )
    if assignment.leased_until <= now:
        raise Conflict("The lease expired; the task may have gone to someone else.", code="lease_expired")
    if assignment.task.status != Task.Status.PENDING:
        raise Conflict(f"The task is {assignment.task.status}.", code="task_not_pending")
    return assignment


def end_assignment(*, assignment: Assignment, status: str, now: datetime, actor) -> None:
    """Move an active assignment to skipped/released and give its slot back.
    Precondition: the assignment row is locked (``lock_live_assignment``)."""
    moved = Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.ACTIVE).update(
        status=status, finished_at=now
    )
    if moved:
        Task.objects.filter(pk=assignment.task_id).update(slots_taken=F("slots_taken") - 1, updated_at=now)
        events.record(
            actor=actor,
            entity=assignment,
            kind=f"assignment.{status}",
            before={"status": "active"},
            after={"status": status},
            client_id=assignment.project.client_id,
        )


@transaction.atomic
def heartbeat(
    *, annotator: Annotator, assignment_id, claim_version: int, now: datetime | None = None
) -> Assignment:
    """Extend a live lease by the project's lease length (the workspace calls this while open)."""
    now = now or timezone.now()
    assignment = lock_live_assignment(
        annotator=annotator, assignment_id=assignment_id, claim_version=claim_version, now=now
    )
    before = assignment.leased_until
    assignment.leased_until = now + timedelta(seconds=assignment.project.lease_seconds)
    assignment.save(update_fields=["leased_until"])
    events.record(
        actor=f"user:{annotator.user_id}",
        entity=assignment,
        kind="assignment.extended",
        before={"leased_until": before.isoformat()},
        after={"leased_until": assignment.leased_until.isoformat()},
        client_id=assignment.project.client_id,
    )
    return assignment


EXPIRE_SQL = """
WITH due AS (
    SELECT id FROM annotation_assignment
     WHERE status = 'active' AND leased_until <= %(now)s
     ORDER BY leased_until
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
)
UPDATE annotation_assignment a
   SET status = 'expired', finished_at = %(now)s
  FROM due
 WHERE a.id = due.id
RETURNING a.id, a.task_id, a.project_id
"""


@transaction.atomic
def expire_leases(*, now: datetime | None = None, limit: int = 1000) -> int:
    """The periodic sweep: expire leases that ran out and return their slots to the pool.

    Safe to run concurrently and twice: rows are picked with SKIP LOCKED and moved by a guarded
    UPDATE, so each expiry is counted once. Returns how many leases expired.
    """
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(EXPIRE_SQL, {"now": now, "limit": limit})
        rows = cursor.fetchall()
    if not rows:
        return 0
    per_task: dict = {}
    for _, task_id, _ in rows:
        per_task[task_id] = per_task.get(task_id, 0) + 1
    for task_id in sorted(per_task):
        Task.objects.filter(pk=task_id).update(
            slots_taken=F("slots_taken") - per_task[task_id], updated_at=now
        )
    client_of = dict(Project.objects.filter(id__in={r[2] for r in rows}).values_list("id", "client_id"))
    Event.objects.bulk_create(
        [
            events.build(
                actor=None,
                entity_type="assignment",
                entity_id=aid,
                kind="assignment.expired",
                client_id=client_of.get(pid),
                before={"status": "active"},
                after={"status": "expired"},
            )
            for aid, _, pid in rows
        ]
    )
    return len(rows)
