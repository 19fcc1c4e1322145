"""Native API: project exports (queued jobs with a download) and attachment uploads."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors, services, storage
from annotation.exports import FORMATS
from annotation.models import ExportJob
from annotation.services.exports import download_path
from clients.api.access import WRITE, caller_client, caller_is_test_mode
from core import strict
from core.errors import Conflict, ValidationFailed
from core.pagination import NewestFirstCursor


class ExportIn(serializers.Serializer):
    format = serializers.CharField(
        max_length=40,
        help_text=f"One of {', '.join(FORMATS)}. coco/yolo: imageannotation; csv: categorization, "
        "textcollection; preference_jsonl: comparison; jsonl: every type.",
    )
    options = serializers.JSONField(
        required=False,
        help_text=(
            "include_answers (bool, default false: every individual answer with an anonymous annotator id), "
            "statuses (task statuses, default [completed]), batch (a batch id), source (coco/yolo: response "
            "| gold), ranking_pairs (jsonl/preference_jsonl: adjacent | all)."
        ),
    )


class ExportOut(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id", "project", "format", "options", "status", "task_count", "file_size", "content_type",
            "report", "error",
            "attempts", "created_at", "started_at", "finished_at", "download_url",
        ]  # fmt: skip

    def get_download_url(self, job) -> str | None:
        if job.status != ExportJob.Status.READY:
            return None
        request = self.context.get("request")
        path = download_path(job)
        return request.build_absolute_uri(path) if request is not None else path


class ExportListView(APIView):
    pagination_class = NewestFirstCursor

    @extend_schema(responses=ExportOut(many=True), summary="List a project's exports (newest first)")
    def get(self, request, project_id):
        client = caller_client(request)
        project = selectors.project_get_for_client(client=client, project_id=project_id)
        jobs = selectors.export_list_for_client(
            client=client, project=project, is_test=caller_is_test_mode(request)
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response(ExportOut(page, many=True, context={"request": request}).data)

    @extend_schema(
        request=ExportIn,
        responses={202: ExportOut, 200: ExportOut},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        summary="Start an export of the project's tasks",
        description=(
            "202 with the queued job; poll `GET …/exports/{id}` until `status` is `ready` (or `failed`), "
            "then download `download_url`. The client's webhook endpoints get `export.ready` / "
            "`export.failed`. With an `Idempotency-Key` already used, 200 with that job."
        ),
    )
    def post(self, request, project_id):
        client = caller_client(request, WRITE)
        project = selectors.project_get_for_client(client=client, project_id=project_id)
        data = strict.validated(ExportIn, request.data)
        result = services.export_create(
            client=client, actor=request.user, project=project, format=data["format"],
            options=data.get("options"), is_test=caller_is_test_mode(request),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )  # fmt: skip
        body = ExportOut(result.job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED if result.created else status.HTTP_200_OK)


class ExportDetailView(APIView):
    @extend_schema(responses=ExportOut, summary="Get an export: status, report and download link")
    def get(self, request, project_id, export_id):
        job = selectors.export_get_for_client(
            client=caller_client(request),
            project_id=project_id,
            export_id=export_id,
            is_test=caller_is_test_mode(request),
        )
        return Response(ExportOut(job, context={"request": request}).data)


class ExportDownloadView(APIView):
    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The export file"
            )
        },
        summary="Download a ready export (streamed)",
        description="409 `export_not_ready` while the job is queued or running, or when it failed.",
    )
    def get(self, request, project_id, export_id):
        job = selectors.export_get_for_client(
            client=caller_client(request),
            project_id=project_id,
            export_id=export_id,
            is_test=caller_is_test_mode(request),
        )
        if job.status != ExportJob.Status.READY:
            raise Conflict(
                f"The export is {job.status}; it can be downloaded once ready.", code="export_not_ready"
            )
        response = FileResponse(
            storage.open_for_read(job.file_name), as_attachment=True,
            filename=services.export_download_name(job),
            content_type=job.content_type or "application/octet-stream",
        )  # fmt: skip
        response["Content-Length"] = str(job.file_size)
        return response


class AttachmentOut(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField(help_text="Use as a task's params.attachment.")
    name = serializers.CharField(help_text="The storage name.")
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    width = serializers.IntegerField(
        allow_null=True, help_text="Images: pixels, for params.attachment_width."
    )
    height = serializers.IntegerField(
        allow_null=True, help_text="Images: pixels, for params.attachment_height."
    )


class AttachmentIn(serializers.Serializer):
    file = serializers.FileField()


# A multipart body carries boundaries and part headers around the file.
MULTIPART_OVERHEAD = 64 * 1024


class AttachmentUploadView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": AttachmentIn},
        responses={201: AttachmentOut},
        summary="Upload a file to use as a task attachment",
        description=(
            "Multipart form with one field `file`. Accepted types are recognised from the bytes (default: "
            f"{', '.join(settings.QUORUM_ATTACHMENT_TYPES)}); others answer 415 `unsupported_media_type`. "
            "Over the size limit: 413 `file_too_large`."
        ),
    )
    def post(self, request, project_id):
        client = caller_client(request, WRITE)
        project = selectors.project_get_for_client(client=client, project_id=project_id)
        limit = settings.QUORUM_ATTACHMENT_MAX_BYTES
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > limit + MULTIPART_OVERHEAD:  # refuse before reading the body
            raise ValidationFailed(
                f"file: the request is {declared} bytes, over the {limit}-byte limit", code="file_too_large",
                status_code=413, details={"field": "file", "max_bytes": limit},
            )  # fmt: skip
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(
                "file: a multipart field named file is required",
                code="missing_file",
                details={"field": "file"},
            )
        stored = services.attachment_upload(
            client=client, actor=request.user, project=project, upload=upload, size=upload.size
        )
        body = {
            "id": stored.id,
            "url": request.build_absolute_uri(stored.url) if stored.url.startswith("/") else stored.url,
            "name": stored.name, "size": stored.size, "content_type": stored.content_type,
            "width": stored.width, "height": stored.height,
        }  # fmt: skip
        return Response(AttachmentOut(body).data, status=status.HTTP_201_CREATED)
