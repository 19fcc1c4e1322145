"""Reads with the caller's visibility: a client sees only its own objects (another tenant's id
answers 404, never 403, so existence does not leak); an annotator sees only their assignments."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet

from annotation.models import Annotator, Batch, ExportJob, Project, Task
from clients.errors import NotFound, PermissionDenied
from clients.models import Client, User


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
        raise PermissionDenied("This endpoint is for annotators; your account has no annotator profile.", code="not_an_annotator")
    return annotator
