"""Leases of background work: a dead worker's export or delivery is retaken within about a minute,
its temporary files are removed, and every counted delivery attempt has its log row."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotation import services, storage
from annotation.exports import FORMATS, runner
from annotation.models import ExportJob
from core import webhooks
from core.models import DeliveryAttempt, WebhookDelivery
from tests.annotation.export_factories import CompletedTaskFactory, media_root  # noqa: F401 - a fixture
from tests.annotation.factories import ProjectFactory
from tests.clients.receiver import Receiver
from tests.clients.test_webhooks import enqueue_callback, outbound_settings, woken  # noqa: F401 - fixtures

HANG_GUARD = 30.0


@pytest.fixture
def export_tmp(settings, tmp_path):
    settings.QUORUM_EXPORT_TMP_DIR = str(tmp_path / "tmp")
    return runner.tmp_root()


def _job(client) -> ExportJob:
    project = ProjectFactory(client=client)
    CompletedTaskFactory(project=project, response={"category": "car"}, confidence=1.0)
    return services.export_create(client=client, actor=None, project=project, format="jsonl").job


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_an_export_lease_is_short_so_a_dead_worker_is_found_within_a_minute(client_a, settings):
    job = _job(client_a)
    claimed, attempt = services.export_claim(export_id=job.id)
    # The lease no longer waits out the time limit (600 s + 60 s): it is the heartbeat lease.
    assert claimed.lease_until - claimed.started_at == timedelta(seconds=settings.QUORUM_EXPORT_LEASE_SECONDS)
    assert settings.QUORUM_EXPORT_LEASE_SECONDS + settings.QUORUM_EXPORT_RELAY_SECONDS <= 60
    # The worker dies: no heartbeat renews the lease; once it has run out the relay re-queues the job.
    ExportJob.objects.filter(pk=job.id).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert services.exports_relay() == [job.id]
    assert services.export_run(export_id=job.id).status == "ready"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media_root", "export_tmp")
def test_a_running_export_renews_its_lease_while_it_builds(client_a, settings, monkeypatch):
    """The heartbeat thread (its own connection) keeps the lease alive past its first length."""
    settings.QUORUM_EXPORT_HEARTBEAT_SECONDS = 0.05
    job = _job(client_a)
    real_write = FORMATS["jsonl"].write
    renewed = threading.Event()

    def slow_write(ctx, tasks, out, workdir):
        first = ExportJob.objects.get(pk=job.id).lease_until
        # wait until the heartbeat has moved the lease forward (twice), not for a fixed time
        deadline = timezone.now() + timedelta(seconds=HANG_GUARD)
        seen = set()
        while timezone.now() < deadline and len(seen) < 2:
            current = ExportJob.objects.get(pk=job.id).lease_until
            if current > first:
                seen.add(current)
            connection.close()  # a fresh snapshot each read
        if len(seen) >= 2:
            renewed.set()
        return real_write(ctx, tasks, out, workdir)

    monkeypatch.setattr(FORMATS["jsonl"], "write", slow_write)
    assert services.export_run(export_id=job.id).status == "ready"
    assert renewed.is_set()


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_a_killed_attempts_temporary_folder_and_partial_file_are_removed(client_a, export_tmp):
    job = _job(client_a)
    # attempt 1 was killed mid-export: its folder and a partly stored file stay behind
    services.export_claim(export_id=job.id)
    killed = runner.workdir_for(job.id, 1)
    killed.mkdir(parents=True)
    (killed / "export.jsonl").write_bytes(b'{"task_id": "half')
    job = ExportJob.objects.select_related("project").get(pk=job.id)
    partial = storage.save(runner.storage_name(job, 1), _bytes(b"half a file"))
    unrelated = export_tmp / "not-an-export"
    unrelated.mkdir()
    ExportJob.objects.filter(pk=job.id).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert services.exports_relay() == [job.id]

    # attempt 2 (on the same host) cleans up before it builds, and after it finishes
    done = services.export_run(export_id=job.id)
    assert (done.status, done.attempts) == ("ready", 2)
    assert not killed.exists() and not unrelated.exists()
    assert list(export_tmp.iterdir()) == []  # attempt 2 removed its own folder too
    assert not storage.default_storage.exists(partial)
    assert storage.default_storage.exists(done.file_name)


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
def test_a_live_attempts_folder_is_kept(client_a, export_tmp):
    job = _job(client_a)
    services.export_claim(export_id=job.id)  # running under a live lease (another worker process)
    live = runner.workdir_for(job.id, 1)
    live.mkdir(parents=True)
    assert services.exports_clean_workdirs() == 0
    assert live.exists()


def _bytes(data: bytes):
    import io

    return io.BytesIO(data)


class WorkerKilled(BaseException):
    """What a kill -9 looks like from inside: the code after the send never runs."""


@pytest.mark.django_db
def test_a_delivery_attempt_is_logged_before_the_send_and_a_lost_one_is_recorded(client_a, monkeypatch):
    with Receiver() as receiver:
        delivery = enqueue_callback(client_a, receiver.url)
        real_post = webhooks.outbound.post_json
        seen_during_send = []

        def post_then_die(url, body, headers):
            seen_during_send.append(
                list(DeliveryAttempt.objects.filter(delivery=delivery).values_list("error", flat=True))
            )
            real_post(url, body, headers)  # the receiver gets it…
            raise WorkerKilled  # …and the worker dies before recording the outcome

        monkeypatch.setattr(webhooks.outbound, "post_json", post_then_die)
        with pytest.raises(WorkerKilled):
            webhooks.delivery_attempt(delivery_id=delivery.id)
        assert seen_during_send == [[webhooks.IN_FLIGHT]]  # the row existed before the send
        delivery.refresh_from_db()
        lease = delivery.next_attempt_at - delivery.last_attempt_at
        assert delivery.attempts == 1 and lease <= timedelta(seconds=60)

        # the lease runs out; the dispatcher finds it due again and a live worker delivers it
        monkeypatch.setattr(webhooks.outbound, "post_json", real_post)
        WebhookDelivery.objects.filter(pk=delivery.id).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1), dispatched_at=None
        )
        assert webhooks.deliveries_dispatch() == [delivery.id]
        webhooks.delivery_attempt(delivery_id=delivery.id)
        delivery.refresh_from_db()
        assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 2
        rows = list(
            DeliveryAttempt.objects.filter(delivery=delivery)
            .order_by("id")
            .values_list("error", "status_code")
        )
        assert rows == [(webhooks.LOST, None), ("", 200)]  # every counted attempt has its row
        assert len(receiver.requests) == 2  # at least once: the receiver de-duplicates on webhook-id
        assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
