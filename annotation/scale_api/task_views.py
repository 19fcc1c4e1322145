"""``/v1/task…`` and ``/v1/tasks``: create, read, list, cancel, audit and edit tasks."""

from __future__ import annotations

from django.db.models import OuterRef, Q, Subquery

from annotation import selectors, services
from annotation.models import Task, TaskAudit
from annotation.scale_api.base import ScaleView, supported_task_types
from annotation.scale_api.errors import NotEnabled
from annotation.scale_api.pagination import task_page
from annotation.scale_api.params import (
    body_list,
    body_object,
    boolean,
    fail,
    many,
    one,
    string,
    task_item,
    timestamp,
)
from annotation.scale_api.payloads import task_doc, task_docs
from clients.api.access import WRITE
from core.errors import Conflict, DomainError

REVIEW_STATUSES = ("accepted", "fixed", "commented", "rejected", "pending")


def _strip_index(exc: DomainError) -> DomainError:
    """The bulk service names fields ``tasks[0].…``; one task was sent, so drop the index."""
    exc.message = exc.message.removeprefix("tasks[0].")
    return exc


class TaskView(ScaleView):
    """``GET task/{task_id}`` reads a task; ``POST task/{task_type}`` creates one of that type."""

    def get(self, request, key):
        task = selectors.task_get_for_client(client=self.client(), task_id=key, is_test=self.is_test)
        return self.ok(task_doc(task))

    def post(self, request, key):
        supported = supported_task_types()
        if key not in supported:
            raise NotEnabled(
                f"Task type {key!r} is not enabled on Quorum. Supported task types: {', '.join(supported)}."
            )
        client = self.client(WRITE)
        body = body_object(request.data)
        project_name, batch_name = string(body, "project"), string(body, "batch")
        if not project_name and not batch_name:
            raise fail("project", "required (or give a batch, which implies its project)")
        batch = selectors.batch_get_by_name_for_client(client=client, name=batch_name) if batch_name else None
        project = (
            selectors.project_get_by_name_for_client(client=client, name=project_name)
            if project_name
            else batch.project
        )
        if batch is not None and batch.project_id != project.id:
            raise fail(
                "batch",
                f"batch {batch.name!r} belongs to project {batch.project.name!r}, not {project.name!r}",
            )
        if project.task_type != key:
            raise fail("project", f"project {project.name!r} runs {project.task_type} tasks, not {key}")
        item = task_item(body)
        try:
            [result] = services.task_bulk_create(
                client=client,
                actor=request.user,
                project=project,
                batch=batch,
                items=[item],
                is_test=self.is_test,
            )
        except DomainError as exc:
            raise _strip_index(exc) from None
        services.attachment_checks_schedule([result.task] if result.created else [])
        if not result.created:
            raise Conflict(
                f"unique_id {result.task.unique_id!r} is already used by task {result.task.id}.",
                code="duplicate_unique_id",
            )
        return self.ok(task_doc(result.task))


class TaskCancelView(ScaleView):
    def post(self, request, task_id):
        clear = boolean(request.query_params, "clear_unique_id")
        task = services.task_cancel(
            client=self.client(WRITE),
            actor=request.user,
            task_id=task_id,
            is_test=self.is_test,
            clear_unique_id=clear,
        )
        return self.ok(task_doc(task))


class TaskAuditView(ScaleView):
    def post(self, request, task_id):
        body = body_object(request.data)
        if "accepted" not in body:
            raise fail("accepted", "required (true or false)")
        audit = services.task_audit(
            client=self.client(WRITE),
            actor=request.user,
            task_id=task_id,
            accepted=body["accepted"],
            comments=body.get("comments"),
            is_test=self.is_test,
        )
        return self.ok(
            task_doc(
                selectors.task_get_for_client(
                    client=audit.client, task_id=audit.task_id, is_test=self.is_test
                )
            )
        )


