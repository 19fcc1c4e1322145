"""Reads with the caller's visibility: a client sees only its own objects (another tenant's id
answers 404, never 403, so existence does not leak); an annotator sees only their assignments."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from annotation.models import (
    Annotator,
    Assignment,
    Batch,
    ExportJob,
    Project,
    ProjectParamVersion,
    Review,
    Submission,
    Task,
    TaskAudit,
)
from clients.models import Client, User
from core.errors import NotFound, PermissionDenied
from core.models import WebhookDelivery
from core.sqlrows import loaded


def _get(qs: QuerySet, pk, what: str):
    """``qs.get(pk=pk)``, with a missing, foreign or malformed id all answering 404."""
    try:
        return qs.get(pk=pk)
    except (qs.model.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound(f"{what} not found.") from exc


def project_list_for_client(*, client: Client) -> QuerySet[Project]:
    return Project.objects.filter(client=client).order_by("-created_at")


def project_get_for_client(*, client: Client, project_id) -> Project:
    return _get(Project.objects.filter(client=client), project_id, "Project")


def project_get_by_name_for_client(*, client: Client, name: str) -> Project:
    try:
        return Project.objects.get(client=client, name=name)
    except Project.DoesNotExist as exc:
        raise NotFound(f"Project {name!r} not found.") from exc


def batch_list_for_client(*, client: Client) -> QuerySet[Batch]:
    return Batch.objects.filter(client=client).select_related("project").order_by("-created_at")


def batch_get_for_client(*, client: Client, batch_id) -> Batch:
    return _get(Batch.objects.filter(client=client).select_related("project"), batch_id, "Batch")


def batch_get_by_name_for_client(*, client: Client, name: str) -> Batch:
    try:
        return Batch.objects.select_related("project").get(client=client, name=name)
    except Batch.DoesNotExist as exc:
        raise NotFound(f"Batch {name!r} not found.") from exc


def batch_task_counts(*, batch: Batch, is_test: bool = False) -> dict[str, int]:
    """The batch's tasks of one mode, counted by status (every status present, 0 when none)."""
    counts = dict.fromkeys(Task.Status.values, 0)
    rows = (
        Task.objects.filter(batch=batch, is_test=is_test)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts.update(dict(rows))
    return counts


def project_list_with_versions_for_client(*, client: Client) -> list[Project]:
    """Oldest first, each with ``param_versions_ordered`` loaded (two queries in all)."""
    versions = Prefetch(
        "param_versions",
        queryset=ProjectParamVersion.objects.order_by("version"),
        to_attr="param_versions_ordered",
    )
    return list(Project.objects.filter(client=client).order_by("created_at", "id").prefetch_related(versions))


def project_param_versions(*, project: Project) -> list[ProjectParamVersion]:
    return list(ProjectParamVersion.objects.filter(project=project).order_by("version"))


def task_audits_by_task(*, task_ids) -> dict:
    """``{task_id: [TaskAudit, …]}`` oldest first, in one query (for a page of tasks)."""
    out: dict = {}
    for audit in TaskAudit.objects.filter(task_id__in=list(task_ids)).order_by("created_at", "id"):
        out.setdefault(audit.task_id, []).append(audit)
    return out


def task_list_for_client(*, client: Client, is_test: bool = False) -> QuerySet[Task]:
    return Task.objects.filter(client=client, is_test=is_test).select_related("project", "batch")


def task_get_for_client(*, client: Client, task_id, is_test: bool | None = None) -> Task:
    qs = Task.objects.filter(client=client).select_related("project", "batch")
    if is_test is not None:
        qs = qs.filter(is_test=is_test)
    return _get(qs, task_id, "Task")


def export_list_for_client(*, client: Client, project: Project, is_test: bool = False) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(client=client, project=project, is_test=is_test).select_related("project")


def export_get_for_client(*, client: Client, project_id, export_id, is_test: bool = False) -> ExportJob:
    """Another tenant's export, another project's, or the other key mode's: 404."""
    qs = ExportJob.objects.filter(client=client, is_test=is_test).select_related("project")
    try:
        qs = qs.filter(project_id=project_id)
    except (ValueError, DjangoValidationError) as exc:
        raise NotFound("Export not found.") from exc
    return _get(qs, export_id, "Export")


def annotator_for_user(*, user: User) -> Annotator:
    annotator = Annotator.objects.filter(user=user).first() if isinstance(user, User) else None
    if annotator is None:
        raise PermissionDenied(
            "This endpoint is for annotators; your account has no annotator profile.", code="not_an_annotator"
        )
    return annotator


def annotator_ref_for_user(*, user: User) -> Annotator:
    """The caller's annotator for the work endpoints, without a query when the token lookup loaded it
    (``clients.auth`` keeps it for ``QUORUM_AUTH_CACHE_SECONDS``). Only its id and user are to be
    trusted: the claim and the fenced writes read the annotator's state under their own row locks.
    Everything else uses ``annotator_for_user`` (a fresh read)."""
    if isinstance(user, User):
        try:
            cached = user.annotator  # loaded with the token: no query then
        except Annotator.DoesNotExist:
            cached = None
        if cached is not None:
            return loaded(Annotator, id=cached.pk, user_id=user.pk)  # the rest deferred
    return annotator_for_user(user=user)


def assignment_get_for_annotator(*, annotator: Annotator, assignment_id) -> Assignment:
    """One of the annotator's own assignments with its task and project (someone else's: 404)."""
    qs = Assignment.objects.filter(annotator=annotator).select_related("task", "project")
    return _get(qs, assignment_id, "Assignment")


def live_assignments_for_annotator(*, annotator: Annotator) -> list[Assignment]:
    """The annotator's active leases that have not run out, oldest first."""
    return list(
        Assignment.objects.filter(
            annotator=annotator, status=Assignment.Status.ACTIVE, leased_until__gt=timezone.now()
        )
        .select_related("task")
        .order_by("claimed_at")
    )


def submissions_for_annotator(*, annotator: Annotator, limit: int = 50) -> list[Submission]:
    """The annotator's latest submissions, newest first, with their task (for the earnings page)."""
    return list(
        Submission.objects.filter(annotator=annotator).select_related("task").order_by("-created_at")[:limit]
    )


def submission_counts_for_annotator(*, annotator: Annotator) -> dict[str, int]:
    """The annotator's submissions counted by status (every status present, 0 when none)."""
    counts = dict.fromkeys(Submission.Status.values, 0)
    rows = (
        Submission.objects.filter(annotator=annotator)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts.update(dict(rows))
    return counts


def review_get_for_reviewer(*, reviewer: Annotator, review_id) -> Review:
    """A review the reviewer holds right now (assigned to them, not decided); anything else is 404."""
    qs = Review.objects.filter(reviewer=reviewer, status=Review.Status.ASSIGNED).select_related(
        "task", "task__project"
    )
    return _get(qs, review_id, "Review")


def task_callback_outcomes(*, task_ids) -> dict:
    """``{task_id: bool}``: whether each task's completion callback was delivered (True) or has
    failed at least once (False). Tasks with no callback, or one not yet attempted, are absent."""
    keys = {f"task:{task_id}:completed:callback": task_id for task_id in task_ids}
    rows = WebhookDelivery.objects.filter(dedupe_key__in=list(keys), kind=WebhookDelivery.Kind.TASK_CALLBACK)
    out = {}
    for dedupe_key, status, attempts in rows.values_list("dedupe_key", "status", "attempts"):
        if status == WebhookDelivery.Status.DELIVERED:
            out[keys[dedupe_key]] = True
        elif attempts:
            out[keys[dedupe_key]] = False
    return out
