from django.urls import path

from annotation.api import exports, quality, views, work

urlpatterns = [
    # First: the work loop is most of the traffic, and Django tries the patterns in order.
    path("work/next", views.WorkNextView.as_view(), name="work-next"),
    path("work/assignments/<str:assignment_id>/submit", views.WorkSubmitView.as_view(), name="work-submit"),
    path("projects", views.ProjectListView.as_view(), name="project-list"),
    path("projects/<str:project_id>", views.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<str:project_id>/pause", views.ProjectPauseView.as_view(), name="project-pause"),
    path("projects/<str:project_id>/resume", views.ProjectResumeView.as_view(), name="project-resume"),
    path("projects/<str:project_id>/archive", views.ProjectArchiveView.as_view(), name="project-archive"),
    path("projects/<str:project_id>/exports", exports.ExportListView.as_view(), name="export-list"),
    path(
        "projects/<str:project_id>/exports/<str:export_id>",
        exports.ExportDetailView.as_view(),
        name="export-detail",
    ),
    path(
        "projects/<str:project_id>/exports/<str:export_id>/download",
        exports.ExportDownloadView.as_view(),
        name="export-download",
    ),
    path(
        "projects/<str:project_id>/attachments",
        exports.AttachmentUploadView.as_view(),
        name="attachment-upload",
    ),
    path("batches", views.BatchListView.as_view(), name="batch-list"),
    path("batches/<str:batch_id>", views.BatchDetailView.as_view(), name="batch-detail"),
    path("batches/<str:batch_id>/finalize", views.BatchFinalizeView.as_view(), name="batch-finalize"),
    path("tasks", views.TaskListView.as_view(), name="task-list"),
    path("tasks/bulk", views.TaskBulkCreateView.as_view(), name="task-bulk-create"),
    path("tasks/<str:task_id>", views.TaskDetailView.as_view(), name="task-detail"),
    path("tasks/<str:task_id>/cancel", views.TaskCancelView.as_view(), name="task-cancel"),
    path("projects/<str:project_id>/quality", quality.ProjectQualityView.as_view(), name="project-quality"),
    path(
        "projects/<str:project_id>/consensus/recompute",
        quality.ProjectRecomputeView.as_view(),
        name="project-consensus-recompute",
    ),
    path("tasks/<str:task_id>/audit", quality.TaskAuditView.as_view(), name="task-audit"),
    path("qualifications", quality.QualificationListView.as_view(), name="qualification-list"),
    path("work/apply", quality.ApplyView.as_view(), name="work-apply"),
    path("work/profile", quality.ProfileView.as_view(), name="work-profile"),
    path("work/qualifications", quality.MyQualificationsView.as_view(), name="work-qualifications"),
    path(
        "work/qualifications/<str:qualification_id>/attempts",
        quality.AttemptStartView.as_view(),
        name="work-attempt-start",
    ),
    path("work/qualification-attempts/<str:attempt_id>", quality.AttemptView.as_view(), name="work-attempt"),
    path(
        "work/qualification-attempts/<str:attempt_id>/answers",
        quality.AttemptAnswerView.as_view(),
        name="work-attempt-answer",
    ),
    path("review/next", quality.ReviewNextView.as_view(), name="review-next"),
    path("review/<str:review_id>/verdict", quality.ReviewVerdictView.as_view(), name="review-verdict"),
    path("work/projects", work.WorkProjectsView.as_view(), name="work-projects"),
    path("work/assignments/<str:assignment_id>/skip", views.WorkSkipView.as_view(), name="work-skip"),
    path(
        "work/assignments/<str:assignment_id>/release", views.WorkReleaseView.as_view(), name="work-release"
    ),
    path(
        "work/assignments/<str:assignment_id>/heartbeat",
        views.WorkHeartbeatView.as_view(),
        name="work-heartbeat",
    ),
]
