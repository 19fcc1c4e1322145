"""The export job's lifecycle: run twice, the relay, failures, fencing, the webhook, chunked reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation import services, storage
from annotation import tasks as celery_tasks
from annotation.exports import FORMATS, runner
from annotation.models import ExportJob
from core.models import Event, WebhookDelivery
from tests.annotation.export_factories import (  # noqa: F401 - media_root is a fixture
    CompletedTaskFactory,
    media_root,
    stored_files,
    submit,
)
from tests.annotation.factories import ProjectFactory
from tests.clients.test_webhooks import WebhookEndpointFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def project(client_a):
    project = ProjectFactory(client=client_a)
    for _ in range(3):
        CompletedTaskFactory(project=project, response={"category": "car"}, confidence=1.0)
    return project


def new_job(project, export_format="jsonl", options=None) -> ExportJob:
    return services.export_create(
        client=project.client, actor=None, project=project, format=export_format, options=options
    ).job


def test_running_twice_builds_once_and_sends_export_ready_once(project, client_a):
    # given: two webhook endpoints, one subscribed to other events only
    every = WebhookEndpointFactory(client=client_a, events=[])
    WebhookEndpointFactory(client=client_a, events=["task.completed"])
    job = new_job(project)

    # when: the task runs twice (a redelivered message)
    first = celery_tasks.export_run(str(job.id))
    ready = ExportJob.objects.get(pk=job.id)
    second = celery_tasks.export_run(str(job.id))

    # then: one attempt, one file, one export.ready event and one delivery to the subscribed endpoint
    assert (first, second) == ("ready", "ready")
    job.refresh_from_db()
    assert (job.status, job.attempts, job.task_count, job.file_name, job.finished_at) == (
        "ready",
        1,
        3,
        ready.file_name,
        ready.finished_at,
    )
    assert storage.size(job.file_name) == job.file_size > 0
    kinds = list(Event.objects.filter(entity_id=job.id).order_by("id").values_list("kind", flat=True))
    assert kinds == ["export.created", "export.started", "export.ready"]
    (delivery,) = WebhookDelivery.objects.all()
    assert (delivery.endpoint_id, delivery.event_type, delivery.dedupe_key) == (
        every.id,
        "export.ready",
        f"export:{job.id}:ready:{every.id}",
    )
    assert delivery.payload["type"] == "export.ready"
    assert delivery.payload["data"] == {
        "export_id": str(job.id),
        "project_id": str(project.id),
        "format": "jsonl",
        "status": "ready",
        "task_count": 3,
        "file_size": job.file_size,
        "download_url": f"/api/v1/projects/{project.id}/exports/{job.id}/download",
    }


def test_the_relay_resends_a_lost_wake_up_after_a_minute(project, monkeypatch):
    job = new_job(project)
    sent = []
    monkeypatch.setattr(celery_tasks.export_run, "delay", lambda export_id: sent.append(export_id))

    assert celery_tasks.relay_exports() == 0  # the on-commit wake-up counts as sent for a minute
    ExportJob.objects.filter(pk=job.id).update(dispatched_at=timezone.now() - timedelta(minutes=2))
    assert celery_tasks.relay_exports() == 1
    assert celery_tasks.relay_exports() == 0  # and then again only after another minute
    assert sent == [str(job.id)]
    services.export_run(export_id=sent[0])
    assert ExportJob.objects.get(pk=job.id).status == "ready"
    assert celery_tasks.relay_exports() == 0


def test_an_attempt_whose_worker_died_is_requeued_then_failed_when_attempts_run_out(
    project, client_a, settings
):
    settings.QUORUM_EXPORT_MAX_ATTEMPTS = 2
    WebhookEndpointFactory(client=client_a)
    job = new_job(project)
    # given: a worker claimed it and died (its lease runs out, no outcome recorded)
    services.export_claim(export_id=job.id)
    assert services.export_claim(export_id=job.id) is None  # a live lease: nobody else takes it
    ExportJob.objects.filter(pk=job.id).update(lease_until=timezone.now() - timedelta(seconds=1))

    # when: the relay runs, it goes back to the queue and is woken
    assert services.exports_relay() == [job.id]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.lease_until) == ("queued", 1, None)

    # and when the second attempt dies too, the relay fails it and tells the client
    services.export_claim(export_id=job.id)
    ExportJob.objects.filter(pk=job.id).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert services.exports_relay() == []
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("failed", 2)
    assert "attempts exhausted" in job.error
    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == ["export.failed"]
    assert services.export_run(export_id=job.id).status == "failed"  # a late message changes nothing


def test_a_failing_build_marks_the_job_failed_and_keeps_no_file(project, client_a, monkeypatch):
    WebhookEndpointFactory(client=client_a)
    job = new_job(project)

    def broken(ctx, tasks, out, workdir):
        next(tasks)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(FORMATS["jsonl"], "write", broken)
    assert services.export_run(export_id=job.id).status == "failed"
    job.refresh_from_db()
    assert (job.status, job.error, job.file_name) == ("failed", "RuntimeError: disk on fire", "")
    assert stored_files() == []
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.payload["data"]["error"] == "RuntimeError: disk on fire"
    assert Event.objects.filter(entity_id=job.id, kind="export.failed").count() == 1


def test_an_attempt_that_overran_its_lease_cannot_record_its_outcome(project):
    job = new_job(project)
    _, first = services.export_claim(export_id=job.id)
    ExportJob.objects.filter(pk=job.id).update(lease_until=timezone.now() - timedelta(seconds=1))
    _, second = services.export_claim(export_id=job.id)  # another worker took over
    assert (first, second) == (1, 2)

    late = runner.build(ExportJob.objects.select_related("project").get(pk=job.id), attempt=first)
    assert services.export_finish(export_id=job.id, attempt=first, built=late) is False
    assert services.export_fail(export_id=job.id, attempt=first, error="late") is False
    job.refresh_from_db()
    assert (job.status, job.attempts, job.file_name) == ("running", 2, "")
    current = runner.build(ExportJob.objects.select_related("project").get(pk=job.id), attempt=second)
    assert current.file_name != late.file_name
    assert services.export_finish(export_id=job.id, attempt=second, built=current) is True
    assert ExportJob.objects.get(pk=job.id).file_name == current.file_name


def test_the_exporter_reads_tasks_in_chunks_of_the_configured_size(client_a):
    # given: 5 tasks with answers, and a chunk size of 2
    project = ProjectFactory(client=client_a)
    for _ in range(5):
        submit(
            CompletedTaskFactory(project=project, response={"category": "car"}), answer={"category": "car"}
        )
    job = new_job(project, "jsonl", {"include_answers": True})

    # when: the file is built
    with CaptureQueriesContext(connection) as queries:
        built = runner.build(
            ExportJob.objects.select_related("project").get(pk=job.id), attempt=1, chunk_size=2
        )

    # then: every read of tasks is one keyset page of at most 2 rows (2 + 2 + 1), and every read of
    # answers is for one page's tasks: nothing reads the whole project at once
    task_reads = [q["sql"] for q in queries.captured_queries if 'FROM "annotation_task"' in q["sql"]]
    answer_reads = [q["sql"] for q in queries.captured_queries if 'FROM "annotation_submission"' in q["sql"]]
    assert len(task_reads) == 3 and all(sql.endswith("ORDER BY 1 ASC LIMIT 2") for sql in task_reads)
    assert (
        sum('"annotation_task"."id" >' in sql for sql in task_reads) == 2
    )  # pages after the first start after the last id
    assert len(answer_reads) == 3 and all("IN (" in sql for sql in answer_reads)
    assert built.task_count == 5


def test_the_relay_is_not_starved_by_jobs_that_are_running_fine(project):
    # given: three exports running under live leases, and one queued whose wake-up was lost
    running = [new_job(project) for _ in range(3)]
    for job in running:
        services.export_claim(export_id=job.id)
    lost = new_job(project)
    ExportJob.objects.filter(pk=lost.id).update(dispatched_at=timezone.now() - timedelta(minutes=2))

    # when: the relay looks at no more than two jobs per run
    woken = services.exports_relay(limit=2)

    # then: it looked only at jobs that need it, so the lost one is woken; the running ones are untouched
    assert woken == [lost.id]
    assert set(
        ExportJob.objects.filter(pk__in=[j.id for j in running]).values_list("status", "attempts")
    ) == {("running", 1)}