class TaskUniqueIdView(ScaleView):
    def post(self, request, task_id):
        body = body_object(request.data)
        task = services.task_set_unique_id(
            client=self.client(WRITE),
            actor=request.user,
            task_id=task_id,
            unique_id=body.get("unique_id"),
            is_test=self.is_test,
        )
        return self.ok(task_doc(task))

    def delete(self, request, task_id):
        task = services.task_clear_unique_id(
            client=self.client(WRITE), actor=request.user, task_id=task_id, is_test=self.is_test
        )
        return self.ok(task_doc(task))


class TaskMetadataView(ScaleView):
    def post(self, request, task_id):
        metadata = body_object(request.data, "metadata")
        task = services.task_set_metadata(
            client=self.client(WRITE),
            actor=request.user,
            task_id=task_id,
            metadata=metadata,
            is_test=self.is_test,
        )
        return self.ok(task_doc(task))


class TaskTagsView(ScaleView):
    """POST replaces the tags, PUT adds, DELETE removes; the body is a JSON array of strings."""

    def _edit(self, service, request, task_id):
        tags = body_list(request.data)
        task = service(
            client=self.client(WRITE), actor=request.user, task_id=task_id, tags=tags, is_test=self.is_test
        )
        return self.ok(task_doc(task))

    def post(self, request, task_id):
        return self._edit(services.task_set_tags, request, task_id)

    def put(self, request, task_id):
        return self._edit(services.task_add_tags, request, task_id)

    def delete(self, request, task_id):
        return self._edit(services.task_remove_tags, request, task_id)


class TaskListView(ScaleView):
    """``GET tasks`` with every filter the SDK's ``tasks()`` / ``get_tasks()`` can send."""

    def get(self, request):
        query = request.query_params
        client = self.client()
        qs = selectors.task_list_for_client(client=client, is_test=self.is_test)
        if name := one(query, "project"):
            qs = qs.filter(project=selectors.project_get_by_name_for_client(client=client, name=name))
        if name := one(query, "batch"):
            qs = qs.filter(batch=selectors.batch_get_by_name_for_client(client=client, name=name))
        if status := one(query, "status"):
            if status not in Task.Status.values:
                raise fail("status", f"must be one of {', '.join(Task.Status.values)}")
            qs = qs.filter(status=status)
        if task_type := one(query, "type"):
            qs = qs.filter(task_type=task_type)
        if unique_ids := many(query, "unique_id"):
            qs = qs.filter(unique_id__in=unique_ids)
        if tags := many(query, "tags"):
            any_tag = Q()
            for tag in tags:
                any_tag |= Q(tags__contains=[tag])
            qs = qs.filter(any_tag)
        for name, lookup in (
            ("start_time", "created_at__gte"), ("end_time", "created_at__lt"),
            ("completed_after", "completed_at__gte"), ("completed_before", "completed_at__lt"),
            ("updated_after", "updated_at__gte"), ("updated_before", "updated_at__lt"),
        ):  # fmt: skip
            if (moment := timestamp(query, name)) is not None:
                qs = qs.filter(**{lookup: moment})
        if reviews := many(query, "customer_review_status", comma=True):
            qs = _filter_review_status(qs, reviews)
        boolean(query, "include_attachment_url", default=True)  # attachments are always URLs as given
        limited = boolean(query, "limited_response")
        rows, page = task_page(query, qs)
        return self.ok({"docs": task_docs(rows, limited=limited), **page})


def _filter_review_status(qs, reviews: list[str]):
    """The client's latest audit: ``accepted`` / ``rejected``; ``pending`` = not audited yet.
    Quorum records no ``fixed`` or ``commented`` audits, so those match nothing."""
    unknown = [r for r in reviews if r not in REVIEW_STATUSES]
    if unknown:
        raise fail("customer_review_status", f"{unknown[0]!r} is not one of {', '.join(REVIEW_STATUSES)}")
    latest = (
        TaskAudit.objects.filter(task=OuterRef("pk")).order_by("-created_at", "-id").values("accepted")[:1]
    )
    qs = qs.annotate(latest_audit=Subquery(latest))
    wanted = Q(pk__in=[])
    if "accepted" in reviews:
        wanted |= Q(latest_audit=True)
    if "rejected" in reviews:
        wanted |= Q(latest_audit=False)
    if "pending" in reviews:
        wanted |= Q(latest_audit__isnull=True)
    return qs.filter(wanted)
