from django.urls import path

from annotation.api import exports, views

urlpatterns = [
    path("projects", views.ProjectListView.as_view(), name="project-list"),
    path("projects/<str:project_id>", views.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<str:project_id>/pause", views.ProjectPauseView.as_view(), name="project-pause"),
    path("projects/<str:project_id>/resume", views.ProjectResumeView.as_view(), name="project-resume"),
    path("projects/<str:project_id>/archive", views.ProjectArchiveView.as_view(), name="project-archive"),
    path("projects/<str:project_id>/exports", exports.ExportListView.as_view(), name="export-list"),
    path("projects/<str:project_id>/exports/<str:export_id>", exports.ExportDetailView.as_view(), name="export-detail"),
    path(
        "projects/<str:project_id>/exports/<str:export_id>/download", exports.ExportDownloadView.as_view(), name="export-download"
    ),
    path("projects/<str:project_id>/attachments", exports.AttachmentUploadView.as_view(), name="attachment-upload"),
    path("batches", views.BatchListView.as_view(), name="batch-list"),
    path("batches/<str:batch_id>", views.BatchDetailView.as_view(), name="batch-detail"),
    path("batches/<str:batch_id>/finalize", views.BatchFinalizeView.as_view(), name="batch-finalize"),
    path("tasks", views.TaskListView.as_view(), name="task-list"),
    path("tasks/bulk", views.TaskBulkCreateView.as_view(), name="task-bulk-create"),
    path("tasks/<str:task_id>", views.TaskDetailView.as_view(), name="task-detail"),
    path("tasks/<str:task_id>/cancel", views.TaskCancelView.as_view(), name="task-cancel"),
    path("work/next", views.WorkNextView.as_view(), name="work-next"),
    path("work/assignments/<str:assignment_id>/submit", views.WorkSubmitView.as_view(), name="work-submit"),
    path("work/assignments/<str:assignment_id>/skip", views.WorkSkipView.as_view(), name="work-skip"),
    path("work/assignments/<str:assignment_id>/release", views.WorkReleaseView.as_view(), name="work-release"),
    path("work/assignments/<str:assignment_id>/heartbeat", views.WorkHeartbeatView.as_view(), name="work-heartbeat"),
]
