"""Operator page routes of the annotation app, under /ops/ (config/urls.py)."""

from django.urls import path

from annotation.web import ops

urlpatterns = [
    path("", ops.dashboard, name="ops-dashboard"),
    path("trends/", ops.trends, name="ops-trends"),
    path("trends.csv", ops.trends_csv, name="ops-trends-csv"),
]
