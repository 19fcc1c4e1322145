"""Reads for the client portal's pages, each scoped to the caller's client (another tenant's
object is never in a result; a single object is fetched through ``annotation.selectors``' ``*_for_client``
getters, which answer 404). Annotators are shown to clients under their per-project pseudonyms
(``quality_selectors.pseudonym``) only."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import date

from django.core.paginator import Page, Paginator
from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncDate

from annotation import quality_selectors, selectors
from annotation.models import ExportJob, Project, ProjectParamVersion, Submission, Task
from clients.models import Client, User
from core.models import Event

TASKS_PER_PAGE = 25


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
        out.append(
            {
                "project": project,
                "total": total,
                "completed": completed,
                "pending": row.get("pending", 0),
                "percent": round(100 * completed / total) if total else 0,
                "confidence": row.get("confidence"),
                "charged": row.get("charged") or 0,
            }
        )
    return out


def project_status_counts(*, project: Project) -> dict[str, int]:
    return _status_counts(Task.objects.filter(project=project, is_test=False))


def project_completed_by_day(*, project: Project) -> dict[date, int]:
    rows = (
        Task.objects.filter(
            project=project, is_test=False, status=Task.Status.COMPLETED, completed_at__isnull=False
        )
        .annotate(day=TruncDate("completed_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def project_quality_figures(*, project: Project) -> dict:
    """``quality_selectors.project_quality`` for a client (annotators under pseudonyms), with the
    agreement figures as rows for the page."""
    figures = quality_selectors.project_quality(project=project, reveal_annotators=False)
    agreement = figures["agreement"]
    rows = [{"name": name, **value} for name, value in agreement.items() if isinstance(value, dict)]
    return {**figures, "agreement_rows": rows, "agreement_tasks": agreement.get("tasks", 0)}


def project_task_page(*, client: Client, project: Project, status: str | None, page_number) -> Page:
    qs = selectors.task_list_for_client(client=client).filter(project=project).order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    return Paginator(qs, TASKS_PER_PAGE).get_page(page_number)


def task_submissions(*, task: Task) -> list[dict]:
    submissions = Submission.objects.filter(task=task).order_by("created_at", "id")
    return [
        {
            "submission": s,
            "label": quality_selectors.pseudonym(task.project_id, s.annotator_id),
            "answer": s.answer,
        }
        for s in submissions
    ]


def export_list_all_for_client(*, client: Client, limit: int = 100) -> list[ExportJob]:
    return list(
        ExportJob.objects.filter(client=client, is_test=False)
        .select_related("project")
        .order_by("-created_at")[:limit]
    )


HISTORY_LIMIT = 50
TEXT_LIMIT = 300


def _history_text(value) -> str:
    if value is None or value == "":
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _actor_names(labels: set[str]) -> dict[str, str]:
    """Event actor labels (``user:<id>``, ``apikey:<prefix>``, ``system``) as words: a user's
    e-mail address, ``API key <prefix>…``, ``Quorum``."""
    user_ids = []
    for label in labels:
        if label.startswith("user:"):
            with contextlib.suppress(ValueError):
                user_ids.append(uuid.UUID(label.partition(":")[2]))
    emails = {
        f"user:{pk}": email for pk, email in User.objects.filter(pk__in=user_ids).values_list("pk", "email")
    }
    names = {}
    for label in labels:
        kind, _, rest = label.partition(":")
        if label in emails:
            names[label] = emails[label]
        elif kind == "apikey":
            names[label] = f"API key {rest}…"
        elif label == "system":
            names[label] = "Quorum"
        else:
            names[label] = label
    return names


def project_history(*, project: Project) -> dict:
    """Who changed the project's settings, what and when (its event rows, newest first, the last
    50), and every version of its labels/params and instructions (newest first)."""
    events = list(
        Event.objects.filter(
            entity_type="project",
            entity_id=project.pk,
            client_id=project.client_id,
            kind__startswith="project.",
        ).order_by("-id")[:HISTORY_LIMIT]
    )
    names = _actor_names({e.actor for e in events})
    changes = []
    for event in events:
        before = event.before if isinstance(event.before, dict) else {}
        after = event.after if isinstance(event.after, dict) else {}
        changes.append(
            {
                "at": event.created_at,
                "who": names[event.actor],
                "kind": event.kind.partition(".")[2].replace("_", " "),
                "fields": [
                    {
                        "name": field.replace("_", " "),
                        "before": _history_text(before.get(field)) if field in before else "",
                        "after": _history_text(after.get(field)),
                    }
                    for field in after
                ],
            }
        )
    versions = [
        {
            "version": v.version,
            "at": v.created_at,
            "params": json.dumps(v.params, indent=2, ensure_ascii=False),
            "instructions": v.instructions,
        }
        for v in ProjectParamVersion.objects.filter(project=project).order_by("-version")
    ]
    return {"changes": changes, "versions": versions}
