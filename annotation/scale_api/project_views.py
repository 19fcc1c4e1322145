"""``/v1/batches…`` and ``/v1/projects…``. Names are path segments: the SDK percent-encodes them
and the server sees them decoded, which is why names containing ``/`` are refused at creation."""

from __future__ import annotations

from annotation import selectors, services
from annotation.models import Batch, Project
from annotation.scale_api.base import ScaleView, supported_task_types
from annotation.scale_api.errors import NotEnabled
from annotation.scale_api.pagination import batch_page
from annotation.scale_api.params import body_object, boolean, fail, one, string, timestamp
from annotation.scale_api.payloads import batch_doc, project_doc, template_doc
from clients.api.access import LIVE_CONFIG, WRITE

# --- batches ---------------------------------------------------------------------------------------


class BatchListView(ScaleView):
    def get(self, request):
        query = request.query_params
        client = self.client()
        qs = selectors.batch_list_for_client(client=client)
        if name := one(query, "project"):
            qs = qs.filter(project=selectors.project_get_by_name_for_client(client=client, name=name))
        if status := one(query, "status"):
            if status not in Batch.Status.values:
                raise fail("status", f"must be one of {', '.join(Batch.Status.values)}")
            qs = qs.filter(status=status)
        if (start := timestamp(query, "start_time")) is not None:
            qs = qs.filter(created_at__gte=start)
        if (end := timestamp(query, "end_time")) is not None:
            qs = qs.filter(created_at__lt=end)
        if boolean(query, "exclude_archived"):
            qs = qs.exclude(project__status=Project.Status.ARCHIVED)
        rows, page = batch_page(query, qs)
        return self.ok({"docs": [batch_doc(b) for b in rows], **page})

    def post(self, request):
        client = self.client(WRITE)
        body = body_object(request.data)
        for flag in ("calibration_batch", "self_label_batch"):
            if body.get(flag) not in (None, False):
                raise fail(flag, "Quorum does not run calibration or self-label batches; send false")
        project = selectors.project_get_by_name_for_client(
            client=client, name=string(body, "project", required=True)
        )
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
        return self.ok(batch_doc(batch))


class BatchDetailView(ScaleView):
    def get(self, request, name):
        return self.ok(batch_doc(selectors.batch_get_by_name_for_client(client=self.client(), name=name)))


class BatchFinalizeView(ScaleView):
    def post(self, request, name):
        # Finalizing releases live tasks to annotators (and so to charges): live keys only, as natively.
        client = self.client(LIVE_CONFIG)
        batch = selectors.batch_get_by_name_for_client(client=client, name=name)
        batch = services.batch_finalize(client=client, actor=request.user, batch_id=batch.id)
        return self.ok(batch_doc(batch))


class BatchStatusView(ScaleView):
    def get(self, request, name):
        batch = selectors.batch_get_by_name_for_client(client=self.client(), name=name)
        counts = selectors.batch_task_counts(batch=batch, is_test=self.is_test)
        return self.ok({"status": batch.status, **counts})


class BatchMetadataView(ScaleView):
    def post(self, request, name):
        client = self.client(WRITE)
        batch = selectors.batch_get_by_name_for_client(client=client, name=name)
        metadata = body_object(request.data, "metadata")
        batch = services.batch_set_metadata(
            client=client, actor=request.user, batch_id=batch.id, metadata=metadata
        )
        return self.ok(batch_doc(batch))


# --- projects --------------------------------------------------------------------------------------


class ProjectListView(ScaleView):
    def get(self, request):
        projects = selectors.project_list_with_versions_for_client(client=self.client())
        return self.ok([project_doc(p, p.param_versions_ordered) for p in projects])

    def post(self, request):
        body = body_object(request.data)
        task_type = string(body, "type", required=True)
        supported = supported_task_types()
        if task_type not in supported:
            raise NotEnabled(
                f"Task type {task_type!r} is not enabled on Quorum. Supported task types: "
                f"{', '.join(supported)}."
            )
        params = body.get("params")
        if params is not None and not isinstance(params, dict):
            raise fail("params", "must be an object or null")
        params = dict(params or {})
        instruction = params.pop("instruction", None)
        if instruction is not None and not isinstance(instruction, str):
            raise fail("params.instruction", "must be a string")
        project = services.project_create(
            client=self.client(WRITE),
            actor=request.user,
            name=string(body, "name", required=True),
            task_type=task_type,
            params=params,
            instructions=instruction or "",
        )
        return self.ok(project_doc(project))


class ProjectDetailView(ScaleView):
    def get(self, request, name):
        return self.ok(project_doc(selectors.project_get_by_name_for_client(client=self.client(), name=name)))


class ProjectSetParamsView(ScaleView):
    """Scale's ``setParams``: the body's keys are the new params; ``instruction`` sets the
    instructions; ``patch: true`` merges into the current params instead of replacing them."""

    def post(self, request, name):
        client = self.client(LIVE_CONFIG)
        project = selectors.project_get_by_name_for_client(client=client, name=name)
        body = body_object(request.data)
        patch = body.pop("patch", False)
        if not isinstance(patch, bool):
            raise fail("patch", "must be true or false")
        instruction = body.pop("instruction", None)
        nested = body.pop("params", None)
        if nested is not None and not isinstance(nested, dict):
            raise fail("params", "must be an object")
        body = {**(nested or {}), **body}  # top-level keys, as Scale documents; a nested "params" too
        project = services.project_set_params(
            client=client,
            actor=request.user,
            project_id=project.id,
            params=body,
            instructions=instruction,
            patch=patch,
        )
        return self.ok(project_doc(project))


class ProjectTemplateView(ScaleView):
    def get(self, request, name):
        return self.ok(
            template_doc(selectors.project_get_by_name_for_client(client=self.client(), name=name))
        )
