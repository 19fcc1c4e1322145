"""Leases: the claim, the fence, heartbeat, skip and release, expiry, and giving leases back when a
standing or an annotator changes. See README.md in this folder for the state machine and lock order.

The claim is one statement: ``quorum_claim`` in ``functions.sql`` (the annotator row lock, resume,
the live-lease quota, eligibility, the standing gate, gold at the project's ratio, the claim with
``SKIP LOCKED`` and a compare-and-set, the budget reservation, the served counter, the lease row and
its event). Two guards make double assignment impossible, each enough on its own for the slot cap:

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
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from annotation.models import Annotator, Assignment, Project, Task
from core import events
from core.errors import Conflict, NotFound, PermissionDenied, TooManyRequests
from core.ids import uuid7
from core.models import Event
from core.sqlrows import loaded
from core.transactions import retry_on_deadlock

# The annotator's standing in the project, created on first use, locked: a removal
# (``annotation.services.workforce.worker_bar``) and a claim are serialized on this row. An
# existing row is only locked (FOR NO KEY UPDATE, no new row version); a missing one is inserted.
# Returns no row only when a concurrent transaction inserted it first: ``worker_gate`` then runs
# it again and finds that row. (``quorum_claim`` does the same in PL/pgSQL.)
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
    )  # the second run sees the committed row


CLAIM_CALL_SQL = "SELECT * FROM quorum_claim(%s, %s, %s, %s, %s, %s)"


@dataclass(frozen=True)
class Claim:
    assignment: Assignment
    resumed: bool  # True when the annotator's existing live lease was returned


# Eligible projects in serving order, the same rules as ``quorum_claim``: active, the client
# active, every required qualification held and not revoked, and no standing row saying the
# annotator was removed or suspended there. For pages and listings (the claim does its own).
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


def eligible_projects(annotator: Annotator, project_id=None) -> list[Project]:
    """Active projects in serving order that the annotator may be served (``ELIGIBLE_SQL``)."""
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


def _project_id(project_id) -> uuid.UUID | None:
    if project_id is None or isinstance(project_id, uuid.UUID):
        return project_id
    try:
        return uuid.UUID(str(project_id))
    except ValueError:
        return None


# quorum_claim bounds its wait for a task row with lock_timeout (functions.sql, "The task"): past it
# the statement fails with lock_not_available and is rolled back whole. It is run again, up to this
# many times in all, outside a caller's transaction.
CLAIM_ATTEMPTS = 3
LOCK_NOT_AVAILABLE = "55P03"


def _claim_once(args: list) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_CALL_SQL, args)
        return cursor.fetchone()


_claim_retrying = retry_on_deadlock(
    _claim_once, attempts=CLAIM_ATTEMPTS, sqlstates=frozenset({LOCK_NOT_AVAILABLE})
)


def _claim_call(args: list) -> tuple | None:
    """``quorum_claim``'s row, or None when its task wait timed out on every attempt (inside a
    caller's transaction the timeout goes up instead)."""
    try:
        return _claim_retrying(args)
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE or connection.in_atomic_block:
            raise
        return None


def claim(
    *, annotator: Annotator, project_id=None, resume: bool = True, now: datetime | None = None
) -> Claim | None:
    """Give ``annotator`` work: their live lease if ``resume`` and they have one, else a new claim
    (``quorum_claim``, one statement and so one transaction).

    Returns None when no eligible task is open. Raises 403 for an annotator who is not active and
    429 when the annotator already holds ``QUORUM_MAX_LIVE_LEASES`` live leases.
    Precondition: none; the function takes the annotator row lock itself.
    """
    now = now or timezone.now()
    if project_id is not None and _project_id(project_id) is None:
        return None  # a malformed project id names no project: nothing to claim
    quota = settings.QUORUM_MAX_LIVE_LEASES
    row = _claim_call(
        [annotator.pk, _project_id(project_id), resume, now, quota, f"user:{annotator.user_id}"]
    )
    if row is None:
        return None  # the task waits timed out every time: nothing claimable at this instant
    (outcome, detail, assignment_id, status, claim_version, leased_until, claimed_at, task_id, task_type,
     instruction, params, instructions, claimed_project) = row  # fmt: skip
    if outcome == "not_active":
        raise PermissionDenied(
            f"Annotator is {detail}; only active annotators can claim work.", code="annotator_not_active"
        )
    if outcome == "quota":
        raise TooManyRequests(
            f"You already hold {quota} live leases; submit, skip or release one first.",
            code="lease_quota_exceeded",
        )
    if outcome == "none":
        return None
    params = json.loads(params) if isinstance(params, str) else params
    # What the annotator needs to see came back with the claim: no second read. Only these columns
    # are set; the others are deferred (``loaded``: read if touched, no defaults computed).
    assignment = loaded(
        Assignment,
        id=assignment_id,
        status=status,
        claim_version=claim_version,
        leased_until=leased_until,
        claimed_at=claimed_at,
        annotator_id=annotator.pk,
        project_id=claimed_project,
        task_id=task_id,
    )
    assignment.task = loaded(
        Task,
        id=task_id,
        project_id=claimed_project,
        task_type=task_type,
        instruction=instruction,
        params=params,
    )
    assignment.project = loaded(Project, id=claimed_project, instructions=instructions)
    return Claim(assignment, resumed=outcome == "resumed")


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
    fence_check(
        status=assignment.status,
        claim_version=assignment.claim_version,
        expected_version=claim_version,
        leased_until=assignment.leased_until,
        task_status=assignment.task.status,
        now=now,
    )
    return assignment


def fence_check(
    *, status: str, claim_version: int, expected_version: int, leased_until, task_status: str, now
) -> None:
    """The fence's four checks, in the order ``quorum_submit`` makes them (409, nothing changed)."""
    if status != Assignment.Status.ACTIVE:
        raise Conflict(f"This assignment is {status}; it can no longer be changed.", code="lease_lost")
    if claim_version != expected_version:
        raise Conflict(
            "Stale claim: the task was claimed again since this lease was issued.", code="stale_claim"
        )
    if leased_until <= now:
        raise Conflict("The lease expired; the task may have gone to someone else.", code="lease_expired")
    if task_status != Task.Status.PENDING:
        raise Conflict(f"The task is {task_status}.", code="task_not_pending")


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
def give_back(*, annotator: Annotator, assignment_id, claim_version: int, status: str) -> Assignment:
    """Skip (never to be served again) or release the task under a live lease."""
    now = timezone.now()
    assignment = lock_live_assignment(
        annotator=annotator, assignment_id=assignment_id, claim_version=claim_version, now=now
    )
    end_assignment(assignment=assignment, status=status, now=now, actor=f"user:{annotator.user_id}")
    assignment.status = status
    return assignment


def release_live_leases(*, annotator_id, project_id=None, actor, now: datetime) -> int:
    """Give back the annotator's live leases (in one project, or all). Leases being submitted right
    now (row locked) are skipped rather than waited for: that submit finishes as it started.
    Precondition: in a transaction (a suspension, removal or revocation)."""
    leases = (
        Assignment.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("project")
        .filter(annotator_id=annotator_id, status=Assignment.Status.ACTIVE)
    )
    if project_id is not None:
        leases = leases.filter(project_id=project_id)
    released = 0
    for assignment in leases.order_by("id"):
        end_assignment(assignment=assignment, status=Assignment.Status.RELEASED, now=now, actor=actor)
        released += 1
    return released


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
