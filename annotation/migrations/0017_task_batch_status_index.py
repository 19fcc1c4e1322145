"""Task (batch, status) replaces the (batch) index: batch completion asks whether a batch still
has a pending task after each of its tasks finishes. Built concurrently (the task table is the
largest and busiest), and before the old index goes, so batch lookups always have one."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("annotation", "0016_domain_labels"),
        ("clients", "0003_event_relay_pending"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="task",
            index=models.Index(fields=["batch", "status"], name="task_batch_status_idx"),
        ),
        RemoveIndexConcurrently(model_name="task", name="task_batch_idx"),
    ]
