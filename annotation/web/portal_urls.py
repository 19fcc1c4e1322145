"""The client portal's page routes, under /portal/ (config/urls.py)."""

from django.urls import path

from annotation.web import portal

urlpatterns = [
    path("", portal.project_list, name="portal-projects"),
    path("projects/new/", portal.project_new, name="portal-project-new"),
    path("projects/<uuid:project_id>/", portal.project_detail, name="portal-project"),
    path("projects/<uuid:project_id>/status", portal.project_status, name="portal-project-status"),
    path("projects/<uuid:project_id>/upload/", portal.project_upload, name="portal-project-upload"),
    path("projects/<uuid:project_id>/tasks/<uuid:task_id>/", portal.task_detail, name="portal-task"),
    path("projects/<uuid:project_id>/exports/", portal.export_create, name="portal-export-create"),
    path(
        "projects/<uuid:project_id>/exports/<uuid:export_id>/row", portal.export_row, name="portal-export-row"
    ),
    path(
        "projects/<uuid:project_id>/exports/<uuid:export_id>/download",
        portal.export_download,
        name="portal-export-download",
    ),
    path("exports/", portal.export_list, name="portal-exports"),
]
