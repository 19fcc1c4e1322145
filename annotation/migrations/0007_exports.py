"""Export jobs, and the (project, id) index the exports walk in keyset chunks.

The task index is built CONCURRENTLY (so the migration does not block task writes on a large
table), which needs a migration outside a transaction.
"""

import core.ids
import django.db.models.deletion
import django.utils.timezone
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('annotation', '0006_task_types'),
        ('clients', '0002_event_client_protect'),
    ]

    operations = [
        migrations.CreateModel(
            name='ExportJob',
            fields=[
                ('id', models.UUIDField(default=core.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('is_test', models.BooleanField(default=False)),
                ('format', models.CharField(choices=[('coco', 'Coco'), ('yolo', 'Yolo'), ('jsonl', 'Jsonl'), ('preference_jsonl', 'Preference Jsonl'), ('csv', 'Csv')], max_length=20)),
                ('options', models.JSONField(blank=True, default=dict)),
                ('idempotency_key', models.CharField(blank=True, max_length=200, null=True)),
                ('anon_salt', models.CharField(max_length=64)),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('ready', 'Ready'), ('failed', 'Failed')], default='queued', max_length=10)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('lease_until', models.DateTimeField(blank=True, null=True)),
                ('dispatched_at', models.DateTimeField(blank=True, null=True)),
                ('file_name', models.CharField(blank=True, max_length=500)),
                ('file_size', models.BigIntegerField(blank=True, null=True)),
                ('content_type', models.CharField(blank=True, max_length=100)),
                ('task_count', models.PositiveIntegerField(default=0)),
                ('report', models.JSONField(blank=True, default=dict)),
                ('error', models.CharField(blank=True, max_length=1000)),
                ('created_by', models.CharField(blank=True, max_length=120)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        AddIndexConcurrently(
            model_name='task',
            index=models.Index(fields=['project', 'id'], name='task_project_id_idx'),
        ),
        migrations.AddField(
            model_name='exportjob',
            name='client',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='exports', to='clients.client'),
        ),
        migrations.AddField(
            model_name='exportjob',
            name='project',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='exports', to='annotation.project'),
        ),
        migrations.AddIndex(
            model_name='exportjob',
            index=models.Index(fields=['project', '-created_at'], name='export_project_created_idx'),
        ),
        migrations.AddIndex(
            model_name='exportjob',
            index=models.Index(condition=models.Q(('status__in', ['queued', 'running'])), fields=['created_at'], name='export_unfinished_idx'),
        ),
        migrations.AddConstraint(
            model_name='exportjob',
            constraint=models.UniqueConstraint(condition=models.Q(('idempotency_key__isnull', False)), fields=('client', 'idempotency_key'), name='export_client_idem_uniq'),
        ),
    ]
