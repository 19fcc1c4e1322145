"""Task audits and project param history (the Scale-compatible API's ``audits`` and
``param_history``). Existing projects get their current params as version 0."""

import core.ids
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def backfill_version_zero(apps, schema_editor):
    Project = apps.get_model("annotation", "Project")
    ProjectParamVersion = apps.get_model("annotation", "ProjectParamVersion")
    for project in Project.objects.iterator(chunk_size=1000):
        ProjectParamVersion.objects.get_or_create(
            project=project, version=0,
            defaults={"params": project.params, "instructions": project.instructions, "created_at": project.created_at},
        )


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0004_task_pay_and_spend'),
        ('clients', '0002_event_client_protect'),
    ]

    operations = [
        migrations.CreateModel(
            name='ProjectParamVersion',
            fields=[
                ('id', models.UUIDField(default=core.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('version', models.PositiveIntegerField()),
                ('params', models.JSONField(blank=True, default=dict)),
                ('instructions', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='param_versions', to='annotation.project')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('project', 'version'), name='param_version_project_uniq')],
            },
        ),
        migrations.CreateModel(
            name='TaskAudit',
            fields=[
                ('id', models.UUIDField(default=core.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('accepted', models.BooleanField()),
                ('comments', models.TextField(blank=True)),
                ('audited_by', models.CharField(max_length=120)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='clients.client')),
                ('task', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='audits', to='annotation.task')),
            ],
            options={
                'indexes': [models.Index(fields=['task', 'created_at'], name='task_audit_task_idx')],
            },
        ),
        migrations.RunPython(backfill_version_zero, migrations.RunPython.noop),
    ]
