"""Operator page routes of the annotation app, under /ops/ (config/urls.py)."""

from django.urls import path

from annotation.web import ops

urlpatterns = [
    path("", ops.dashboard, name="ops-dashboard"),
]
