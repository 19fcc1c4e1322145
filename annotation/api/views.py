"""Native REST API for projects, batches, tasks (client side) and work (annotator side)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors, services
from annotation.api.filters import TaskFilter
from annotation.api.serializers import (
    AssignmentOut,
    BatchIn,
    BatchOut,
    BulkResultOut,
    CancelIn,
    ClaimIn,
    NextIn,
    NextOut,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    SubmissionOut,
    SubmitIn,
    TaskBulkIn,
    TaskOut,
)
from annotation.models import Task
from clients.api.access import LIVE_CONFIG, WRITE, caller_client, caller_is_test_mode
from core import gcpause, strict
from core.pagination import NewestFirstCursor, paginated_response


def _parse(serializer_class, data):
    return strict.validated(serializer_class, data)


# The work loop's two bodies in their common, valid forms are taken as they are; anything else
# goes through the serializer, which accepts more spellings (``"3"`` for 3) and words the errors.
# Both give the same validated data for what the fast path takes (tests/annotation/test_work_parsing.py).


def _parse_next(data) -> dict:
    if isinstance(data, dict) and data.keys() <= {"project", "resume"}:
        project, resume = data.get("project"), data.get("resume", True)
        if type(resume) is bool and project is None:
            return {"project": None, "resume": resume} if "project" in data else {"resume": resume}
    return _parse(NextIn, data)


def _parse_submit(data) -> dict:
    if (
        isinstance(data, dict)
        and data.keys() == {"claim_version", "answer"}
        and type(data["claim_version"]) is int
        and data["claim_version"] >= 0
        and type(data["answer"]) is dict
        and all(type(key) is str for key in data["answer"])
    ):
        return {"claim_version": data["claim_version"], "answer": data["answer"]}
    return _parse(SubmitIn, data)


# --- projects ------------------------------------------------------------------------------------


class ProjectListView(APIView):
    pagination_class = NewestFirstCursor

    @extend_schema(
        responses=ProjectOut(many=True),
        summary="List projects (newest first, cursor pagination)",
    )
    def get(self, request):
        projects = selectors.project_list_for_client(client=caller_client(request))
        return paginated_response(request=request, view=self, queryset=projects, serializer_class=ProjectOut)

    @extend_schema(request=ProjectIn, responses={201: ProjectOut}, summary="Create a project")
    def post(self, request):
        data = _parse(ProjectIn, request.data)
        project = services.project_create(client=caller_client(request, WRITE), actor=request.user, **data)
        return Response(ProjectOut(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(APIView):
    @extend_schema(responses=ProjectOut, summary="Get a project")
    def get(self, request, project_id):
        return Response(
            ProjectOut(
                selectors.project_get_for_client(client=caller_client(request), project_id=project_id)
            ).data
        )

    @extend_schema(
        request=ProjectPatch,
        responses=ProjectOut,
        summary="Update a project (overlap and price apply to new tasks)",
    )
    def patch(self, request, project_id):
        changes = _parse(ProjectPatch, request.data)
        project = services.project_update(
            client=caller_client(request, LIVE_CONFIG),
            actor=request.user,
            project_id=project_id,
            changes=changes,
        )
        return Response(ProjectOut(project).data)


def _status_view(target: str, summary: str):
    class ProjectStatusView(APIView):
        @extend_schema(request=None, responses=ProjectOut, summary=summary)
        def post(self, request, project_id):
            project = services.project_set_status(
                client=caller_client(request, LIVE_CONFIG),
                actor=request.user,
                project_id=project_id,
                status=target,
            )
            return Response(ProjectOut(project).data)

    ProjectStatusView.__name__ = f"Project{target.title()}View"
    return ProjectStatusView


ProjectPauseView = _status_view("paused", "Pause a project (its tasks stop being served)")
ProjectResumeView = _status_view("active", "Resume a paused project")
ProjectArchiveView = _status_view("archived", "Archive a project")


# --- batches ---------------------------------------------------------------------------------------


class BatchListView(APIView):
    pagination_class = NewestFirstCursor

    @extend_schema(
        responses=BatchOut(many=True),
        summary="List batches (newest first, cursor pagination)",
    )
    def get(self, request):
        batches = selectors.batch_list_for_client(client=caller_client(request))
        return paginated_response(request=request, view=self, queryset=batches, serializer_class=BatchOut)

    @extend_schema(
        request=BatchIn, responses={201: BatchOut}, summary="Create a batch (staging until finalized)"
    )
    def post(self, request):
        client = caller_client(request, WRITE)
        data = _parse(BatchIn, request.data)
        project = selectors.project_get_for_client(client=client, project_id=data.pop("project"))
        batch = services.batch_create(client=client, actor=request.user, project=project, **data)
        return Response(BatchOut(batch).data, status=status.HTTP_201_CREATED)


class BatchDetailView(APIView):
    @extend_schema(responses=BatchOut, summary="Get a batch")
    def get(self, request, batch_id):
        return Response(
            BatchOut(selectors.batch_get_for_client(client=caller_client(request), batch_id=batch_id)).data
        )


class BatchFinalizeView(APIView):
    @extend_schema(request=None, responses=BatchOut, summary="Finalize a batch: its tasks start being served")
    def post(self, request, batch_id):
        # Finalizing releases live tasks to annotators (and so to charges): live keys only.
        batch = services.batch_finalize(
            client=caller_client(request, LIVE_CONFIG), actor=request.user, batch_id=batch_id
        )
        return Response(BatchOut(batch).data)


# --- tasks -----------------------------------------------------------------------------------------


class TaskBulkCreateView(APIView):
    @extend_schema(
        request=TaskBulkIn,
        responses={200: BulkResultOut, 201: BulkResultOut},
        summary="Create up to 10,000 tasks atomically; idempotent on unique_id",
        description="201 when at least one task was created; 200 when every item already existed (a replay).",
    )
    @gcpause.paused()  # parsing and answering 10,000 items too: see core/gcpause.py
    def post(self, request):
        client = caller_client(request, WRITE)
        data = _parse(TaskBulkIn, request.data)
        project = selectors.project_get_for_client(client=client, project_id=data["project"])
        batch = (
            selectors.batch_get_for_client(client=client, batch_id=data["batch"])
            if data.get("batch")
            else None
        )
        results = services.task_bulk_create(
            client=client,
            actor=request.user,
            project=project,
            batch=batch,
            items=data["tasks"],
            is_test=caller_is_test_mode(request),
        )
        services.attachment_checks_schedule([r for r in results if r.created])
        created = sum(r.created for r in results)
        body = {
            "created": created,
            "existing": len(results) - created,
            "tasks": [
                {"task_id": str(r.task_id), "unique_id": r.unique_id, "created": r.created} for r in results
            ],
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class TaskListView(APIView):
    pagination_class = NewestFirstCursor
    filterset_class = TaskFilter

    @extend_schema(
        responses=TaskOut(many=True),
        parameters=[
            OpenApiParameter("project", OpenApiTypes.UUID, description="Only this project's tasks"),
            OpenApiParameter("batch", OpenApiTypes.UUID, description="Only this batch's tasks"),
            OpenApiParameter("status", str, enum=Task.Status.values),
            OpenApiParameter("unique_id", str),
            OpenApiParameter(
                "created_after", OpenApiTypes.DATETIME, description="ISO 8601; offsets up to ±15:59"
            ),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
            OpenApiParameter("updated_after", OpenApiTypes.DATETIME),
        ],
        summary="List tasks (newest first, cursor pagination)",
    )
    def get(self, request):
        qs = selectors.task_list_for_client(
            client=caller_client(request), is_test=caller_is_test_mode(request)
        )
        filterset = TaskFilter(request.query_params, queryset=qs)
        if not filterset.is_valid():
            from rest_framework.exceptions import ValidationError

            raise ValidationError(filterset.errors)
        return paginated_response(request=request, view=self, queryset=filterset.qs, serializer_class=TaskOut)


class TaskDetailView(APIView):
    @extend_schema(responses=TaskOut, summary="Get a task")
    def get(self, request, task_id):
        task = selectors.task_get_for_client(
            client=caller_client(request), task_id=task_id, is_test=caller_is_test_mode(request)
        )
        return Response(TaskOut(task).data)


class TaskCancelView(APIView):
    @extend_schema(request=CancelIn, responses=TaskOut, summary="Cancel a pending task (409 otherwise)")
    def post(self, request, task_id):
        data = _parse(CancelIn, request.data or {})
        task = services.task_cancel(
            client=caller_client(request, WRITE),
            actor=request.user,
            task_id=task_id,
            is_test=caller_is_test_mode(request),
            **data,
        )
        return Response(TaskOut(task).data)


# --- annotator work ----------------------------------------------------------------------------------


class WorkNextView(APIView):
    @extend_schema(
        request=NextIn,
        responses=NextOut,
        summary="Get work: your live lease, or a new claim",
        description=(
            "`assignment` is null when nothing is claimable right now. Tasks that other annotators are "
            "claiming at this very moment are skipped rather than waited for, so near the end of a queue "
            "null can be momentary: poll again after a short pause."
        ),
    )
    def post(self, request):
        annotator = selectors.annotator_ref_for_user(user=request.user)
        data = _parse_next(request.data or {})
        claim = services.assignment_claim(
            annotator=annotator, project_id=data.get("project"), resume=data["resume"]
        )
        if claim is None:
            return Response({"assignment": None, "resumed": False})
        return Response({"assignment": AssignmentOut(claim.assignment).data, "resumed": claim.resumed})


class WorkSubmitView(APIView):
    @extend_schema(
        request=SubmitIn,
        responses=SubmissionOut,
        summary="Submit an answer under your live lease (409 if stale)",
    )
    def post(self, request, assignment_id):
        annotator = selectors.annotator_ref_for_user(user=request.user)
        data = _parse_submit(request.data)
        done = services.assignment_submit(annotator=annotator, assignment_id=assignment_id, **data)
        return Response(
            {
                "submission_id": done.submission_id,
                "assignment_id": done.assignment_id,
                "task_status": done.task_status,
            }
        )


def _lease_view(service, summary: str):
    class LeaseView(APIView):
        @extend_schema(request=ClaimIn, responses=AssignmentOut, summary=summary)
        def post(self, request, assignment_id):
            annotator = selectors.annotator_ref_for_user(user=request.user)
            data = _parse(ClaimIn, request.data)
            assignment = service(
                annotator=annotator, assignment_id=assignment_id, **data
            )  # task and project loaded
            return Response(AssignmentOut(assignment).data)

    LeaseView.__name__ = service.__name__.title().replace("_", "") + "View"
    return LeaseView


WorkSkipView = _lease_view(
    services.assignment_skip, "Skip the task: it goes back to the pool, never to you again"
)
WorkReleaseView = _lease_view(services.assignment_release, "Release the task back to the pool")
WorkHeartbeatView = _lease_view(services.assignment_heartbeat, "Keep your lease alive while you work")
