"""Routes of the Scale-compatible API, mounted at ``/v1/``. No trailing slashes (the SDK sends
none, and a slash redirect would turn its POSTs into GETs); anything else under ``/v1/`` is a
Scale-shaped 404."""

from django.urls import path, re_path

from annotation.scale_api import project_views, task_views
from annotation.scale_api.base import UnknownRouteView

urlpatterns = [
    path("tasks", task_views.TaskListView.as_view(), name="scale-task-list"),
    path("task/<str:key>", task_views.TaskView.as_view(), name="scale-task"),
    path("task/<str:task_id>/cancel", task_views.TaskCancelView.as_view(), name="scale-task-cancel"),
    path("task/<str:task_id>/audit", task_views.TaskAuditView.as_view(), name="scale-task-audit"),
    path("task/<str:task_id>/unique_id", task_views.TaskUniqueIdView.as_view(), name="scale-task-unique-id"),
    path("task/<str:task_id>/setMetadata", task_views.TaskMetadataView.as_view(), name="scale-task-metadata"),
    path("task/<str:task_id>/tags", task_views.TaskTagsView.as_view(), name="scale-task-tags"),
    path("batches", project_views.BatchListView.as_view(), name="scale-batch-list"),
    path("batches/<str:name>", project_views.BatchDetailView.as_view(), name="scale-batch"),
    path(
        "batches/<str:name>/finalize", project_views.BatchFinalizeView.as_view(), name="scale-batch-finalize"
    ),
    path("batches/<str:name>/status", project_views.BatchStatusView.as_view(), name="scale-batch-status"),
    path(
        "batches/<str:name>/setMetadata",
        project_views.BatchMetadataView.as_view(),
        name="scale-batch-metadata",
    ),
    path("projects", project_views.ProjectListView.as_view(), name="scale-project-list"),
    path("projects/<str:name>", project_views.ProjectDetailView.as_view(), name="scale-project"),
    path(
        "projects/<str:name>/setParams",
        project_views.ProjectSetParamsView.as_view(),
        name="scale-project-set-params",
    ),
    path(
        "projects/<str:name>/taskTemplates",
        project_views.ProjectTemplateView.as_view(),
        name="scale-project-template",
    ),
    re_path(r"^.*$", UnknownRouteView.as_view(), name="scale-unknown"),
]
