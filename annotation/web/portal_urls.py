"""The client portal's page routes, under /portal/ (config/urls.py). Ids are matched as text: a
malformed one reaches the view, whose lookup answers the 404 page (a ``uuid`` converter would leave it
to the URL resolver, which shows Django's debug page when DEBUG is on)."""

from django.urls import path

from annotation.web import portal, portal_settings

urlpatterns = [
    path("", portal.project_list, name="portal-projects"),
    path("projects/new/", portal.project_new, name="portal-project-new"),
    path("projects/<str:project_id>/", portal.project_detail, name="portal-project"),
    path("projects/<str:project_id>/status", portal.project_status, name="portal-project-status"),
    path(
        "projects/<str:project_id>/settings/",
        portal_settings.project_settings,
        name="portal-project-settings",
    ),
    path("projects/<str:project_id>/upload/", portal.project_upload, name="portal-project-upload"),
    path("projects/<str:project_id>/tasks/<str:task_id>/", portal.task_detail, name="portal-task"),
    path("projects/<str:project_id>/exports/", portal.export_create, name="portal-export-create"),
    path(
        "projects/<str:project_id>/exports/<str:export_id>/row", portal.export_row, name="portal-export-row"
    ),
    path(
        "projects/<str:project_id>/exports/<str:export_id>/download",
        portal.export_download,
        name="portal-export-download",
    ),
    path("exports/", portal.export_list, name="portal-exports"),
]
