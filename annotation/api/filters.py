"""Filters of the task list."""

from __future__ import annotations

from datetime import UTC, timedelta

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from annotation.models import Task

MAX_OFFSET = timedelta(hours=15, minutes=59)  # PostgreSQL's range for a UTC offset


class UTCIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 with an offset PostgreSQL accepts, converted to UTC; anything else is a 400."""

    def clean(self, value):
        value = super().clean(value)
        if value is None:
            return value
        offset = value.utcoffset()
        if offset is not None and abs(offset) > MAX_OFFSET:
            raise forms.ValidationError("The UTC offset must be between -15:59 and +15:59.")
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError("The date is out of range.") from exc


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class TaskFilter(django_filters.FilterSet):
    project = django_filters.UUIDFilter(field_name="project_id")
    batch = django_filters.UUIDFilter(field_name="batch_id")
    status = django_filters.ChoiceFilter(choices=Task.Status.choices)
    unique_id = django_filters.CharFilter()
    created_after = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = UTCIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Task
        fields = ["project", "batch", "status", "unique_id"]
