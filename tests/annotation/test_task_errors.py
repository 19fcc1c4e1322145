"""The task ``error`` state: the attachment check the platform runs and the staff's platform
cancel set a pending task to error with Scale's error object in ``response``, release its leases
and committed spend, record an event and call the task back (``task.error``)."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotation import services
from annotation.models import Assignment, Task
from annotation.services import task_errors
from billing import services as billing
from billing.models import ClientCredit, ProjectBudget
from clients import services as client_services
from core import webhooks
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import Event, WebhookDelivery
from tests.annotation.factories import AnnotatorFactory, BoxProjectFactory, ProjectFactory
from tests.clients.factories import UserFactory
from tests.clients.receiver import Receiver, Reply
from tests.conftest import api_for_key
from tests.wakeups import intercept

pytestmark = pytest.mark.django_db


def png(width=4, height=3) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


@pytest.fixture(autouse=True)
def loopback(settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    settings.QUORUM_OUTBOUND_TIMEOUT_SECONDS = 5.0


def _image_task(client=None, *, url, callback=None, price=100, overlap=1):
    project = BoxProjectFactory(
        **({"client": client} if client else {}), price_per_task=price, overlap=overlap, max_overlap=overlap
    )
    item = {"params": {"attachment": url}}
    if callback:
        item["callback_url"] = callback
    [result] = services.task_bulk_create(client=project.client, actor=None, project=project, items=[item])
    return result.task


@pytest.mark.parametrize(
    ("reply", "status", "error", "entry"),
    [
        (Reply(status=404, body=b"gone"), 404, task_errors.DOWNLOAD_ERROR, {"statusCode": 404}),
        (Reply(status=403), 403, task_errors.DOWNLOAD_ERROR, {"statusCode": 403}),
        (
            Reply(body=b"<html>not an image</html>"),
            200,
            task_errors.PROCESS_ERROR,
            {"statusCode": 200, "message": "not an image Quorum can read (PNG, JPEG, GIF or WebP)"},
        ),
        (
            Reply(body=png()[:20]),  # a PNG cut off before its size
            200,
            task_errors.PROCESS_ERROR,
            {"statusCode": 200, "message": "image/png whose size cannot be read (truncated or corrupt)"},
        ),
    ],
)
def test_an_attachment_that_cannot_be_served_errors_the_task_with_scales_shape_and_calls_back(
    reply, status, error, entry
):
    with Receiver(default=reply) as source, Receiver() as callback:
        url = source.url + "frames/1.png"
        task = _image_task(url=url, callback=callback.url + "cb")
        result = services.attachment_check(task_id=task.pk)
        assert result.outcome == "error"
        task.refresh_from_db()
        assert task.status == Task.Status.ERROR and not task.released
        assert task.response == {"error": error, "attachments": [{"url": url, **entry}]}
        assert source.requests[0].method == "GET"
        delivery = WebhookDelivery.objects.get(dedupe_key=f"task:{task.pk}:error:callback")
        assert delivery.event_type == "task.error"
        assert webhooks.delivery_attempt(delivery_id=delivery.pk).status == "delivered"
        body = json.loads(callback.requests[0].body)
    assert set(body) == {"task", "response", "task_id", "status"}
    assert (body["status"], body["response"], body["task"]["status"]) == ("error", task.response, "error")
    assert Event.objects.filter(entity_id=str(task.pk), kind="task.error").count() == 1
    # Done: a second check (or a completion racing it) changes nothing and calls back once.
    assert services.attachment_check(task_id=task.pk).outcome == "skipped"
    assert WebhookDelivery.objects.filter(event_type="task.error").count() == 1


def test_a_readable_image_passes_and_a_flaky_host_leaves_the_task_pending():
    with Receiver(responses=[Reply(body=png(640, 480)), Reply(status=503), Reply(status=429)]) as source:
        task = _image_task(url=source.url + "ok.png")
        assert services.attachment_check(task_id=task.pk) == task_errors.AttachmentOutcome(
            "ok", "image/png 640x480"
        )
        assert services.attachment_check(task_id=task.pk).outcome == "transient"
        assert services.attachment_check(task_id=task.pk).outcome == "transient"
    task.refresh_from_db()
    assert task.status == Task.Status.PENDING and task.released
    assert not WebhookDelivery.objects.exists()


def test_a_private_attachment_address_is_never_fetched_and_errors_the_task(settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = False
    with Receiver() as source:
        task = _image_task(url=source.url + "x.png")
        result = services.attachment_check(task_id=task.pk)
        assert source.connections == 0
    assert result.outcome == "error"
    task.refresh_from_db()
    assert task.response["attachments"][0]["message"] == "forbidden_target"


def test_site_relative_attachments_are_read_from_storage():
    name = default_storage.save("attachments/check/ok.png", ContentFile(png()))
    ok = _image_task(url=default_storage.url(name))
    missing = _image_task(url="/media/attachments/check/missing.png")
    static = _image_task(url="/static/demo/street-01.png")
    assert services.attachment_check(task_id=ok.pk).outcome == "ok"
    assert services.attachment_check(task_id=static.pk).outcome == "ok"
    assert services.attachment_check(task_id=missing.pk).outcome == "error"
    missing.refresh_from_db()
    assert missing.response["attachments"] == [
        {"url": "/media/attachments/check/missing.png", "statusCode": 404}
    ]
    default_storage.delete(name)


def test_text_tasks_are_not_checked():
    project = ProjectFactory()
    [result] = services.task_bulk_create(
        client=project.client, actor=None, project=project, items=[{"params": {"attachment": "a sentence"}}]
    )
    assert services.attachment_check(task_id=result.task.pk).outcome == "skipped"
    assert services.attachment_checks_schedule([result.task]) == 0


def test_error_releases_live_leases_and_gives_the_committed_spend_back():
    with Receiver(default=Reply(status=404)) as source:
        task = _image_task(url=source.url + "x.png", overlap=2)
        billing.project_budget_set(client=task.client, project_id=task.project_id, limit=1000)
        annotator = AnnotatorFactory()
        claim = services.assignment_claim(annotator=annotator, project_id=task.project_id)
        assert claim.assignment.task_id == task.pk
        assert ProjectBudget.objects.get(project_id=task.project_id).committed == 100
        assert services.attachment_check(task_id=task.pk).outcome == "error"
    task.refresh_from_db()
    assert task.slots_taken == 0
    assert Assignment.objects.get(pk=claim.assignment.pk).status == Assignment.Status.RELEASED
    assert ProjectBudget.objects.get(project_id=task.project_id).committed == 0
    assert ClientCredit.objects.get(client=task.client).committed == 0
    with pytest.raises(Conflict):  # the annotator's old lease is gone: the answer is refused
        services.assignment_submit(
            annotator=annotator,
            assignment_id=claim.assignment.pk,
            claim_version=claim.assignment.claim_version,
            answer={"annotations": []},
        )


def test_staff_platform_cancel_through_the_api(client_a):
    task = _image_task(
        client_a, url="https://images.example.test/a.png", callback="https://hooks.example.test/cb"
    )
    staff = api_for_key(client_services.access_token_create(user=UserFactory(is_staff=True)).key)
    nobody = api_for_key(client_services.access_token_create(user=UserFactory()).key)
    assert (
        nobody.post(f"/api/v1/staff/tasks/{task.pk}/error", {"reason": "x"}, format="json").status_code == 403
    )
    bad = staff.post(f"/api/v1/staff/tasks/{task.pk}/error", {}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["details"]
    done = staff.post(f"/api/v1/staff/tasks/{task.pk}/error", {"reason": "copyrighted source"}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "error"
    assert done.json()["response"] == {"error": "The task was canceled by the platform: copyrighted source"}
    again = staff.post(f"/api/v1/staff/tasks/{task.pk}/error", {"reason": "again"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "task_not_pending"
    assert WebhookDelivery.objects.filter(event_type="task.error").count() == 1
    assert (
        staff.post("/api/v1/staff/tasks/not-a-task/error", {"reason": "x"}, format="json").status_code == 404
    )


def test_the_service_refuses_bad_input_and_finished_tasks():
    task = _image_task(url="https://images.example.test/a.png")
    with pytest.raises(ValidationFailed):
        services.task_platform_cancel(task_id=task.pk, actor=None, reason="  ")
    with pytest.raises(ValidationFailed):
        services.task_error(task_id=task.pk, response={"message": "no error key"}, actor=None, reason="x")
    with pytest.raises(NotFound):
        services.task_error(task_id="nope", response={"error": "x"}, actor=None, reason="x")
    Task.objects.filter(pk=task.pk).update(status=Task.Status.COMPLETED)
    with pytest.raises(Conflict):
        services.task_platform_cancel(task_id=task.pk, actor=None, reason="late")
    assert Task.objects.get(pk=task.pk).status == Task.Status.COMPLETED


def test_new_image_tasks_are_checked_after_commit_through_the_api(
    api_a, client_a, monkeypatch, settings, django_capture_on_commit_callbacks
):
    queued = []
    intercept(monkeypatch, "annotation.tasks.check_attachments", lambda ids: queued.append(ids))
    project = BoxProjectFactory(client=client_a)
    with django_capture_on_commit_callbacks(execute=True):
        created = api_a.post(
            "/api/v1/tasks/bulk",
            {
                "project": str(project.pk),
                "tasks": [{"params": {"attachment": f"https://img.example.test/{i}.png"}} for i in range(3)],
            },
            format="json",
        )
    assert created.status_code == 201
    assert queued == [[t["task_id"] for t in created.json()["tasks"]]]
    settings.QUORUM_CHECK_ATTACHMENTS = False
    with django_capture_on_commit_callbacks(execute=True):
        api_a.post(
            "/api/v1/tasks/bulk",
            {
                "project": str(project.pk),
                "tasks": [{"params": {"attachment": "https://img.example.test/9.png"}}],
            },
            format="json",
        )
    assert len(queued) == 1


def test_the_command_checks_pending_image_tasks():
    from django.core.management import call_command

    with Receiver(default=Reply(status=404)) as source:
        task = _image_task(url=source.url + "x.png")
        out = io.StringIO()
        call_command("check_attachments", "--project", str(task.project_id), stdout=out)
    assert "checked 1 tasks: 1 error" in out.getvalue()
    assert Task.objects.get(pk=task.pk).status == Task.Status.ERROR


def test_a_large_import_sends_one_check_message_which_a_worker_splits(
    api_a, client_a, monkeypatch, django_capture_on_commit_callbacks
):
    from annotation import tasks as worker_tasks
    from annotation.services.task_errors import CHECK_CHUNK

    sent = []
    intercept(monkeypatch, "annotation.tasks.check_attachments", lambda ids: sent.append(("check", ids)))
    intercept(
        monkeypatch, "annotation.tasks.check_attachments_split", lambda ids: sent.append(("split", ids))
    )
    project = BoxProjectFactory(client=client_a)
    items = [
        {"params": {"attachment": f"https://img.example.test/{i}.png"}} for i in range(CHECK_CHUNK * 2 + 1)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        created = api_a.post(
            "/api/v1/tasks/bulk", {"project": str(project.pk), "tasks": items}, format="json"
        )
    ids = [t["task_id"] for t in created.json()["tasks"]]
    assert sent == [("split", ids)]
    chunks = []
    monkeypatch.setattr(worker_tasks.check_attachments, "delay", chunks.append)
    assert worker_tasks.check_attachments_split(ids) == 3
    assert chunks == [ids[:CHECK_CHUNK], ids[CHECK_CHUNK : 2 * CHECK_CHUNK], ids[2 * CHECK_CHUNK :]]
