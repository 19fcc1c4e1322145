# The outbox and the event log moved from ``clients`` into the kernel (issue 17). Their tables keep
# the names they had (``db_table``), so this migration changes no table: it only tells Django's
# state that the models are ``core``'s now (``clients/migrations/0005`` removed them from
# ``clients``' state first), and moves their content types, so permissions and admin log entries
# follow them.

import core.ids
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MOVED = ("webhookendpoint", "webhookdelivery", "deliveryattempt", "event")


def _relabel(apps, schema_editor, old, new):
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    for model in MOVED:
        if not types.filter(app_label=new, model=model).exists():
            types.filter(app_label=old, model=model).update(app_label=new)


def content_types_to_core(apps, schema_editor):
    _relabel(apps, schema_editor, "clients", "core")


def content_types_to_clients(apps, schema_editor):
    _relabel(apps, schema_editor, "core", "clients")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('clients', '0005_outbox_and_events_to_core'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='WebhookDelivery',
                    fields=[
                        ('id', models.UUIDField(default=core.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                        ('kind', models.CharField(choices=[('task_callback', 'Task Callback'), ('batch_callback', 'Batch Callback'), ('webhook', 'Webhook')], max_length=20)),
                        ('event_type', models.CharField(max_length=60)),
                        ('dedupe_key', models.CharField(max_length=200, unique=True)),
                        ('message_id', models.CharField(max_length=64, unique=True)),
                        ('url', models.CharField(max_length=2000)),
                        ('payload', models.JSONField()),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Failed')], default='pending', max_length=10)),
                        ('is_test', models.BooleanField(default=False)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('last_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('dispatched_at', models.DateTimeField(blank=True, null=True)),
                        ('last_status_code', models.IntegerField(blank=True, null=True)),
                        ('last_error', models.CharField(blank=True, max_length=500)),
                        ('delivered_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='clients.client')),
                    ],
                    options={
                        'db_table': 'clients_webhookdelivery',
                    },
                ),
                migrations.CreateModel(
                    name='DeliveryAttempt',
                    fields=[
                        ('id', models.BigAutoField(primary_key=True, serialize=False)),
                        ('attempted_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('status_code', models.IntegerField(blank=True, null=True)),
                        ('error', models.CharField(blank=True, max_length=500)),
                        ('duration_ms', models.PositiveIntegerField(default=0)),
                        ('response_excerpt', models.CharField(blank=True, max_length=500)),
                        ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempt_log', to='core.webhookdelivery')),
                    ],
                    options={
                        'db_table': 'clients_deliveryattempt',
                    },
                ),
                migrations.CreateModel(
                    name='WebhookEndpoint',
                    fields=[
                        ('id', models.UUIDField(default=core.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                        ('url', models.URLField(max_length=2000)),
                        ('secret', models.CharField(max_length=100)),
                        ('events', models.JSONField(blank=True, default=list)),
                        ('enabled', models.BooleanField(default=True)),
                        ('disabled_reason', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_endpoints', to='clients.client')),
                    ],
                    options={
                        'db_table': 'clients_webhookendpoint',
                    },
                ),
                migrations.AddField(
                    model_name='webhookdelivery',
                    name='endpoint',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='core.webhookendpoint'),
                ),
                migrations.CreateModel(
                    name='Event',
                    fields=[
                        ('id', models.BigAutoField(primary_key=True, serialize=False)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('actor', models.CharField(max_length=120)),
                        ('entity_type', models.CharField(max_length=30)),
                        ('entity_id', models.UUIDField()),
                        ('kind', models.CharField(max_length=40)),
                        ('before', models.JSONField(blank=True, null=True)),
                        ('after', models.JSONField(blank=True, null=True)),
                        ('relay_pending', models.BooleanField(db_default=True, default=False)),
                        ('client', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='clients.client')),
                    ],
                    options={
                        'db_table': 'clients_event',
                        'indexes': [models.Index(fields=['entity_type', 'entity_id'], name='event_entity_idx'), models.Index(condition=models.Q(('kind__in', ['task.completed']), ('relay_pending', True)), fields=['id'], name='event_relay_pending_idx')],
                    },
                ),
                migrations.AddIndex(
                    model_name='webhookdelivery',
                    index=models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at'], name='delivery_due_idx'),
                ),
                migrations.AddIndex(
                    model_name='webhookdelivery',
                    index=models.Index(fields=['client', '-created_at'], name='delivery_client_idx'),
                ),
            ],
        ),
        migrations.RunPython(content_types_to_core, content_types_to_clients),
    ]
