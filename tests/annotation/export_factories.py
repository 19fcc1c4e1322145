"""Factories for the export tests: tasks of any type (including types not validated on this
branch, set directly on the row) and their submissions, without going through claim and submit."""

from __future__ import annotations

from pathlib import Path

import factory
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from annotation.models import Assignment, Submission, Task
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory

IMAGE_PROJECT_PARAMS = {
    "geometries": {
        "box": {"objects_to_annotate": ["car", {"choice": "pedestrian"}]},
        "polygon": {"objects_to_annotate": ["road", "car"]},
        "ellipse": {"objects_to_annotate": ["sign"]},
        "point": {
            "objects_to_annotate": ["head", "left_hand", "right_hand"],
            "connections": [{"pair": ["head", "left_hand"]}, {"pair": ["head", "right_hand"]}],
        },
    }
}


class ImageProjectFactory(ProjectFactory):
    task_type = "imageannotation"
    params = factory.LazyFunction(
        lambda: {"geometries": {k: dict(v) for k, v in IMAGE_PROJECT_PARAMS["geometries"].items()}}
    )


class CompletedTaskFactory(TaskFactory):
    status = Task.Status.COMPLETED
    completed_at = factory.LazyFunction(timezone.now)


def image_task(
    project, *, attachment: str, width=None, height=None, response=None, gold=None, confidence=None, **kwargs
) -> Task:
    params = {**project.params, "attachment": attachment}
    if width is not None:
        params["attachment_width"] = width
    if height is not None:
        params["attachment_height"] = height
    return CompletedTaskFactory(
        project=project,
        params=params,
        response=response,
        confidence=confidence,
        is_gold=gold is not None,
        gold_answer=gold,
        **kwargs,
    )


def submit(
    task: Task, annotator=None, *, answer: dict, status: str = Submission.Status.ACCEPTED
) -> Submission:
    annotator = annotator or AnnotatorFactory()
    now = timezone.now()
    assignment = Assignment.objects.create(
        task=task,
        annotator=annotator,
        project=task.project,
        status=Assignment.Status.SUBMITTED,
        claim_version=1,
        leased_until=now,
        finished_at=now,
    )
    return Submission.objects.create(
        assignment=assignment, task=task, annotator=annotator, answer=answer, status=status
    )


@pytest.fixture
def media_root(settings, tmp_path):
    """Files (attachments, exports) go to a private directory, never to var/media."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def run_export(project, export_format: str, options: dict | None = None, *, chunk_size: int | None = None):
    """Create an export job and run it in this process (what the worker does); return the job
    and the bytes of its file."""
    from annotation import services, storage

    job = services.export_create(
        client=project.client, actor=None, project=project, format=export_format, options=options
    ).job
    job = services.export_run(export_id=job.id, chunk_size=chunk_size)
    assert job.status == "ready", (job.status, job.error)
    with storage.open_for_read(job.file_name) as handle:
        return job, handle.read()


def stored_files() -> list[Path]:
    """Every file under the (test's private) MEDIA_ROOT."""
    root = Path(django_settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
