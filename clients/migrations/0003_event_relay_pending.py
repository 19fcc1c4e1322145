"""Event.relay_pending: existing rows get False (nothing historical is fanned out to endpoints),
then the column's default becomes True, so rows the SQL functions write are relayed. The relay's
partial index is built concurrently: the event table is written by every state change."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("clients", "0002_event_client_protect")]

    operations = [
        migrations.AddField(
            model_name="event",
            name="relay_pending",
            field=models.BooleanField(default=False, db_default=False),
        ),
        migrations.AlterField(
            model_name="event",
            name="relay_pending",
            field=models.BooleanField(default=False, db_default=True),
        ),
        AddIndexConcurrently(
            model_name="event",
            index=models.Index(
                fields=["id"],
                name="event_relay_pending_idx",
                condition=Q(relay_pending=True, kind__in=["task.completed"]),
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="kind",
            field=models.CharField(
                choices=[
                    ("task_callback", "Task Callback"),
                    ("batch_callback", "Batch Callback"),
                    ("webhook", "Webhook"),
                ],
                max_length=20,
            ),
        ),
    ]
