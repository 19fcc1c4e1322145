"""Staff routes for the workforce under /api/v1/staff/ (vetting, qualifications, standings)."""

from django.urls import path

from annotation.api import quality, task_errors

urlpatterns = [
    path("annotators", quality.StaffAnnotatorListView.as_view(), name="staff-annotators"),
    path(
        "annotators/<str:annotator_id>/status",
        quality.StaffAnnotatorStatusView.as_view(),
        name="staff-annotator-status",
    ),
    path(
        "annotators/<str:annotator_id>/qualifications",
        quality.StaffGrantView.as_view(),
        name="staff-annotator-grant",
    ),
    path(
        "annotators/<str:annotator_id>/qualifications/<str:qualification_id>/revoke",
        quality.StaffRevokeView.as_view(),
        name="staff-annotator-revoke",
    ),
    path("qualifications", quality.StaffQualificationView.as_view(), name="staff-qualifications"),
    path(
        "projects/<str:project_id>/quality",
        quality.StaffProjectQualityView.as_view(),
        name="staff-project-quality",
    ),
    path(
        "projects/<str:project_id>/workers/<str:annotator_id>/remove",
        quality.StaffWorkerRemoveView.as_view(),
        name="staff-worker-remove",
    ),
    path("tasks/<str:task_id>/error", task_errors.StaffTaskErrorView.as_view(), name="staff-task-error"),
    path(
        "tasks/<str:task_id>/check-attachment",
        task_errors.StaffAttachmentCheckView.as_view(),
        name="staff-task-check-attachment",
    ),
    path(
        "projects/<str:project_id>/workers/<str:annotator_id>/restore",
        quality.StaffWorkerRestoreView.as_view(),
        name="staff-worker-restore",
    ),
]
