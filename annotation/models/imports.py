"""Task history brought over from Scale (``manage.py import_scale_tasks``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ScaleImport(models.Model):
    """One Scale task imported as a Quorum task: the import is idempotent on ``(client,
    scale_task_id)`` (a re-run, or two runs at once, never creates a task twice)."""

    id = models.BigAutoField(primary_key=True)
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+", db_index=False)
    scale_task_id = models.CharField(max_length=100)
    task = models.OneToOneField("annotation.Task", on_delete=models.CASCADE, related_name="scale_import")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "scale_task_id"], name="scale_import_client_task_uniq")
        ]
