"""``/v2/``: what the ``scaleapi`` SDK's v2 client (``client.v2``) calls, over Quorum's objects.

Authentication, errors (``{"status_code", "error"}``) and test mode are those of ``/v1/``
(``ScaleView``); the SDK sends ``Authorization: Bearer <key>``. Lists page newest first with
``next_token`` (the id of the last item sent; absent on the last page). Objects are found by id
or by name (``project_id`` / ``project_name``, ``batch_id`` / ``batch_name``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from django.db.models import Count, Max
from django.db.models.functions import TruncDate

from annotation import selectors, services
from annotation.models import Batch, Project, Task, TaskType
from annotation.scale_api.base import ScaleView
from annotation.scale_api.params import MAX_PAGE, body_object, fail, integer, many, one, string, timestamp
from annotation.scale_api.v2.payloads import batch_v2, delivery_id, delivery_v2, project_v2, task_v2
from annotation.services import batch_control
from clients.api.access import LIVE_CONFIG, WRITE
from core.errors import DomainError, NotFound

CHAT_TYPES = (TaskType.COMPARISON, TaskType.TEXT_COLLECTION)


def _expand(query) -> set[str]:
    """``expand`` values; the SDK on Python 3.11 sends its enums as ``ExpandableEnumTask.PROJECT``."""
    return {value.rsplit(".", 1)[-1].lower() for value in many(query, "expand")}


def _project(client, source: dict, *, required: bool = True) -> Project | None:
    project_id, name = source.get("project_id"), source.get("project_name")
    if project_id:
        return selectors.project_get_for_client(client=client, project_id=project_id)
    if name:
        return selectors.project_get_by_name_for_client(client=client, name=name)
    if required:
        raise fail("project_id", "give project_id or project_name")
    return None


def _batch(client, source: dict, *, required: bool = True) -> Batch | None:
    batch_id, name = source.get("batch_id"), source.get("batch_name")
    if batch_id:
        return selectors.batch_get_for_client(client=client, batch_id=batch_id)
    if name:
        return selectors.batch_get_by_name_for_client(client=client, name=name)
    if required:
        raise fail("batch_id", "give batch_id or batch_name")
    return None


def _query(request) -> dict:
    return {k: one(request.query_params, k) for k in request.query_params}


def _keyset(query, queryset, *, key: str = "id"):
    """Newest first by id (UUIDv7: creation order); ``next_token`` = the last id sent."""
    limit = integer(query, "limit", default=MAX_PAGE, low=1, high=MAX_PAGE)
    token = one(query, "next_token")
    ordered = queryset.order_by(f"-{key}")
    if token:
        try:
            ordered = ordered.filter(**{f"{key}__lt": uuid.UUID(hex=token)})
        except ValueError as exc:
            raise fail("next_token", "is not a token this API gave") from exc
    rows = list(ordered[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].pk.hex if more else None)


def _completed_between(query, qs):
    if (after := timestamp(query, "completed_after")) is not None:
        qs = qs.filter(completed_at__gte=after)
    if (before := timestamp(query, "completed_before")) is not None:
        qs = qs.filter(completed_at__lt=before)
    return qs


# --- tasks ---------------------------------------------------------------------------------------


class TaskView(ScaleView):
    def get(self, request):
        query = request.query_params
        task_id = one(query, "task_id")
        if not task_id:
            raise fail("task_id", "required")
        task = selectors.task_get_for_client(client=self.client(), task_id=task_id, is_test=self.is_test)
        return self.ok(task_v2(task, expand=_expand(query)))


class TaskListView(ScaleView):
    def get(self, request):
        query = request.query_params
        client = self.client()
        qs = selectors.task_list_for_client(client=client, is_test=self.is_test)
        values = _query(request)
        if (project := _project(client, values, required=False)) is not None:
            qs = qs.filter(project=project)
        if (batch := _batch(client, values, required=False)) is not None:
            qs = qs.filter(batch=batch)
        if status := one(query, "status"):
            if status not in Task.Status.values:
                raise fail("status", f"must be one of {', '.join(Task.Status.values)}")
            qs = qs.filter(status=status)
        rows, token = _keyset(query, _completed_between(query, qs))
        expand = _expand(query)
        return self.ok({"tasks": [task_v2(t, expand=expand) for t in rows], "next_token": token})


class ChatTaskView(ScaleView):
    """``create_chat_task``: a task on a ``comparison`` or ``textcollection`` project, its
    ``template_variables`` overlaid on the project's params (``prompt`` and ``responses`` for a
    comparison; ``attachments`` and ``fields`` for a text collection)."""

    def post(self, request):
        client = self.client(WRITE)
        body = body_object(request.data)
        batch = _batch(client, body, required=False)
        project = _project(client, body, required=batch is None) or batch.project
        if batch is not None and batch.project_id != project.id:
            raise fail("batch_id", f"batch {batch.name!r} belongs to project {batch.project.name!r}")
        if project.task_type not in CHAT_TYPES:
            raise fail(
                "project_id",
                f"project {project.name!r} runs {project.task_type} tasks; chat tasks run on comparison "
                "or textcollection projects",
            )
        variables = body.get("template_variables") or {}
        metadata = body.get("metadata") or {}
        if not isinstance(variables, dict):
            raise fail("template_variables", "must be an object")
        if not isinstance(metadata, dict):
            raise fail("metadata", "must be an object")
        item = {"params": variables, "metadata": metadata}
        if callback := string(body, "callback_url"):
            item["callback_url"] = callback
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
            exc.message = exc.message.removeprefix("tasks[0].").replace("params.", "template_variables.", 1)
            raise
        services.attachment_checks_schedule([result.task])
        task = selectors.task_get_for_client(client=client, task_id=result.task.id, is_test=self.is_test)
        return self.ok(task_v2(task))


class TaskMetadataView(ScaleView):
    def post(self, request):
        client = self.client(WRITE)
        body = body_object(request.data)
        task_id = string(body, "task_id", required=True)
        metadata = body.get("metadata")
        if body.get("merge"):
            task = batch_control.task_merge_metadata(
                client=client, actor=request.user, task_id=task_id, metadata=metadata, is_test=self.is_test
            )
        else:
            task = services.task_set_metadata(
                client=client, actor=request.user, task_id=task_id, metadata=metadata, is_test=self.is_test
            )
        task = selectors.task_get_for_client(client=client, task_id=task.id, is_test=self.is_test)
        return self.ok(task_v2(task))


# --- batches -------------------------------------------------------------------------------------


class BatchView(ScaleView):
    def get(self, request):
        batch = _batch(self.client(), _query(request))
        return self.ok(batch_v2(batch, expand=_expand(request.query_params)))

    def post(self, request):
        client = self.client(WRITE)
        body = body_object(request.data)
        project = _project(client, body)
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise fail("metadata", "must be an object")
        batch = services.batch_create(
            client=client,
            actor=request.user,
            project=project,
            name=string(body, "name", required=True),
            callback_url=string(body, "callback") or "",
            metadata=metadata,
        )
        # Scale's v2 default (staging_batch false) is a batch that is worked at once; finalizing
        # releases live work to annotators, which test keys may not do (as in /v1/).
        if not body.get("staging_batch") and not self.is_test:
            batch = services.batch_finalize(client=client, actor=request.user, batch_id=batch.id)
        return self.ok(batch_v2(batch))


class BatchListView(ScaleView):
    def get(self, request):
        query = request.query_params
        client = self.client()
        qs = selectors.batch_list_for_client(client=client)
        if (project := _project(client, _query(request), required=False)) is not None:
            qs = qs.filter(project=project)
        if status := one(query, "status"):
            if status not in Batch.Status.values:
                raise fail("status", f"must be one of {', '.join(Batch.Status.values)}")
            qs = qs.filter(status=status)
        if (after := timestamp(query, "created_after")) is not None:
            qs = qs.filter(created_at__gte=after)
        if (before := timestamp(query, "created_before")) is not None:
            qs = qs.filter(created_at__lt=before)
        for name in ("completed_after", "completed_before"):
            if timestamp(query, name) is not None:  # Quorum batches have no completion time yet
                qs = qs.none()
        rows, token = _keyset(query, qs)
        expand = _expand(query)
        return self.ok({"batches": [batch_v2(b, expand=expand) for b in rows], "next_token": token})


class BatchActionView(ScaleView):
    """``finalize``, ``pause``, ``resume`` and ``cancel`` with ``{batch_id | batch_name}``."""

    action = ""

    def post(self, request):
        client = self.client(LIVE_CONFIG if self.action == "finalize" else WRITE)
        batch = _batch(client, body_object(request.data))
        if self.action == "finalize":
            return self.ok(
                batch_v2(services.batch_finalize(client=client, actor=request.user, batch_id=batch.id))
            )
        if self.action == "pause":
            batch = batch_control.batch_pause(client=client, actor=request.user, batch_id=batch.id)
            message = "The batch is paused: its pending tasks are not served until it is resumed."
        elif self.action == "resume":
            batch = batch_control.batch_resume(client=client, actor=request.user, batch_id=batch.id)
            message = "The batch is in progress."
        else:
            batch, n = batch_control.batch_cancel(client=client, actor=request.user, batch_id=batch.id)
            message = f"The batch is cancelled; {n} pending task(s) were canceled."
        return self.ok({"batch": batch_v2(batch), "message": message})


class BatchMetadataView(ScaleView):
    def post(self, request):
        client = self.client(WRITE)
        body = body_object(request.data)
        batch = _batch(client, body)
        if body.get("merge"):
            batch = batch_control.batch_merge_metadata(
                client=client, actor=request.user, batch_id=batch.id, metadata=body.get("metadata")
            )
        else:
            batch = services.batch_set_metadata(
                client=client, actor=request.user, batch_id=batch.id, metadata=body.get("metadata")
            )
        return self.ok(batch_v2(selectors.batch_get_for_client(client=client, batch_id=batch.id)))


# --- projects ------------------------------------------------------------------------------------


class ProjectView(ScaleView):
    def get(self, request):
        return self.ok(project_v2(_project(self.client(), _query(request))))


class ProjectListView(ScaleView):
    def get(self, request):
        query = request.query_params
        qs = Project.objects.filter(client=self.client()).order_by("-created_at", "-id")
        if (after := timestamp(query, "created_after")) is not None:
            qs = qs.filter(created_at__gte=after)
        if (before := timestamp(query, "created_before")) is not None:
            qs = qs.filter(created_at__lt=before)
        return self.ok({"projects": [project_v2(p) for p in qs]})


# --- deliveries ----------------------------------------------------------------------------------
# A delivery is one project's tasks completed on one UTC day (see payloads).


def _delivered(client, is_test: bool):
    return Task.objects.filter(client=client, is_test=is_test, status=Task.Status.COMPLETED)


def _parse_delivery(client, values: dict, *, required: bool = True):
    """(project, day) of ``delivery_id`` ("<project id>:<YYYY-MM-DD>") or of ``delivery_name``
    (the day) with the project."""
    if ident := values.get("delivery_id"):
        project_part, _, day_part = ident.rpartition(":")
        try:
            day = datetime.strptime(day_part, "%Y-%m-%d").date()
        except ValueError as exc:
            raise NotFound(f"Delivery {ident!r} not found.") from exc
        return selectors.project_get_for_client(client=client, project_id=project_part), day
    if name := values.get("delivery_name"):
        project = _project(client, values)
        try:
            return project, datetime.strptime(name, "%Y-%m-%d").date()
        except ValueError as exc:
            raise NotFound(f"Delivery {name!r} not found.") from exc
    if required:
        raise fail("delivery_id", "give delivery_id, or delivery_name with project_id or project_name")
    return None


def _day_range(day):
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


class DeliveryListView(ScaleView):
    def get(self, request):
        query = request.query_params
        client = self.client()
        qs = _delivered(client, self.is_test)
        if (project := _project(client, _query(request), required=False)) is not None:
            qs = qs.filter(project=project)
        if (after := timestamp(query, "delivered_after")) is not None:
            qs = qs.filter(completed_at__gte=after)
        if (before := timestamp(query, "delivered_before")) is not None:
            qs = qs.filter(completed_at__lt=before)
        rows = (
            qs.annotate(day=TruncDate("completed_at", tzinfo=UTC))
            .values("project_id", "day")
            .annotate(n=Count("id"), last=Max("completed_at"))
            .order_by("-day", "project_id")
        )
        projects = {p.id: p for p in Project.objects.filter(client=client)}
        expand = _expand(query)
        return self.ok(
            {
                "deliveries": [
                    delivery_v2(
                        projects[r["project_id"]],
                        r["day"],
                        task_count=r["n"],
                        delivered_at=r["last"],
                        expand=expand,
                    )
                    for r in rows
                ]
            }
        )


class DeliveryView(ScaleView):
    """``get_delivery``: the delivery and its tasks (v2 task objects), paged by ``next_token``."""

    def get(self, request):
        query = request.query_params
        client = self.client()
        project, day = _parse_delivery(client, _query(request))
        start, end = _day_range(day)
        qs = _delivered(client, self.is_test).filter(
            project=project, completed_at__gte=start, completed_at__lt=end
        )
        summary = qs.aggregate(n=Count("id"), last=Max("completed_at"))
        if not summary["n"]:
            raise NotFound(f"Delivery {delivery_id(project.id, day)!r} not found.")
        rows, token = _keyset(query, qs.select_related("project", "batch"))
        expand = _expand(query)
        return self.ok(
            {
                "delivery": delivery_v2(
                    project, day, task_count=summary["n"], delivered_at=summary["last"], expand=expand
                ),
                "tasks": [task_v2(t, expand=expand) for t in rows],
                "next_token": token,
            }
        )


class DeliveryTasksView(ScaleView):
    """``get_delivery_tasks``: ``{docs: [{task_id, created_at, delivery_id, delivered_at,
    response}], total, next_token}`` for one delivery or a project's tasks (undelivered ones with
    null delivery fields)."""

    def get(self, request):
        query = request.query_params
        client = self.client()
        values = _query(request)
        qs = Task.objects.filter(client=client, is_test=self.is_test)
        parsed = _parse_delivery(client, values, required=False)
        if parsed is not None:
            project, day = parsed
            start, end = _day_range(day)
            qs = qs.filter(
                project=project, status=Task.Status.COMPLETED, completed_at__gte=start, completed_at__lt=end
            )
        else:
            qs = qs.filter(project=_project(client, values))
        if status := one(query, "status"):
            if status not in Task.Status.values:
                raise fail("status", f"must be one of {', '.join(Task.Status.values)}")
            qs = qs.filter(status=status)
        qs = _completed_between(query, qs)
        rows, token = _keyset(query, qs)
        docs = []
        for task in rows:
            delivered = task.status == Task.Status.COMPLETED and task.completed_at is not None
            docs.append(
                {
                    "task_id": str(task.id),
                    "created_at": task.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    "delivery_id": delivery_id(task.project_id, task.completed_at.astimezone(UTC).date())
                    if delivered
                    else None,
                    "delivered_at": task.completed_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
                    if delivered
                    else None,
                    "response": task.response if delivered and isinstance(task.response, dict) else None,
                }
            )
        return self.ok({"docs": docs, "total": len(docs), "next_token": token})
