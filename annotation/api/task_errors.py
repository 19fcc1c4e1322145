"""Staff routes for tasks the platform will not serve: set a pending task to ``error`` with a
reason (Scale's error callback goes to the client), or run the attachment check now."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import services
from annotation.api.quality import _parse
from annotation.api.serializers import TaskOut
from annotation.models import Task
from clients.api.access import caller_staff


class PlatformCancelIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class StaffTaskErrorView(APIView):
    @extend_schema(
        request=PlatformCancelIn,
        responses=TaskOut,
        summary="Cancel a pending task as the platform: status error, the client is called back",
        description='The task\'s response becomes {"error": "The task was canceled by the platform: '
        '<reason>"} '
        "(Scale's error shape), live leases are released and committed spend given back. 409 when "
        "the task is not pending.",
    )
    def post(self, request, task_id):
        staff = caller_staff(request)
        data = _parse(PlatformCancelIn, request.data)
        task = services.task_platform_cancel(task_id=task_id, actor=staff, reason=data["reason"])
        return Response(TaskOut(Task.objects.select_related("project", "batch").get(pk=task.pk)).data)


class StaffAttachmentCheckView(APIView):
    @extend_schema(
        request=None,
        responses=OpenApiTypes.OBJECT,
        summary="Run the attachment check of an image task now",
        description="Answers {outcome: ok | error | transient | skipped, detail}; `error` set the task "
        "to error with Scale's error callback.",
    )
    def post(self, request, task_id):
        staff = caller_staff(request)
        result = services.attachment_check(task_id=task_id, actor=staff)
        return Response({"outcome": result.outcome, "detail": result.detail})
