"""``manage.py check_attachments [--project ID] [--limit N]``: run the attachment check now on
pending image tasks (oldest first), in this process; print what each check found."""

from __future__ import annotations

import uuid
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from annotation import services
from annotation.models import Task, TaskType


class Command(BaseCommand):
    help = "Fetch and decode pending image tasks' attachments; set unservable tasks to error (with callback)."

    def add_arguments(self, parser):
        parser.add_argument("--project", help="only this project's tasks (its id)")
        parser.add_argument("--limit", type=int, default=1000, help="at most this many tasks (default 1000)")

    def handle(self, *args, project=None, limit=1000, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1")
        tasks = Task.objects.filter(
            status=Task.Status.PENDING,
            task_type__in=[TaskType.IMAGE_ANNOTATION, TaskType.CATEGORIZATION],
        ).order_by("id")
        if project:
            try:
                tasks = tasks.filter(project_id=uuid.UUID(project))
            except ValueError as exc:
                raise CommandError(f"--project: {project!r} is not a project id") from exc
        seen: Counter = Counter()
        ids = list(tasks.values_list("id", flat=True)[:limit])
        for task_id in ids:
            result = services.attachment_check(task_id=task_id, actor="system:check_attachments")
            seen[result.outcome] += 1
            if result.outcome in ("error", "transient"):
                self.stdout.write(f"{task_id}: {result.outcome}: {result.detail}")
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(seen.items())) or "nothing to check"
        self.stdout.write(f"checked {len(ids)} tasks: {summary}")
