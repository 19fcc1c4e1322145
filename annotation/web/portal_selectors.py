"""Reads for the client portal's pages, each scoped to the caller's client (another tenant's
object is never in a result; a single object is fetched through ``annotation.selectors``' ``*_for_client``
getters, which answer 404). Annotators are shown to clients under stable anonymous labels only."""

from __future__ import annotations

import hashlib
from datetime import date

from django.core.paginator import Page, Paginator
from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncDate

from annotation import selectors
from annotation.models import ExportJob, Project, Submission, Task
from clients.models import Client

TASKS_PER_PAGE = 25


def anonymous_label(project_id, annotator_id) -> str:
    """The same annotator gets the same label within a project, and unrelated labels across projects."""
    return "Annotator " + hashlib.sha256(f"{project_id}:{annotator_id}".encode()).hexdigest()[:6]


def _status_counts(qs) -> dict[str, int]:
    counts = dict.fromkeys(Task.Status.values, 0)
    counts.update(dict(qs.values_list("status").annotate(n=Count("id")).order_by()))
    return counts


def project_overview_for_client(*, client: Client) -> list[dict]:
    """Every project of the client with its progress, quality and spend at a glance (live tasks)."""
    projects = list(selectors.project_list_for_client(client=client))
    rows = (
        Task.objects.filter(client=client, is_test=False)
        .values("project_id")
        .annotate(
            total=Count("id"),
            completed=Count("id", filter=Q(status=Task.Status.COMPLETED)),
            pending=Count("id", filter=Q(status=Task.Status.PENDING)),
            confidence=Avg("confidence", filter=Q(status=Task.Status.COMPLETED)),
            charged=Sum("price", filter=Q(status=Task.Status.COMPLETED)),
        )
        .order_by()
    )
    by_project = {row["project_id"]: row for row in rows}
    out = []
    for project in projects:
        row = by_project.get(project.id, {})
        total, completed = row.get("total", 0), row.get("completed", 0)
        out.append({
            "project": project, "total": total, "completed": completed, "pending": row.get("pending", 0),
            "percent": round(100 * completed / total) if total else 0, "confidence": row.get("confidence"),
            "charged": row.get("charged") or 0,
        })
    return out


def project_status_counts(*, project: Project) -> dict[str, int]:
    return _status_counts(Task.objects.filter(project=project, is_test=False))


def project_completed_by_day(*, project: Project) -> dict[date, int]:
    rows = (Task.objects.filter(project=project, is_test=False, status=Task.Status.COMPLETED, completed_at__isnull=False)
            .annotate(day=TruncDate("completed_at")).values_list("day").annotate(n=Count("id")).order_by())
    return dict(rows)


def project_quality_figures(*, project: Project) -> dict:
    """Agreement and per-annotator figures. ``annotation.selectors.project_quality`` (the quality
    work of issue 3) is used when present; until then, what the data already holds: the mean
    consensus confidence of completed tasks, and per annotator their answers, how many were
    accepted or rejected, and their mean time per answer."""
    quality = getattr(selectors, "project_quality", None)
    if quality is not None:
        return {"source": "project_quality", "figures": quality(project=project)}
    tasks = Task.objects.filter(project=project, is_test=False, status=Task.Status.COMPLETED)
    agreement = tasks.aggregate(mean=Avg("confidence"), scored=Count("id", filter=Q(confidence__isnull=False)))
    per_annotator = (
        Submission.objects.filter(task__project=project, task__is_test=False)
        .values("annotator_id")
        .annotate(
            answers=Count("id"),
            accepted=Count("id", filter=Q(status=Submission.Status.ACCEPTED)),
            rejected=Count("id", filter=Q(status=Submission.Status.REJECTED)),
            mean_ms=Avg("duration_ms"),
        )
        .order_by("-answers", "annotator_id")
    )
    annotators = [
        {**row, "label": anonymous_label(project.id, row["annotator_id"]),
         "mean_seconds": round((row["mean_ms"] or 0) / 1000, 1)}
        for row in per_annotator
    ]
    return {"source": "basic", "agreement": agreement["mean"], "scored": agreement["scored"], "annotators": annotators}


def project_task_page(*, client: Client, project: Project, status: str | None, page_number) -> Page:
    qs = selectors.task_list_for_client(client=client).filter(project=project).order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    return Paginator(qs, TASKS_PER_PAGE).get_page(page_number)


def task_submissions(*, task: Task) -> list[dict]:
    submissions = Submission.objects.filter(task=task).order_by("created_at", "id")
    return [
        {"submission": s, "label": anonymous_label(task.project_id, s.annotator_id), "answer": s.answer}
        for s in submissions
    ]


def export_list_all_for_client(*, client: Client, limit: int = 100) -> list[ExportJob]:
    return list(ExportJob.objects.filter(client=client, is_test=False).select_related("project").order_by("-created_at")[:limit])
