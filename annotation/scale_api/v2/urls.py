"""Routes of ``/v2/`` (the paths of the SDK's ``api_client/v2/api/v2_api.py``). No trailing
slashes; anything else under ``/v2/`` is a Scale-shaped 404."""

from django.urls import path, re_path

from annotation.scale_api.base import UnknownRouteView
from annotation.scale_api.v2 import views

urlpatterns = [
    path("task", views.TaskView.as_view(), name="scale-v2-task"),
    path("tasks", views.TaskListView.as_view(), name="scale-v2-tasks"),
    path("task/chat", views.ChatTaskView.as_view(), name="scale-v2-task-chat"),
    path("task/metadata", views.TaskMetadataView.as_view(), name="scale-v2-task-metadata"),
    path("batch", views.BatchView.as_view(), name="scale-v2-batch"),
    path("batches", views.BatchListView.as_view(), name="scale-v2-batches"),
    path("batch/finalize", views.BatchActionView.as_view(action="finalize"), name="scale-v2-batch-finalize"),
    path("batch/pause", views.BatchActionView.as_view(action="pause"), name="scale-v2-batch-pause"),
    path("batch/resume", views.BatchActionView.as_view(action="resume"), name="scale-v2-batch-resume"),
    path("batch/cancel", views.BatchActionView.as_view(action="cancel"), name="scale-v2-batch-cancel"),
    path("batch/metadata", views.BatchMetadataView.as_view(), name="scale-v2-batch-metadata"),
    path("project", views.ProjectView.as_view(), name="scale-v2-project"),
    path("projects", views.ProjectListView.as_view(), name="scale-v2-projects"),
    path("deliveries", views.DeliveryListView.as_view(), name="scale-v2-deliveries"),
    path("delivery", views.DeliveryView.as_view(), name="scale-v2-delivery"),
    path("delivery/tasks", views.DeliveryTasksView.as_view(), name="scale-v2-delivery-tasks"),
    re_path(r"^.*$", UnknownRouteView.as_view(), name="scale-v2-unknown"),
]
