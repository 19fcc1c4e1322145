"""Reads for the annotator and reviewer workspace: the work an annotator may choose from, the
reviews waiting for a reviewer, and a task's review history.

Available work uses the eligibility statement kept to the claim's rules
(``lifecycle.leases.ELIGIBLE_SQL``: active project of an active client, every required
qualification held and not revoked, not removed or suspended there), in the claim's serving order,
so the list shows exactly the projects a claim may serve and in the order ``next`` tries them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from annotation.lifecycle import leases
from annotation.models import Annotator, Domain, Project, ProjectWorker, Review, Submission, Task, TaskType
from annotation.quality_selectors import pseudonym
from billing import selectors as billing_selectors

# Waiting tasks are counted up to this many per project (a bounded read of the open-queue index);
# the page shows "1000+" beyond it.
WAITING_CAP = 1000

REASON_LABELS = {"sample": "sampled for review", "low_confidence": "low confidence"}

WAITING_SQL = """
SELECT p.id, w.n, w.pay_min, w.pay_max
  FROM unnest(%(project_ids)s::uuid[]) AS p(id)
  CROSS JOIN LATERAL (
      SELECT count(*) AS n, min(t.pay) AS pay_min, max(t.pay) AS pay_max
        FROM (
            SELECT t.pay FROM annotation_task t
             WHERE t.project_id = p.id AND t.status = 'pending' AND t.released
               AND t.slots_taken < t.overlap AND NOT t.is_gold
               AND NOT EXISTS (
                   SELECT 1 FROM annotation_assignment a
                    WHERE a.task_id = t.id AND a.annotator_id = %(annotator_id)s
               )
             LIMIT %(cap)s
        ) t
  ) w
"""


def _labels(task_type: str, params: dict) -> list[str]:
    """The classes a project's annotators pick from, for telling projects apart."""
    if task_type == TaskType.CATEGORIZATION:
        return [str(c) for c in params.get("categories") or []]
    if task_type == TaskType.IMAGE_ANNOTATION:
        out: list[str] = []
        for geometry in (params.get("geometries") or {}).values():
            for d in (geometry or {}).get("objects_to_annotate") or []:
                name = d if isinstance(d, str) else (d or {}).get("choice")
                if name and name not in out:
                    out.append(str(name))
        return out
    return [str(label) for label in params.get("labels") or []]


def _first_line(text: str, limit: int = 140) -> str:
    line = next((s.strip() for s in (text or "").splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def available_projects(*, annotator: Annotator, now: datetime | None = None) -> list[dict[str, Any]]:
    """The projects a claim may serve ``annotator`` right now, in the claim's serving order, each
    with the pay per answer, the tasks waiting for them (up to ``WAITING_CAP``), their standing
    there and the qualifications it requires. No client or project name: annotators see the kind
    of work, its labels and the first line of its instructions. Budgets are not checked here
    (they are checked per claim), so a project over budget may show waiting tasks it will not
    serve."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(leases.ELIGIBLE_SQL.format(only=""), {"annotator_id": annotator.pk})
        eligible = [row[0] for row in cursor.fetchall()]
        if not eligible:
            return []
        cursor.execute(
            WAITING_SQL, {"project_ids": eligible, "annotator_id": annotator.pk, "cap": WAITING_CAP}
        )
        waiting = {pid: (n, pay_min, pay_max) for pid, n, pay_min, pay_max in cursor.fetchall()}
    projects = {
        p.pk: p
        for p in Project.objects.filter(pk__in=eligible)
        .select_related("client")
        .prefetch_related("required_qualifications")
    }
    workers = {
        w.project_id: w for w in ProjectWorker.objects.filter(annotator=annotator, project_id__in=eligible)
    }
    answers = dict(
        Submission.objects.filter(annotator=annotator, task__project_id__in=eligible, status="accepted")
        .values_list("task__project_id")
        .annotate(n=Count("id"))
        .values_list("task__project_id", "n")
    )
    out = []
    for rank, pid in enumerate(eligible, start=1):
        project = projects[pid]
        n, pay_min, pay_max = waiting.get(pid, (0, None, None))
        if pay_min is None:  # nothing waiting: the pay new tasks would get
            pay_min = pay_max = _current_pay(project, now)
        worker = workers.get(pid)
        params = project.params if isinstance(project.params, dict) else json.loads(project.params or "{}")
        out.append(
            {
                "project": str(pid),
                "rank": rank,
                "task_type": project.task_type,
                "task_type_label": TaskType(project.task_type).label,
                "domain": project.domain,
                "domain_label": Domain(project.domain).label if project.domain in Domain.values else "",
                "labels": _labels(project.task_type, params)[:12],
                "summary": _first_line(project.instructions),
                "currency": project.client.currency,
                "pay_per_answer": pay_max,
                "pay_per_answer_min": pay_min,
                "tasks_waiting": n,
                "tasks_waiting_capped": n >= WAITING_CAP,
                "lease_seconds": project.lease_seconds,
                "required_qualifications": [
                    {"id": str(q.pk), "name": q.name} for q in project.required_qualifications.all()
                ],
                "standing": {
                    "status": worker.status if worker else "new",
                    "answers": answers.get(pid, 0),
                    "gold_accuracy": worker.gold_accuracy if worker else None,
                    "agreement": worker.agreement if worker else None,
                },
            }
        )
    return out


def _current_pay(project: Project, now: datetime) -> int:
    if project.pay_per_answer is not None:
        return project.pay_per_answer
    return billing_selectors.rate_for(
        client=project.client, task_type=project.task_type, at=now
    ).pay_per_answer


def reviews_waiting(*, reviewer: Annotator, now: datetime | None = None) -> dict[str, int]:
    """How many reviews ``reviewer`` could take now (open, or held by a reviewer whose lease ran
    out; never on a task they answered), and how many they hold themselves."""
    now = now or timezone.now()
    takeable = Q(status=Review.Status.OPEN) | Q(status=Review.Status.ASSIGNED, leased_until__lte=now)
    waiting = (
        Review.objects.filter(takeable)
        .exclude(task_id__in=Submission.objects.filter(annotator=reviewer).values("task_id"))
        .count()
    )
    held = Review.objects.filter(
        reviewer=reviewer, status=Review.Status.ASSIGNED, leased_until__gt=now
    ).count()
    return {"waiting": waiting, "held": held}


def review_history(*, task: Task, viewer: str, reviewer: Annotator | None = None) -> list[dict[str, Any]]:
    """The decided reviews of a task, oldest first: who (``viewer`` "client": a per-project
    pseudonym; "reviewer": "you" or "another reviewer"; "staff": the annotator id), the verdict,
    when, the round and the comment."""
    rows = Review.objects.filter(task=task, status=Review.Status.DECIDED).order_by("decided_at", "id")
    out = []
    for r in rows:
        if r.reviewer_id is None:
            who = "a former reviewer"
        elif viewer == "client":
            who = pseudonym(task.project_id, r.reviewer_id)
        elif viewer == "staff":
            who = str(r.reviewer_id)
        else:
            who = "you" if reviewer is not None and r.reviewer_id == reviewer.pk else "another reviewer"
        out.append(
            {
                "reviewer": who,
                "verdict": r.verdict,
                "decided_at": r.decided_at,
                "round": r.round,
                "reason": r.reason,
                "reason_label": REASON_LABELS.get(r.reason, r.reason),
                "comment": r.comment,
            }
        )
    return out
